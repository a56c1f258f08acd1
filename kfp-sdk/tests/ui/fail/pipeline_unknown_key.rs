// A #[pipeline] key that only #[component] has. The body is correct.
use kfp_sdk::prelude::*;

#[component]
fn train(epochs: u32) -> f64 {
    f64::from(epochs)
}

#[pipeline(image = "python:3.12")]
fn training(#[default(3)] epochs: u32) -> ParamRef<f64> {
    train::task(&epochs).outputs.output.clone()
}

fn main() {}
