// Should pass: a user type named `str` (legal, if unwise). Today the generated
// `const NAME: &str` in the pipeline module means this `str`.
#![allow(non_camel_case_types, dead_code)]
use kfp_sdk::prelude::*;

struct str;

#[component]
fn step() {}

#[pipeline]
fn hello() {
    step::task();
}

fn main() {
    assert_eq!(hello::graph().unwrap().tasks.len(), 1);
}
