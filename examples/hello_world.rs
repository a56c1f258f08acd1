//! The smallest pipeline: a greeting built by a component from another crate
//! (`kfp_rs_examples::greet`), then printed by one defined here.
//!
//! ```text
//! cargo run --release --example hello_world -- compile            # Argo Workflow YAML
//! cargo run --release --example hello_world -- list               # both components are here
//! cargo run --release --example hello_world -- component-exec say --param message=hi \
//!     --output-param output=/tmp/said.txt                         # what a step's container runs
//! ```
use kfp_rs_examples::greet;
use kfp_sdk::prelude::*;

/// Prints a message and returns it unchanged.
#[component]
fn say(message: String) -> String {
    println!("{message}");
    message
}

/// Greets someone.
#[pipeline]
fn hello_world(#[default("world")] name: String) -> ParamRef<String> {
    let greeting = greet::task(name);
    say::task(&greeting.outputs.output).outputs.output.clone()
}

kfp_sdk::main!();
