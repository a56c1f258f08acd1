use kfp_sdk::dsl::when;
use kfp_sdk::prelude::*;

#[component]
fn train(model: Output<Model>) {
    let _ = model;
}

#[component]
fn deploy() {}

#[pipeline]
fn gate() {
    let trained = train::task();
    when(trained.outputs.model.eq("good"), || {
        deploy::task();
    });
}

fn main() {}
