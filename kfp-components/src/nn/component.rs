//! The pipeline components: [`train_cnn()`](fn@train_cnn) and [`evaluate()`](fn@evaluate).
//!
//! `train_cnn` reads a Caltech101 Dataset artifact, trains the named architecture with the
//! hyperparameters given as a JSON object of [`TrainConfig`] fields (missing fields take the
//! benchmark recipe W3's defaults; `{}` is W3 itself), and writes:
//!
//! - the **Model** artifact, a folder: `model.json` + `model.safetensors` (read back with
//!   `nn::io::load_model`), `model.onnx` (float ONNX, BatchNorm folded), `classes.json`;
//!   metadata `architecture`, `input_size`, `num_classes`, `parameters`, `format`;
//! - the **Metrics** artifact, a folder: `metrics.json` (test split), `history.json`,
//!   `curves.svg`, `confusion.png`; metadata `top1`, `top5`, `mean_per_class_accuracy`,
//!   `loss`, `epochs`, `best_epoch` (numbers the Kubeflow UI shows);
//! - outputs `top1` and `mean_per_class` as parameters, for conditions downstream.
//!
//! `evaluate` runs a Model artifact on a Dataset artifact's test split and writes a
//! ClassificationMetrics artifact (folder: `metrics.json`, `confusion.png`), with
//! Kubeflow's `confusionMatrix` metadata (`{"struct": {"annotationSpecs": [...], "rows":
//! [...]}}`) so the UI draws the matrix.
//!
//! In a pipeline:
//!
//! ```
//! use kfp_components::caltech101::load_caltech101;
//! use kfp_components::nn::component::{evaluate, train_cnn};
//! use kfp_sdk::prelude::*;
//!
//! #[pipeline]
//! fn caltech() {
//!     let data = load_caltech101::task(
//!         "/data/101_ObjectCategories.tar.gz", 72, "stretch", "bilinear",
//!         0.2, 0.0, 0, 0, 0, Vec::<String>::new(), false, "skip",
//!     );
//!     let trained = train_cnn::task(&data.outputs.dataset, "caltech-s", r#"{"epochs": 30}"#);
//!     evaluate::task(&trained.outputs.model, &data.outputs.dataset);
//! }
//! # fn main() { assert_eq!(caltech::graph().unwrap().tasks.len(), 3); }
//! ```
use std::path::{Path, PathBuf};

use kfp_sdk::prelude::*;

use super::data::ImageDataset;
use super::error::NnError;
use super::io;
use super::metrics::ClassificationMetrics;
use super::onnx::{self, ExportOptions};
use super::train::{TrainConfig, TrainOptions, evaluate_indices, train};

/// The figures a [`train_cnn()`](fn@train_cnn) step reports as output parameters.
#[derive(Debug, Clone, PartialEq, ComponentOutputs)]
pub struct TrainSummary {
    /// Top-1 accuracy on the test split, in `[0, 1]`.
    pub top1: f64,
    /// Mean per-class accuracy on the test split.
    pub mean_per_class: f64,
}

/// Trains a CNN on a Dataset artifact (see the [module documentation](self)).
///
/// - `architecture`: a built-in (`caltech-s`, `mobilenet-0.5`, ...; see `nn::zoo::names`).
/// - `hyperparameters`: a JSON object of `nn::train::TrainConfig` fields, e.g.
///   `{"epochs": 30, "batch_size": 32, "optimizer": {"kind": "sgd", "momentum": 0.9,
///   "nesterov": true, "weight_decay": 5e-4}, "schedule": {"lr": 0.05, "decay": {"kind":
///   "cosine"}}, "label_smoothing": 0.1, "seed": 0}`; `{}` is benchmark recipe W3. An
///   `arch` field, if present, must agree with `architecture`.
#[component(cpu_request = "2", memory_request = "4Gi")]
pub fn train_cnn(
    dataset: Input<Dataset>,
    architecture: String,
    hyperparameters: String,
    model: Output<Model>,
    metrics: Output<Metrics>,
) -> Result<TrainSummary, NnError> {
    let mut config = parse_config(&hyperparameters)?;
    config.arch = architecture;
    let data = ImageDataset::open(dataset.path())?;
    let work = sibling(model.path(), "train")?;
    let report = train(
        &data,
        &config,
        &work,
        &TrainOptions {
            progress: true,
            ..TrainOptions::default()
        },
    )?;
    let m = report.metrics.as_ref().ok_or_else(|| {
        NnError::option(
            "dataset",
            "there is no test or validation split to evaluate",
        )
    })?;

    // The model folder.
    make_dir(model.path())?;
    for file in [io::SPEC_FILE, io::WEIGHTS_FILE] {
        move_file(&work.join(file), &model.path().join(file))?;
    }
    let spec = report.model.spec();
    onnx::export(
        spec,
        &report.model.weights(),
        &model.path().join("model.onnx"),
        &ExportOptions::default(),
    )?;
    write_classes(model.path(), &data.classes)?;
    model.set_metadata("format", "kfp-rs.nn/1");
    model.set_metadata("architecture", spec.name.clone());
    model.set_metadata("input_size", spec.input[0]);
    model.set_metadata("num_classes", spec.num_classes);
    model.set_metadata("parameters", report.model.num_parameters());

    // The metrics folder.
    make_dir(metrics.path())?;
    for file in [
        "metrics.json",
        "history.json",
        "curves.svg",
        "confusion.png",
    ] {
        move_file(&work.join(file), &metrics.path().join(file))?;
    }
    metrics.set_metadata("top1", m.top1);
    metrics.set_metadata("top5", m.top5);
    metrics.set_metadata("mean_per_class_accuracy", m.mean_per_class_accuracy);
    if let Some(loss) = m.loss {
        metrics.set_metadata("loss", loss);
    }
    metrics.set_metadata("epochs", report.history.len());
    metrics.set_metadata("best_epoch", report.best_epoch);
    std::fs::remove_dir_all(&work).map_err(|e| NnError::io(&work, e))?;
    Ok(TrainSummary {
        top1: m.top1,
        mean_per_class: m.mean_per_class_accuracy,
    })
}

/// Evaluates a Model artifact (written by [`train_cnn()`](fn@train_cnn)) on the test split of
/// a Dataset artifact: top-1, top-5, mean per-class accuracy, per-class precision and recall,
/// confusion matrix (see the [module documentation](self)).
#[component(cpu_request = "2", memory_request = "2Gi")]
pub fn evaluate(
    model: Input<Model>,
    dataset: Input<Dataset>,
    metrics: Output<kfp_sdk::ClassificationMetrics>,
) -> Result<TrainSummary, NnError> {
    let mut net = io::load_model(model.path())?;
    let data = ImageDataset::open(dataset.path())?;
    let split = if data.test.is_empty() {
        &data.val
    } else {
        &data.test
    };
    if split.is_empty() {
        return Err(NnError::option(
            "dataset",
            "there is no test or validation split to evaluate",
        ));
    }
    let m = evaluate_indices(&mut net, &data, split, 128, 0.0)?;
    make_dir(metrics.path())?;
    m.write_json(&metrics.path().join("metrics.json"))?;
    super::plot::write_confusion_png(&metrics.path().join("confusion.png"), &m.confusion_matrix)?;
    metrics.set_metadata("confusionMatrix", confusion_metadata(&m, &data.classes));
    metrics.set_metadata("top1", m.top1);
    metrics.set_metadata("top5", m.top5);
    metrics.set_metadata("mean_per_class_accuracy", m.mean_per_class_accuracy);
    Ok(TrainSummary {
        top1: m.top1,
        mean_per_class: m.mean_per_class_accuracy,
    })
}

/// Kubeflow's ClassificationMetrics `confusionMatrix` metadata.
fn confusion_metadata(m: &ClassificationMetrics, classes: &[String]) -> serde_json::Value {
    serde_json::json!({
        "struct": {
            "annotationSpecs": classes.iter().map(|c| serde_json::json!({"displayName": c})).collect::<Vec<_>>(),
            "rows": m.confusion_matrix.iter().map(|r| serde_json::json!({"row": r})).collect::<Vec<_>>(),
        }
    })
}

fn parse_config(text: &str) -> Result<TrainConfig, NnError> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    serde_json::from_str(text).map_err(|e| {
        NnError::option(
            "hyperparameters",
            format!("not a valid training configuration: {e}"),
        )
    })
}

/// A fresh working folder beside `path` (same file system, so renames work).
fn sibling(path: &Path, what: &str) -> Result<PathBuf, NnError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let dir = parent.join(format!(".{name}.{what}-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| NnError::io(&dir, e))?;
    }
    make_dir(&dir)?;
    Ok(dir)
}

fn make_dir(dir: &Path) -> Result<(), NnError> {
    std::fs::create_dir_all(dir).map_err(|e| NnError::io(dir, e))
}

/// Moves a file (renaming, or copying when `to` is on another file system).
fn move_file(from: &Path, to: &Path) -> Result<(), NnError> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    let bytes = std::fs::read(from).map_err(|e| NnError::io(from, e))?;
    io::write_atomic(to, &bytes)
}

fn write_classes(dir: &Path, classes: &[String]) -> Result<(), NnError> {
    let path = dir.join("classes.json");
    let json =
        serde_json::to_vec_pretty(classes).map_err(|e| NnError::format(&path, e.to_string()))?;
    io::write_atomic(&path, &json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caltech101::synthetic::SyntheticSpec;
    use crate::caltech101::{LoadOptions, load};

    #[test]
    fn train_then_evaluate_through_the_components() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let archive = dir.path().join("a.tar.gz");
        SyntheticSpec::small().write_tar_gz(&archive)?;
        let data_dir = dir.path().join("dataset");
        crate::caltech101::artifact::write(&load(&archive, &LoadOptions::new(18))?, &data_dir)?;
        let dataset = Input::<Dataset>::new("dataset", &data_dir);
        let model = Output::<Model>::new("model", dir.path().join("out/model"));
        let metrics = Output::<Metrics>::new("metrics", dir.path().join("out/metrics"));
        let summary = train_cnn(
            dataset.clone(),
            "caltech-s".into(),
            r#"{"epochs": 1, "batch_size": 4, "threads": 1}"#.into(),
            model.clone(),
            metrics.clone(),
        )?;
        assert!((0.0..=1.0).contains(&summary.top1));
        for f in [
            "model.json",
            "model.safetensors",
            "model.onnx",
            "classes.json",
        ] {
            assert!(model.path().join(f).is_file(), "{f}");
        }
        for f in [
            "metrics.json",
            "history.json",
            "curves.svg",
            "confusion.png",
        ] {
            assert!(metrics.path().join(f).is_file(), "{f}");
        }
        assert_eq!(metrics.metadata()["top1"], serde_json::json!(summary.top1));
        assert_eq!(model.metadata()["input_size"], serde_json::json!(16));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("out"))?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");

        let evaluated = Output::<kfp_sdk::ClassificationMetrics>::new(
            "metrics",
            dir.path().join("eval/metrics"),
        );
        let input_model = Input::<Model>::new("model", model.path());
        let again = evaluate(input_model, dataset.clone(), evaluated.clone())?;
        assert_eq!(
            again, summary,
            "evaluating the saved model gives the training report"
        );
        let rows = &evaluated.metadata()["confusionMatrix"]["struct"]["rows"];
        assert_eq!(rows.as_array().map(Vec::len), Some(3));

        let bad = train_cnn(
            dataset,
            "caltech-s".into(),
            r#"{"epochs": "many"}"#.into(),
            model,
            metrics,
        );
        assert!(bad.unwrap_err().to_string().contains("hyperparameters"));
        Ok(())
    }

    #[test]
    fn the_specs_list_the_inputs() {
        let spec = train_cnn::spec();
        let names: Vec<&str> = spec.inputs.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["dataset", "architecture", "hyperparameters"]);
        assert_eq!(evaluate::spec().outputs[0].name, "metrics");
    }
}
