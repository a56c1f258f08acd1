// A required input left out: `train::task` takes data and epochs.
use kfp_sdk::prelude::*;

#[component]
fn load(data: Output<Dataset>) {
    let _ = data;
}

#[component]
fn train(data: Input<Dataset>, epochs: u32) -> f64 {
    let _ = (data, epochs);
    0.5
}

#[pipeline]
fn wiring() {
    let loaded = load::task();
    train::task(&loaded.outputs.data);
}

fn main() {}
