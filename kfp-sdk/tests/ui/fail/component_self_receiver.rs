// A component written as a method (it takes `self`).
use kfp_sdk::prelude::*;

struct Trainer;

impl Trainer {
    #[component]
    fn train(&self, epochs: u32) -> f64 {
        f64::from(epochs)
    }
}

fn main() {}
