// A struct of named outputs, and fallible components with `Box<dyn Error>` and `String` errors.
use kfp_sdk::prelude::*;

/// Two scores.
#[derive(ComponentOutputs)]
struct Scores {
    accuracy: f64,
    loss: f64,
}

#[component]
fn evaluate(model: Input<Model>) -> Result<Scores, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(model.path())?;
    Ok(Scores {
        accuracy: text.len() as f64,
        loss: 0.0,
    })
}

#[component]
fn parse(text: String) -> Result<f64, String> {
    text.parse()
        .map_err(|e: std::num::ParseFloatError| e.to_string())
}

#[component]
fn check(text: String) -> Result<(), String> {
    let _ = text;
    Ok(())
}

#[component]
fn train(model: Output<Model>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    std::fs::write(model.path(), "weights")?;
    Ok(())
}

#[component]
fn combine(accuracy: f64, loss: f64, parsed: f64) -> f64 {
    accuracy - loss + parsed
}

#[pipeline]
fn named_outputs() -> ParamRef<f64> {
    let trained = train::task();
    let scores = evaluate::task(&trained.outputs.model);
    let parsed = parse::task("0.5");
    check::task("ok").after(&parsed);
    let combined = combine::task(
        &scores.outputs.accuracy,
        &scores.outputs.loss,
        &parsed.outputs.output,
    );
    combined.outputs.output.clone()
}

fn main() {
    let graph = named_outputs::graph().unwrap();
    let names: Vec<&str> = graph.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["train", "evaluate", "parse", "check", "combine"]);
    let outputs: Vec<String> = <Scores as ComponentReturn>::output_specs()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(outputs, ["accuracy", "loss"]);
}
