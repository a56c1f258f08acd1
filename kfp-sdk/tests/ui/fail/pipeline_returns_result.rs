// A pipeline returning a `Result`.
use kfp_sdk::prelude::*;

#[component]
fn score() -> f64 {
    0.5
}

#[pipeline]
fn training() -> Result<ParamRef<f64>, String> {
    Ok(score::task().outputs.output.clone())
}

fn main() {}
