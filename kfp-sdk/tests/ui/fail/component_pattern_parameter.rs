// A destructuring pattern as a component parameter.
use kfp_sdk::prelude::*;

#[component]
fn add((a, b): (u32, u32)) -> u32 {
    a + b
}

fn main() {}
