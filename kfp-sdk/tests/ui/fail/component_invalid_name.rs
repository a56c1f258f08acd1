// A component name that is not letters, digits, '_' and '-' starting with a letter.
use kfp_sdk::prelude::*;

#[component(name = "1bad name")]
fn step() {}

fn main() {}
