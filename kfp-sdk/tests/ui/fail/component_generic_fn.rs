// A generic component.
use kfp_sdk::prelude::*;

#[component]
fn echo<T: ParamValue>(value: T) -> T {
    value
}

fn main() {}
