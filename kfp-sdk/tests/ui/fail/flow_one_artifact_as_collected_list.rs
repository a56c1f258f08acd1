use kfp_sdk::prelude::*;

#[component]
fn train(lr: f64, model: Output<Model>) {
    let _ = (lr, model);
}

#[component]
fn pick(models: Vec<Input<Model>>) {
    let _ = models;
}

#[pipeline]
fn once(#[default(0.1)] lr: f64) {
    let model = train::task(lr).outputs.model.clone();
    pick::task(model);
}

fn main() {}
