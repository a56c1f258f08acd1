// A misspelled #[component] key. The pipeline using the component is correct.
use kfp_sdk::prelude::*;

#[component(retrys = 3)]
fn flaky(attempt: u32) -> bool {
    attempt > 2
}

#[pipeline]
fn training() {
    flaky::task(1);
}

fn main() {}
