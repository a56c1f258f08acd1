// #[default(..)] on an artifact input of a pipeline.
use kfp_sdk::prelude::*;

#[component]
fn profile(data: Input<Dataset>) {
    let _ = data;
}

#[pipeline]
fn training(#[default("gs://bucket/data.csv")] data: Input<Dataset>
) {
    profile::task(data);
}

fn main() {}
