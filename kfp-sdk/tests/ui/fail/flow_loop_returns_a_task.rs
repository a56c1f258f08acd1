use kfp_sdk::dsl::parallel_for;
use kfp_sdk::prelude::*;

#[component]
fn train(lr: f64) -> f64 {
    lr
}

#[pipeline]
fn sweep(#[default(vec![0.1, 0.2])] rates: Vec<f64>) {
    let _ = parallel_for(&rates).each(|lr| train::task(lr));
}

fn main() {}
