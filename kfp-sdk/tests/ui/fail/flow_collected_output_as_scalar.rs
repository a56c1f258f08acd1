use kfp_sdk::dsl::parallel_for;
use kfp_sdk::prelude::*;

#[component]
fn score(lr: f64) -> f64 {
    lr
}

#[component]
fn report(best: f64) {
    let _ = best;
}

#[pipeline]
fn sweep(#[default(vec![0.1, 0.2])] rates: Vec<f64>) {
    let scores = parallel_for(&rates).each(|lr| score::task(lr).outputs.output.clone());
    report::task(scores);
}

fn main() {}
