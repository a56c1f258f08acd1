// Every kind of parameter: scalars, a list, and a serde struct, as component inputs and
// outputs and as pipeline parameters with and without defaults.
use kfp_sdk::prelude::*;
use kfp_sdk::{IoType, ParamType};

#[derive(serde::Serialize, serde::Deserialize)]
struct Schedule {
    warmup_epochs: u32,
    peak_lr: f64,
}

impl kfp_sdk::ParamValue for Schedule {}

#[component]
fn everything(
    name: String,
    verbose: bool,
    seed: i64,
    level: u8,
    ratio: f32,
    rate: f64,
    tags: Vec<String>,
    schedule: Schedule,
) -> Schedule {
    let _ = (name, verbose, seed, level, ratio, rate, tags);
    schedule
}

#[component]
fn list() -> Vec<String> {
    vec!["a".to_owned()]
}

#[pipeline]
fn parameter_kinds(
    name: String,
    #[default(true)] verbose: bool,
    #[default(-7)] seed: i64,
    #[default(3)] level: u8,
    #[default(0.5)] ratio: f32,
    #[default(0.25)] rate: f64,
    #[default(vec!["x".to_owned(), "y".to_owned()])] tags: Vec<String>,
    #[default(Schedule { warmup_epochs: 2, peak_lr: 0.1 })] schedule: Schedule,
) -> ParamRef<Schedule> {
    let first = everything::task(name, verbose, seed, level, ratio, rate, tags, schedule);
    let listed = list::task();
    // Constants: a `&str` for a `String`, plain literals for the rest.
    let second = everything::task(
        "constant",
        false,
        42,
        7,
        1.5,
        2.5,
        &listed.outputs.output,
        &first.outputs.output,
    );
    second.outputs.output.clone()
}

fn main() {
    let graph = parameter_kinds::graph().unwrap();
    let types: Vec<IoType> = graph.inputs.iter().map(|i| i.ty.clone()).collect();
    use ParamType::*;
    let expected = [
        String, Boolean, Integer, Integer, Double, Double, List, Struct,
    ];
    assert_eq!(types, expected.map(IoType::Parameter));
    assert!(graph.inputs[0].default.is_none());
    assert_eq!(
        graph.inputs[7].default,
        Some(serde_json::json!({"warmup_epochs": 2, "peak_lr": 0.1}))
    );
    assert_eq!(graph.tasks.len(), 3);
    assert_eq!(graph.outputs.len(), 1);
}
