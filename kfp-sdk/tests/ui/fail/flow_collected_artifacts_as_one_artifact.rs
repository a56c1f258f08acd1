use kfp_sdk::dsl::parallel_for;
use kfp_sdk::prelude::*;

#[component]
fn train(lr: f64, model: Output<Model>) {
    let _ = (lr, model);
}

#[component]
fn deploy(model: Input<Model>) {
    let _ = model;
}

#[pipeline]
fn sweep(#[default(vec![0.1, 0.2])] rates: Vec<f64>) {
    let models = parallel_for(&rates).each(|lr| train::task(lr).outputs.model.clone());
    deploy::task(models);
}

fn main() {}
