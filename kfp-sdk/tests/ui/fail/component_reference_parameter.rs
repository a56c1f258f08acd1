// A borrowed `&str` component input.
use kfp_sdk::prelude::*;

#[component]
fn shout(text: &str) -> String {
    text.to_uppercase()
}

fn main() {}
