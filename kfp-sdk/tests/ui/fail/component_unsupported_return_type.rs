// A component returning a type that is not a parameter value.
use kfp_sdk::prelude::*;

#[component]
fn open() -> std::fs::File {
    unimplemented!()
}

fn main() {}
