// A component written as an associated function (no `self`) inside an impl block.
use kfp_sdk::prelude::*;

struct Trainer;

impl Trainer {
    #[component]
    fn train(epochs: u32) -> f64 {
        f64::from(epochs)
    }
}

fn main() {}
