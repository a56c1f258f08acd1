//! A parameter passed through three tasks, and a pipeline output.
//!
//! ```text
//! cargo run --release --example add_numbers -- compile       # Argo Workflow YAML
//! cargo run --release --example add_numbers -- list
//! ```
use kfp_sdk::prelude::*;

/// Adds two numbers.
#[component]
fn add(x: f64, y: f64) -> f64 {
    x + y
}

/// Adds `a` and `b`, then adds `b` twice more: a + 3b.
#[pipeline]
fn add_numbers(#[default(1.0)] a: f64, #[default(2.5)] b: f64) -> ParamRef<f64> {
    let first = add::task(a, &b);
    let second = add::task(&first.outputs.output, &b);
    let third = add::task(&second.outputs.output, b).display_name("Final sum");
    third.outputs.output.clone()
}

kfp_sdk::main!();
