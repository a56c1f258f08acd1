use kfp_sdk::dsl::parallel_for;
use kfp_sdk::prelude::*;

#[component]
fn prepare(part: i64, data: Output<Dataset>) {
    let _ = (part, data);
}

#[component]
fn pick(models: Vec<Input<Model>>) {
    let _ = models;
}

#[pipeline]
fn parts() {
    let datasets = parallel_for(0..4).each(|part| prepare::task(part).outputs.data.clone());
    pick::task(datasets);
}

fn main() {}
