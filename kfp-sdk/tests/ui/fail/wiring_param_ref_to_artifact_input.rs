// A parameter (`ParamRef<u32>`) given to an artifact input.
use kfp_sdk::prelude::*;

#[component]
fn evaluate(model: Input<Model>) -> f64 {
    let _ = model;
    0.5
}

#[pipeline]
fn wiring(#[default(3)] epochs: u32) {
    evaluate::task(epochs);
}

fn main() {}
