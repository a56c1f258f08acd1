// A pipeline used as one step of another pipeline, with parameter and artifact inputs.
use kfp_sdk::prelude::*;

#[component]
fn load(rows: u32, data: Output<Dataset>) {
    let _ = (rows, data);
}

#[component]
fn train(data: Input<Dataset>, epochs: u32, model: Output<Model>) -> f64 {
    let _ = (data, epochs, model);
    0.5
}

/// Trains on a dataset given by the caller.
#[pipeline]
fn inner(data: Input<Dataset>, #[default(3)] epochs: u32) -> ParamRef<f64> {
    train::task(data, epochs).outputs.output.clone()
}

#[pipeline(
    name = "outer-pipeline",
    description = "Loads data, then runs `inner` twice."
)]
fn outer(#[default(100)] rows: u32) -> ParamRef<f64> {
    let loaded = load::task(rows);
    let first = inner::task(&loaded.outputs.data, 5);
    let second = inner::task(&loaded.outputs.data, 10u32).name("again");
    let _ = &first.outputs.output;
    second.outputs.output.clone()
}

fn main() {
    assert_eq!(outer::NAME, "outer-pipeline");
    let graph = outer::graph().unwrap();
    let names: Vec<&str> = graph.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["load", "inner", "again"]);
    assert!(matches!(
        graph.tasks[1].executable,
        kfp_sdk::graph::Executable::Pipeline(_)
    ));
    assert_eq!(
        graph.description.as_deref(),
        Some("Loads data, then runs `inner` twice.")
    );
}
