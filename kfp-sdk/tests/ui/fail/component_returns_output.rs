// Returning an artifact instead of taking an `Output<Model>` parameter.
use kfp_sdk::prelude::*;

#[component]
fn train() -> Output<Model> {
    unimplemented!()
}

fn main() {}
