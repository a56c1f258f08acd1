// A string where #[component] expects an integer.
use kfp_sdk::prelude::*;

#[component(retries = "3")]
fn flaky() {}

fn main() {}
