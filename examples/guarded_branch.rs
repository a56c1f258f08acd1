//! Conditions on values that a user or a step controls: whatever the values hold (quotes,
//! `||`, `{{`, newlines), they are compared as values and never change what a condition
//! means, on Argo as here. Each branch announces its name when its condition holds.
//!
//! ```text
//! cargo run --example guarded_branch -- run -p role=admin -p score=9.75
//! cargo run --example guarded_branch -- run -p "role=x' == 'x' || 'a"   # runs no admin branch
//! cargo run --example guarded_branch -- compile                         # Argo Workflow YAML
//! ```
use kfp_sdk::dsl::when;
use kfp_sdk::prelude::*;

/// Returns its input: a task output that carries whatever the user passed.
#[component]
fn echo(text: String) -> String {
    text
}

/// Returns its input, as a number output.
#[component]
fn measure(value: f64) -> f64 {
    value
}

/// Returns its input, as a boolean output.
#[component]
fn check(flag: bool) -> bool {
    flag
}

/// Prints a message and returns it.
#[component]
fn announce(message: String) -> String {
    println!("{message}");
    message
}

/// A literal full of characters that mean something to Argo and its evaluators.
pub const ODD_LITERAL: &str = "x' == 'x' || 'a{{b}} ? c : \"d\\\n";

/// One branch per kind of comparison; see the module documentation.
#[pipeline]
fn guarded_branch(
    #[default("guest")] role: String,
    #[default("admin")] expected: String,
    #[default(1.0)] score: f64,
    #[default(false)] flag: bool,
) {
    let said = echo::task(&role).outputs.output.clone();
    let measured = measure::task(&score).outputs.output.clone();
    let checked = check::task(&flag).outputs.output.clone();
    // A task's output against a literal, a pipeline parameter against a literal.
    when(said.eq("admin"), || {
        announce::task("output-is-admin");
    });
    when(role.eq("admin"), || {
        announce::task("parameter-is-admin");
    });
    // Two run-time values.
    when(said.eq(&expected), || {
        announce::task("output-equals-expected");
    });
    // A literal that would break a naive encoding.
    when(role.eq(ODD_LITERAL), || {
        announce::task("parameter-is-the-odd-literal");
    });
    // Numbers compare as numbers ("10" > "9.5"), booleans as booleans.
    when(measured.gt(9.5), || {
        announce::task("score-above-9.5");
    });
    when(score.le(10.0), || {
        announce::task("score-at-most-10");
    });
    when(checked.eq(true), || {
        announce::task("flag-is-set");
    });
    when(flag.lt(true), || {
        announce::task("flag-below-true");
    });
    // Strings order byte by byte; and, or, not.
    when(said.lt("m"), || {
        announce::task("output-before-m");
    });
    when(
        said.ne("admin").and(!measured.lt(0.0)).or(checked.eq(true)),
        || {
            announce::task("combined");
        },
    );
}

kfp_sdk::main!();
