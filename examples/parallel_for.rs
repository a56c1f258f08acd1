//! A hyperparameter sweep: train once per learning rate, at most two at a time, then pick
//! the best from the collected results (the way Katib is used with Kubeflow). Each
//! iteration returns two values, which the loop collects: its trial (a parameter, collected
//! into a list) and its model (an artifact, collected into a list of artifacts).
//!
//! ```text
//! cargo run --release --example parallel_for -- compile
//! cargo run --release --example parallel_for -- run -p 'learning_rates=[0.0001, 0.003, 0.1]'
//! ```
use kfp_sdk::dsl;
use kfp_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// One trial of the sweep.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Trial {
    learning_rate: f64,
    score: f64,
}
impl ParamValue for Trial {}

/// "Trains" with a learning rate: the score peaks at 0.01 (a stand-in for a real model).
/// The model is a small JSON file; its metadata carries the learning rate and the score.
#[component]
fn train(learning_rate: f64, epochs: u32, model: Output<Model>) -> Result<Trial, String> {
    if learning_rate.is_nan() || learning_rate <= 0.0 {
        return Err(format!(
            "the learning rate must be positive, got {learning_rate}"
        ));
    }
    let distance = (learning_rate.log10() + 2.0).abs();
    let score = (1.0 - 0.2 * distance) * (1.0 - 1.0 / (1.0 + f64::from(epochs)));
    let weights = serde_json::json!({
        "learning_rate": learning_rate,
        "epochs": epochs,
        "weights": [score, 1.0 - score],
    });
    std::fs::write(model.path(), weights.to_string())
        .map_err(|e| format!("writing the model: {e}"))?;
    model.set_metadata("learning_rate", learning_rate);
    model.set_metadata("score", score);
    Ok(Trial {
        learning_rate,
        score,
    })
}

/// The best trial's learning rate; its model becomes `best`.
///
/// `trials` is in item order; `models` holds one model per iteration in an order that is
/// unspecified on Argo, so each model is found by the learning rate in its metadata.
#[component]
fn pick_best(
    trials: Vec<Trial>,
    models: Vec<Input<Model>>,
    best: Output<Model>,
) -> Result<f64, String> {
    let winner = trials
        .iter()
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .ok_or_else(|| "no trials".to_owned())?;
    let model = models
        .iter()
        .find(|m| {
            m.metadata().get("learning_rate").and_then(|v| v.as_f64()) == Some(winner.learning_rate)
        })
        .ok_or_else(|| format!("no model for learning rate {}", winner.learning_rate))?;
    std::fs::copy(model.path(), best.path()).map_err(|e| format!("copying the model: {e}"))?;
    for (key, value) in model.metadata() {
        best.set_metadata(key.clone(), value.clone());
    }
    best.set_metadata("candidates", models.len());
    Ok(winner.learning_rate)
}

/// Trains once per learning rate, two at a time, and returns the best one.
#[pipeline(name = "parallel-for")]
fn sweep(
    #[default(vec![0.0001, 0.001, 0.01, 0.1, 1.0])] learning_rates: Vec<f64>,
    #[default(10)] epochs: u32,
) -> ParamRef<f64> {
    let (trials, models) = dsl::parallel_for(&learning_rates)
        .parallelism(2)
        .each(|lr| {
            let trained = train::task(lr, &epochs);
            (
                trained.outputs.output.clone(),
                trained.outputs.model.clone(),
            )
        });
    pick_best::task(trials, models).outputs.output.clone()
}

kfp_sdk::main!();
