// A `String` constant given to a `u32` input.
use kfp_sdk::prelude::*;

#[component]
fn repeat(times: u32) {
    let _ = times;
}

#[pipeline]
fn wiring() {
    repeat::task(String::from("3"));
}

fn main() {}
