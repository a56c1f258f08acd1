// A `Model` artifact output wired into a `Dataset` input.
use kfp_sdk::prelude::*;

#[component]
fn train(model: Output<Model>) {
    let _ = model;
}

#[component]
fn profile(data: Input<Dataset>) {
    let _ = data;
}

#[pipeline]
fn wiring() {
    let trained = train::task();
    profile::task(&trained.outputs.model);
}

fn main() {}
