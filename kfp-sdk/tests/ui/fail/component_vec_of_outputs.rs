use kfp_sdk::prelude::*;

#[component]
fn split(data: Input<Dataset>, parts: Vec<Output<Dataset>>) {
    let _ = (data, parts);
}

fn main() {}
