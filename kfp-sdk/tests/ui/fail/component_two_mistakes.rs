// Two independent mistakes in one component, one in the attribute and one in the signature:
// both are reported.
use kfp_sdk::prelude::*;

#[component(retrys = 3)]
fn shout(text: &str) -> String {
    text.to_uppercase()
}

fn main() {}
