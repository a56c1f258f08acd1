//! A hyperparameter sweep: train once per learning rate, at most two at a time, then pick
//! the best from the collected results (the way Katib is used with Kubeflow).
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
#[component]
fn train(learning_rate: f64, epochs: u32) -> Result<Trial, String> {
    if learning_rate.is_nan() || learning_rate <= 0.0 {
        return Err(format!(
            "the learning rate must be positive, got {learning_rate}"
        ));
    }
    let distance = (learning_rate.log10() + 2.0).abs();
    let score = (1.0 - 0.2 * distance) * (1.0 - 1.0 / (1.0 + f64::from(epochs)));
    Ok(Trial {
        learning_rate,
        score,
    })
}

/// The trial with the best score.
#[component]
fn pick_best(trials: Vec<Trial>) -> Result<f64, String> {
    trials
        .iter()
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .map(|best| best.learning_rate)
        .ok_or_else(|| "no trials".to_owned())
}

/// Trains once per learning rate, two at a time, and returns the best one.
#[pipeline(name = "parallel-for")]
fn sweep(
    #[default(vec![0.0001, 0.001, 0.01, 0.1, 1.0])] learning_rates: Vec<f64>,
    #[default(10)] epochs: u32,
) -> ParamRef<f64> {
    let trials = dsl::parallel_for(&learning_rates)
        .parallelism(2)
        .each(|lr| train::task(lr, &epochs).outputs.output.clone());
    pick_best::task(trials).outputs.output.clone()
}

kfp_sdk::main!();
