// An `Output<Model>` parameter on a pipeline.
use kfp_sdk::prelude::*;

#[pipeline]
fn training(model: Output<Model>) {
    let _ = model;
}

fn main() {}
