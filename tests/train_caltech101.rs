//! The `train_caltech101` example end to end on a tiny synthetic Caltech-style dataset: its
//! command line, its output folder, its last line, `--resume`, its errors, and an independent
//! evaluation of the `model.onnx` it writes (numpy + onnxruntime, `tests/oracle/eval_onnx.py`)
//! against the metrics it reports.
mod support;

use std::path::Path;
use std::process::Command;

fn last_line_figures(stdout: &str) -> (f64, f64) {
    let last = stdout.lines().last().unwrap_or_default();
    let mut top1 = None;
    let mut mean = None;
    for part in last.split_whitespace() {
        if let Some(v) = part.strip_prefix("top1=") {
            top1 = v.parse::<f64>().ok();
        } else if let Some(v) = part.strip_prefix("mean_per_class=") {
            mean = v.parse::<f64>().ok();
        }
    }
    match (top1, mean) {
        (Some(t), Some(m)) => (t, m),
        _ => panic!("last stdout line is not `top1=<x> mean_per_class=<y>`: {last:?}"),
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_example_trains_writes_everything_resumes_and_agrees_with_onnxruntime() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let loader = support::example("load_caltech101");
    let archive = dir.path().join("tiny.tar.gz");
    let made = support::run(Command::new(&loader).arg("--write-synthetic").arg(&archive));
    assert!(made.status.success(), "{made:?}");
    let data = dir.path().join("dataset");
    let loaded = support::run(
        Command::new(&loader)
            .args(["--size", "18", "--quiet", "--source"])
            .arg(&archive)
            .arg("--out")
            .arg(&data),
    );
    assert!(loaded.status.success(), "{loaded:?}");

    let exe = support::example("train_caltech101");
    let out = dir.path().join("run");
    let train_arch = |arch: &str, extra: &[&str]| {
        support::run(
            Command::new(&exe)
                .arg("--data")
                .arg(&data)
                .arg("--out")
                .arg(&out)
                .args([
                    "--arch",
                    arch,
                    "--epochs",
                    "2",
                    "--batch",
                    "4",
                    "--threads",
                    "1",
                    "--quiet",
                ])
                .args(extra),
        )
    };
    let train = |extra: &[&str]| train_arch("caltech-s", extra);
    let run = train(&[]);
    assert!(run.status.success(), "{run:?}");
    let (top1, mean) = last_line_figures(&String::from_utf8_lossy(&run.stdout));
    for file in [
        "model.json",
        "model.safetensors",
        "model.onnx",
        "metrics.json",
        "history.json",
        "curves.svg",
        "confusion.png",
        "checkpoint/latest.json",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let metrics = read_json(&out.join("metrics.json"));
    let reported = |key: &str| metrics[key].as_f64().unwrap_or(f64::NAN);
    assert!((reported("top1") - top1).abs() < 1e-4, "{metrics}");
    assert!((reported("mean_per_class_accuracy") - mean).abs() < 1e-4);
    let history = read_json(&out.join("history.json"));
    assert_eq!(history["epochs"].as_array().map(Vec::len), Some(2));
    // The saved model loads back and is the model that was evaluated.
    let model = kfp_components::nn::io::load_model(&out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.spec().input, [16, 16, 3]);

    // An independent evaluation of model.onnx on the test split agrees with metrics.json
    // (one example may differ on a near-tie between the engine's and onnxruntime's logits).
    if let Some(python) = support::oracle_python() {
        let oracle = support::run(
            Command::new(python)
                .arg(support::root().join("tests/oracle/eval_onnx.py"))
                .arg(&data)
                .arg(out.join("model.onnx")),
        );
        assert!(oracle.status.success(), "{oracle:?}");
        let theirs: serde_json::Value = serde_json::from_slice(&oracle.stdout)
            .unwrap_or_else(|e| panic!("oracle output: {e}: {oracle:?}"));
        let n = theirs["n"].as_f64().unwrap_or(0.0);
        assert_eq!(Some(n as u64), metrics["num_examples"].as_u64());
        for (ours, key) in [("top1", "top1"), ("top5", "top5")] {
            let diff = (reported(ours) - theirs[key].as_f64().unwrap_or(f64::NAN)).abs();
            assert!(diff <= 1.0 / n + 1e-9, "{key}: ours {metrics} vs {theirs}");
        }
        // One example moves one class's recall by 1/support, the mean by at most 1/classes.
        let classes = metrics["per_class"].as_array().map_or(1, Vec::len) as f64;
        let diff = (reported("mean_per_class_accuracy")
            - theirs["mean_per_class"].as_f64().unwrap_or(f64::NAN))
        .abs();
        assert!(diff <= 1.0 / classes + 1e-9, "mean per class: {diff}");

        // The logits themselves: numpy's crop and normalisation + onnxruntime against the
        // library's centre crop, normalisation and forward pass.
        let mut model = model;
        let dataset =
            kfp_components::nn::data::ImageDataset::open(&data).unwrap_or_else(|e| panic!("{e}"));
        let ours =
            kfp_components::nn::train::predict_indices(&mut model, &dataset, &dataset.test, 16)
                .unwrap_or_else(|e| panic!("{e}"));
        let rows = theirs["logits"].as_array().cloned().unwrap_or_default();
        assert_eq!(rows.len(), ours.nrows());
        let scale = ours.iter().fold(1e-6f64, |m, v| m.max(v.abs() as f64));
        for (row, mine) in rows.iter().zip(ours.rows()) {
            let row = row.as_array().cloned().unwrap_or_default();
            assert_eq!(row.len(), mine.len());
            for (t, m) in row.iter().zip(mine) {
                let t = t.as_f64().unwrap_or(f64::NAN);
                assert!(
                    (t - *m as f64).abs() <= 1e-4 * scale,
                    "logit {m} vs onnxruntime {t}"
                );
            }
        }
    }

    // --resume on a finished run trains nothing more and reports the same figures and
    // weights (compared as tensors: the safetensors header's metadata order may vary).
    let weights_of = || {
        kfp_components::nn::io::load_weights(&out.join("model.safetensors"))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let weights = weights_of();
    let again = train(&["--resume"]);
    assert!(again.status.success(), "{again:?}");
    assert_eq!(
        last_line_figures(&String::from_utf8_lossy(&again.stdout)),
        (top1, mean)
    );
    assert!(weights_of() == weights, "the weights changed on --resume");
    // ... and refuses a changed recipe.
    let changed = train(&["--resume", "--lr", "0.1"]);
    assert!(!changed.status.success());
    assert!(String::from_utf8_lossy(&changed.stderr).contains("different configuration"));

    // Errors name what is wrong.
    let missing = dir.path().join("no-such-dataset");
    let bad = support::run(
        Command::new(&exe)
            .arg("--data")
            .arg(&missing)
            .arg("--out")
            .arg(dir.path().join("never")),
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains(&missing.display().to_string()));
    let bad = train_arch("resnet-9000", &[]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown architecture `resnet-9000`"));
}
