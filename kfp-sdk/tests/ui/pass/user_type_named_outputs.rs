// Should pass: a user type named `Outputs`, as the return type of one component and an input
// of another. Today `Outputs` in the signature means the generated `evaluate::Outputs`.
use kfp_sdk::prelude::*;

#[derive(ComponentOutputs)]
struct Outputs {
    accuracy: f64,
}

#[component]
fn evaluate() -> Outputs {
    Outputs { accuracy: 1.0 }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Settings {
    level: u32,
}

impl ParamValue for Settings {}

#[component]
fn configure(settings: Settings) -> f64 {
    f64::from(settings.level)
}

#[pipeline]
fn outputs_named_outputs() -> ParamRef<f64> {
    configure::task(Settings { level: 1 });
    evaluate::task().outputs.accuracy.clone()
}

fn main() {
    let graph = outputs_named_outputs::graph().unwrap();
    assert_eq!(graph.tasks.len(), 2);
}
