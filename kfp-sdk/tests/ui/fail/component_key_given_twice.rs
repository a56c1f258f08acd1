// The same #[component] key given twice.
use kfp_sdk::prelude::*;

#[component(retries = 2, image = "python:3.12", retries = 3)]
fn flaky() {}

fn main() {}
