//! The default name `#[pipeline]` gives a pipeline (kfp-macros' copy of the kebab-case rule)
//! is what `kfp_sdk::names::kebab` makes of the function's name: the two copies of the rule
//! cannot drift apart.
#![allow(non_snake_case, mixed_script_confusables, uncommon_codepoints)]

use kfp_sdk::names::kebab;
use kfp_sdk::prelude::*;

#[component]
fn step() {}

#[pipeline]
fn add_numbers() {
    step::task();
}

#[pipeline]
fn Train_CNN__v2() {
    step::task();
}

#[pipeline]
fn __leading_and_trailing__() {
    step::task();
}

#[pipeline]
fn données_2() {
    step::task();
}

#[pipeline]
fn r#type() {
    step::task();
}

#[test]
fn the_macro_names_pipelines_as_kebab_does() {
    let pairs = [
        (add_numbers::NAME, "add_numbers"),
        (Train_CNN__v2::NAME, "Train_CNN__v2"),
        (__leading_and_trailing__::NAME, "__leading_and_trailing__"),
        (données_2::NAME, "données_2"),
        // The macro sees a raw identifier with its `r#`.
        (r#type::NAME, "r#type"),
    ];
    for (from_macro, function) in pairs {
        assert_eq!(from_macro, kebab(function), "fn {function}");
    }
    // And independently of both copies:
    assert_eq!(Train_CNN__v2::NAME, "train-cnn-v2");
    assert_eq!(données_2::NAME, "donn-es-2");
    assert_eq!(__leading_and_trailing__::NAME, "leading-and-trailing");
}
