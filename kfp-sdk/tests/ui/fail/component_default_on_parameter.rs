// #[default(..)] on a component parameter (only pipeline parameters have defaults).
use kfp_sdk::prelude::*;

#[component]
fn train(#[default(10)] epochs: u32) -> f64 {
    f64::from(epochs)
}

fn main() {}
