// ComponentOutputs on an enum.
use kfp_sdk::prelude::*;

#[derive(ComponentOutputs)]
enum Verdict {
    Pass,
    Fail,
}

fn main() {}
