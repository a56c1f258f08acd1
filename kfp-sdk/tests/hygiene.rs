//! The code `#[component]`, `#[pipeline]` and `#[derive(ComponentOutputs)]` generate must not
//! depend on what the user's module names things: every path it writes is absolute
//! (`::core::result::Result`, `::std::sync::Arc`, ...).
//!
//! This file shadows the std prelude (`Result`, `Ok`, `Option`, `String`, `Vec`, `Box`, ...)
//! and the names of the generated items (`spec`, `task`, `Outputs`) at the top level, where the
//! generated modules glob-import them (`use super::*`), then uses every macro. It compiles
//! under `deny(warnings)` only if the expansions are hygienic.
//!
//! Known gaps, kept as must-pass cases in `tests/ui/pending/` until the macros are fixed: a
//! user type named `Outputs` (or a `super::` path) in a component's signature, and a default
//! that names a user `const NAME`.
#![deny(warnings)]

// The shadowing items. Unit structs take both the type and the value namespace, so a bare
// `Result<..>`, `Ok(..)`, `None` or `String::from(..)` in generated code would not compile.
struct Result;
struct Ok;
struct Err;
struct Option;
struct Some;
struct None;
struct String;
struct Vec;
struct Box;
struct Arc;
struct Outputs;
fn spec() {}
fn task() {}

use kfp_sdk::prelude::*;
use kfp_sdk::{IoType, ParamType};

/// Named outputs, one of them a list of strings.
#[derive(ComponentOutputs)]
struct Scores {
    accuracy: f64,
    labels: ::std::vec::Vec<::std::string::String>,
}

/// Writes a dataset.
#[component(
    image = "rust:1.95",
    cpu_request = "1",
    memory_limit = "1Gi",
    gpus = 1,
    retries = 2,
    env(MODE = "test"),
    cache = false
)]
fn load(rows: u32, prefix: ::std::string::String, data: Output<Dataset>) {
    let _ = (rows, prefix, data);
}

/// Trains a model; fallible.
#[component]
fn train(
    data: Input<Dataset>,
    epochs: u32,
    tags: ::std::vec::Vec<::std::string::String>,
    model: Output<Model>,
) -> ::core::result::Result<f64, ::std::string::String> {
    let _ = (data, tags, model);
    ::core::result::Result::Ok(f64::from(epochs))
}

/// Evaluates; returns named outputs, fallible with a boxed error.
#[component]
fn evaluate(
    model: Input<Model>,
    loss: f64,
) -> ::core::result::Result<Scores, ::std::boxed::Box<dyn ::std::error::Error>> {
    let _ = model;
    ::core::result::Result::Ok(Scores {
        accuracy: 1.0 - loss,
        labels: ::std::vec![],
    })
}

/// Returns nothing.
#[component]
fn notify(message: ::std::string::String) {
    let _ = message;
}

/// Trains on the data it is given.
#[pipeline]
fn inner(data: Input<Dataset>, #[default(2)] epochs: u32) -> ParamRef<f64> {
    let tags: ::std::vec::Vec<::std::string::String> = ::std::vec![];
    let trained = train::task(data, epochs, tags);
    evaluate::task(&trained.outputs.model, &trained.outputs.output)
        .outputs
        .accuracy
        .clone()
}

/// Loads, trains through `inner`, evaluates.
#[pipeline(name = "hygiene", description = "Shadowed names everywhere.")]
fn hygiene(
    #[default(10)] rows: u32,
    #[default("row")] prefix: ::std::string::String,
    #[default(::std::vec![::std::string::String::from("a")])] tags: ::std::vec::Vec<
        ::std::string::String,
    >,
) -> ParamRef<f64> {
    let loaded = load::task(rows, prefix);
    let trained = train::task(&loaded.outputs.data, 3, tags);
    let scores = evaluate::task(&trained.outputs.model, 0.5);
    notify::task("done").after(&scores);
    let nested = inner::task(&loaded.outputs.data, 4);
    let _: &ParamRef<::std::vec::Vec<::std::string::String>> = &scores.outputs.labels;
    nested.outputs.output.clone()
}

#[test]
fn the_macros_expand_hygienically() {
    let graph = hygiene::graph().unwrap();
    assert_eq!(hygiene::NAME, "hygiene");
    let names: ::std::vec::Vec<&str> = graph.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["load", "train", "evaluate", "notify", "inner"]);
    assert_eq!(graph.inputs.len(), 3);
    assert_eq!(graph.inputs[2].ty, IoType::Parameter(ParamType::List));
    let load = load::spec();
    assert_eq!(load.config.resources.gpus, ::core::option::Option::Some(1));
    assert_eq!(load.config.env["MODE"], "test");
    assert_eq!(evaluate::spec().outputs.len(), 2);
    // The shadowing items are still what the user declared.
    let _: (
        Result,
        Ok,
        Err,
        Option,
        Some,
        None,
        String,
        Vec,
        Box,
        Arc,
        Outputs,
    ) = (
        Result, Ok, Err, Option, Some, None, String, Vec, Box, Arc, Outputs,
    );
    spec();
    task();
}
