use kfp_sdk::dsl::parallel_for;
use kfp_sdk::prelude::*;

#[component]
fn square(x: f64) -> f64 {
    x * x
}

#[pipeline]
fn sweep(#[default(2.0)] x: f64) {
    parallel_for(&x).each(|item| {
        square::task(item);
    });
}

fn main() {}
