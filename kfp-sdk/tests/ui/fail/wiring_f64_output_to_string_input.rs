// An `f64` output wired into a `String` input.
use kfp_sdk::prelude::*;

#[component]
fn score() -> f64 {
    0.5
}

#[component]
fn report(text: String) {
    let _ = text;
}

#[pipeline]
fn wiring() {
    let scored = score::task();
    report::task(&scored.outputs.output);
}

fn main() {}
