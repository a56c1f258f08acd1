// A named output whose type is not a parameter value.
use kfp_sdk::prelude::*;

#[derive(ComponentOutputs)]
struct Opened {
    count: u64,
    file: std::fs::File,
}

fn main() {}
