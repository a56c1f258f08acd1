//! Components shared by the examples. They live in this library crate, not in the example
//! binaries, to show that a component defined in one crate registers itself in every
//! binary that links the crate: `hello_world` runs `greet` inside its steps by name.
use kfp_sdk::prelude::*;

/// Builds a greeting for `name`.
#[component]
pub fn greet(name: String) -> String {
    format!("Hello, {name}!")
}
