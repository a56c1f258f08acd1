// An `impl Trait` component input.
use kfp_sdk::prelude::*;

#[component]
fn shout(text: impl Into<String>) -> String {
    text.into().to_uppercase()
}

fn main() {}
