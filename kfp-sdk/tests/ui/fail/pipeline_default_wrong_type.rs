// A default of the wrong type.
use kfp_sdk::prelude::*;

#[component]
fn train(epochs: u32) {
    let _ = epochs;
}

#[pipeline]
fn training(#[default("x")] epochs: u32) {
    train::task(epochs);
}

fn main() {}
