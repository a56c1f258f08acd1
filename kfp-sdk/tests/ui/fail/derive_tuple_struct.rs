// ComponentOutputs on a tuple struct.
use kfp_sdk::prelude::*;

#[derive(ComponentOutputs)]
struct Scores(f64, f64);

fn main() {}
