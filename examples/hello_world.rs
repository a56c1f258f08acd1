//! One component, one task: the smallest pipeline.
//!
//! ```text
//! cargo run --release --example hello_world -- compile            # Argo Workflow YAML
//! cargo run --release --example hello_world -- component-exec say --param message=hi \
//!     --output-param output=/tmp/said.txt                         # what a step's container runs
//! ```
use kfp_sdk::prelude::*;

/// Prints a message and returns it unchanged.
#[component]
fn say(message: String) -> String {
    println!("{message}");
    message
}

/// Says hello.
#[pipeline]
fn hello_world(#[default("Hello, world!")] message: String) -> ParamRef<String> {
    say::task(message).outputs.output.clone()
}

kfp_sdk::main!();
