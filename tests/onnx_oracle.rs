//! The ONNX export against three independent oracles:
//!
//! 1. `onnx.checker.check_model(model, full_check=True)` (schemas at opset 13 and strict shape
//!    inference) accepts every exported file;
//! 2. onnxruntime runs each file and its logits match the engine's own forward pass
//!    (`Model::forward(x, Mode::Eval)`);
//! 3. tract-onnx loads the same files and agrees too.
//!
//! Specs cover caltech-s, a MobileNet (depthwise-separable, ReLU6, stride 2 + SAME on odd
//! sizes), residual blocks with conv and identity shortcuts, grouped convolution, non-square
//! input, Flatten + Dense, AvgPool and overlapping MaxPool, BatchNorm that can and cannot be
//! folded; each is exported with BatchNorm folded and as nodes. BatchNorm gets random
//! gamma/beta/running statistics (freshly initialised ones are the identity and would hide a
//! wrong fold) and biases are random too.
//!
//! **Error measure.** For each image (row of logits) `max_j |ours_j - theirs_j| / max_j
//! |ours_j|` (with a floor of 1e-12), and the maximum over the batch; it must stay under 1e-4.
//! Rounding in float32 sums scales with the size of the logits rather than with each logit,
//! so an element-wise relative error is meaningless for a logit near zero; normalising by the
//! row's largest logit measures the error on the scale of the decision, per image.
//!
//! Inputs: three random images and four "real" ones: test-split images of the Caltech101
//! Dataset artifact in `$KFP_RS_CALTECH101_ARTIFACT` when it is set (resampled to each spec's
//! input size, normalised by the artifact's mean/std), else generated pictures (smooth colour
//! gradients with a bright rectangle). The Python part skips without the oracle venv outside
//! CI and fails in CI; the tract part always runs.
mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use kfp_components::caltech101::artifact::{Artifact, read_npy_header, write_npy_header};
use kfp_components::nn::model::{Mode, Model};
use kfp_components::nn::onnx::{self, ExportOptions};
use kfp_components::nn::{LayerSpec, ModelSpec, Padding, zoo};
use ndarray::{Array2, Array4, ArrayD, Axis, s};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use tract_onnx::prelude::{
    Datum, Framework, InferenceFact, InferenceModelExt, Tensor, TractResult, tvec,
};

/// The tolerance on the per-image relative error of the logits.
const TOLERANCE: f64 = 1e-4;
/// Random images first, then the real (or generated) ones.
const RANDOM_IMAGES: usize = 3;
const REAL_IMAGES: usize = 4;

fn conv(name: &str, filters: usize, kernel: usize, stride: usize) -> LayerSpec {
    LayerSpec::conv(name, filters, kernel, stride, Padding::Same)
}

/// The specs under test, with whether to also output probabilities.
fn cases() -> Vec<(&'static str, ModelSpec, bool)> {
    let residual = ModelSpec {
        name: "residual".into(),
        input: [15, 15, 3],
        num_classes: 6,
        layers: vec![
            conv("stem", 8, 3, 1),
            LayerSpec::batch_norm("stem_bn"),
            LayerSpec::Relu,
            LayerSpec::Residual {
                body: vec![
                    conv("b1_conv1", 16, 3, 2),
                    LayerSpec::batch_norm("b1_bn1"),
                    LayerSpec::Relu,
                    conv("b1_conv2", 16, 3, 1),
                    LayerSpec::batch_norm("b1_bn2"),
                ],
                shortcut: vec![
                    conv("b1_short", 16, 1, 2),
                    LayerSpec::batch_norm("b1_short_bn"),
                ],
            },
            LayerSpec::Relu,
            LayerSpec::Residual {
                body: vec![
                    LayerSpec::depthwise("b2_dw", 16, 3, 1, Padding::Same),
                    LayerSpec::batch_norm("b2_bn1"),
                    LayerSpec::Relu6,
                    conv("b2_pw", 16, 1, 1),
                    LayerSpec::batch_norm("b2_bn2"),
                ],
                shortcut: vec![],
            },
            LayerSpec::AvgPool { size: 2, stride: 2 },
            LayerSpec::Flatten,
            LayerSpec::dense("fc", 6),
        ],
    };
    let flatten_dense = ModelSpec {
        name: "flatten-dense".into(),
        input: [11, 13, 3],
        num_classes: 5,
        layers: vec![
            LayerSpec::conv("c1", 6, 3, 1, Padding::Valid),
            LayerSpec::Relu,
            // Not foldable: it follows an activation.
            LayerSpec::batch_norm("bn_after_relu"),
            LayerSpec::MaxPool { size: 3, stride: 2 },
            LayerSpec::Flatten,
            LayerSpec::dense("fc1", 12),
            LayerSpec::batch_norm("fc1_bn"),
            LayerSpec::Relu,
            LayerSpec::Dropout { rate: 0.5 },
            LayerSpec::dense("fc2", 5),
        ],
    };
    let pools = ModelSpec {
        name: "pools".into(),
        input: [16, 16, 3],
        num_classes: 4,
        layers: vec![
            LayerSpec::Conv2d {
                name: "pre".into(),
                filters: 6,
                kernel: [1, 1],
                stride: [1, 1],
                padding: Padding::Valid,
                groups: 1,
                bias: true,
            },
            LayerSpec::Conv2d {
                name: "grouped".into(),
                filters: 8,
                kernel: [3, 5],
                stride: [2, 1],
                padding: Padding::Same,
                groups: 2,
                bias: true,
            },
            LayerSpec::batch_norm("bn"),
            LayerSpec::Relu6,
            LayerSpec::AvgPool { size: 3, stride: 1 },
            LayerSpec::GlobalAvgPool,
            LayerSpec::Dropout { rate: 0.2 },
            LayerSpec::Dense {
                name: "fc".into(),
                units: 4,
                bias: false,
            },
        ],
    };
    vec![
        ("caltech-s", zoo::caltech_s(32, 10), false),
        ("caltech-m", zoo::caltech_m(32, 10), false),
        ("mobilenet", zoo::mobilenet(33, 7, 0.25), false),
        ("residual", residual, false),
        ("flatten-dense", flatten_dense, false),
        ("pools", pools, true),
    ]
}

/// The engine's initial weights with random BatchNorm parameters and statistics and random
/// biases (fresh ones are identities and zeros, which would hide folding mistakes).
fn weights_for(spec: &ModelSpec, seed: u64) -> BTreeMap<String, ArrayD<f32>> {
    let mut weights = Model::new(spec.clone(), seed)
        .unwrap_or_else(|e| panic!("{}: {e}", spec.name))
        .weights();
    let mut rng = StdRng::seed_from_u64(seed + 1);
    for (name, value) in weights.iter_mut() {
        let range = match name.rsplit('.').next() {
            Some("gamma") => 0.5..1.5,
            Some("beta") | Some("running_mean") => -0.5..0.5,
            Some("running_var") => 0.3..2.0,
            Some("bias") => -0.2..0.2,
            _ => continue,
        };
        value.mapv_inplace(|_| rng.random_range(range.clone()));
    }
    weights
}

/// 8-bit RGB pictures (NHWC, `size x size`) and the channel statistics that normalise them.
struct Pictures {
    /// Per-channel mean in `[0, 1]`.
    mean: [f64; 3],
    /// Per-channel standard deviation in `[0, 1]`.
    std: [f64; 3],
    size: usize,
    images: Vec<Vec<u8>>,
    /// Where they come from, for the report.
    source: &'static str,
}

/// Up to `n` test-split images of the Caltech101 Dataset artifact in
/// `$KFP_RS_CALTECH101_ARTIFACT` with its training split's mean/std, or `None` when the
/// variable is not set.
fn artifact_images(n: usize) -> Option<Pictures> {
    let dir = std::env::var_os("KFP_RS_CALTECH101_ARTIFACT")?;
    let artifact = Artifact::open(&dir)
        .unwrap_or_else(|e| panic!("KFP_RS_CALTECH101_ARTIFACT={}: {e}", dir.to_string_lossy()));
    let size = artifact.manifest.image_size as usize;
    let pixels = artifact.images().expect("images");
    let split = artifact.split_codes().expect("split");
    let test: Vec<usize> = (0..split.len()).filter(|&i| split[i] == 2).collect();
    assert!(!test.is_empty(), "the artifact has no test images");
    let images = (0..n)
        .map(|k| {
            let i = test[k * test.len() / n];
            pixels[i * size * size * 3..(i + 1) * size * size * 3].to_vec()
        })
        .collect();
    Some(Pictures {
        mean: artifact.manifest.mean.unwrap_or([0.5; 3]),
        std: artifact.manifest.std.unwrap_or([0.25; 3]),
        size,
        images,
        source: "caltech101",
    })
}

/// Smooth colour gradients with a bright rectangle, u8 NHWC, `size x size`.
fn generated_images(n: usize, size: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|k| {
            let mut img = vec![0u8; size * size * 3];
            let f = 0.05 + 0.03 * k as f64;
            for y in 0..size {
                for x in 0..size {
                    for c in 0..3 {
                        let phase = c as f64 * 2.1 + k as f64;
                        let mut v =
                            128.0 + 90.0 * (f * x as f64 + 1.7 * f * y as f64 + phase).sin();
                        let (lo, hi) = (size / 4 + k, size / 2 + k);
                        if (lo..hi).contains(&x) && (lo..hi + 3).contains(&y) {
                            v = 250.0 - 40.0 * c as f64;
                        }
                        img[(y * size + x) * 3 + c] = v.clamp(0.0, 255.0) as u8;
                    }
                }
            }
            img
        })
        .collect()
}

/// The test batch for `spec`: random normal-ish images, then the real (or generated) ones
/// resampled (nearest neighbour) to the spec's input and normalised.
fn inputs(spec: &ModelSpec, seed: u64) -> (Array4<f32>, &'static str) {
    let [h, w, c] = spec.input;
    assert_eq!(c, 3, "the test images are RGB");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = Array4::<f32>::zeros((RANDOM_IMAGES + REAL_IMAGES, h, w, c));
    x.slice_mut(s![..RANDOM_IMAGES, .., .., ..])
        .mapv_inplace(|_| rng.random_range(-2.0..2.0));
    let pictures = artifact_images(REAL_IMAGES).unwrap_or_else(|| Pictures {
        mean: [0.5; 3],
        std: [0.25; 3],
        size: 48,
        images: generated_images(REAL_IMAGES, 48),
        source: "generated",
    });
    let Pictures {
        mean,
        std,
        size,
        images,
        source,
    } = pictures;
    for (k, img) in images.iter().enumerate() {
        for y in 0..h {
            for xx in 0..w {
                let (sy, sx) = (y * size / h, xx * size / w);
                for ch in 0..3 {
                    let v = f64::from(img[(sy * size + sx) * 3 + ch]) / 255.0;
                    x[[RANDOM_IMAGES + k, y, xx, ch]] = ((v - mean[ch]) / std[ch]) as f32;
                }
            }
        }
    }
    (x, source)
}

fn write_npy(path: &Path, x: &Array4<f32>) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create .npy"));
    write_npy_header(&mut file, "<f4", x.shape()).expect("npy header");
    for v in x.iter() {
        file.write_all(&v.to_le_bytes()).expect("write .npy");
    }
    file.flush().expect("flush .npy");
}

fn read_npy_2d(path: &Path) -> Array2<f32> {
    let mut file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = read_npy_header(&mut file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(header.descr, "<f4", "{}", path.display());
    assert_eq!(header.shape.len(), 2, "{}", path.display());
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).expect("read .npy");
    let data = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Array2::from_shape_vec((header.shape[0], header.shape[1]), data).expect("npy shape")
}

/// The largest per-image relative error of `theirs` against `ours` over `rows`.
fn rel_error(ours: &Array2<f32>, theirs: &Array2<f32>, rows: std::ops::Range<usize>) -> f64 {
    assert_eq!(ours.shape(), theirs.shape());
    rows.map(|i| {
        let (a, b) = (ours.row(i), theirs.row(i));
        let scale = a.iter().fold(0.0f64, |m, v| m.max(f64::from(v.abs())));
        let diff = a
            .iter()
            .zip(b.iter())
            .fold(0.0f64, |m, (p, q)| m.max(f64::from((p - q).abs())));
        diff / scale.max(1e-12)
    })
    .fold(0.0, f64::max)
}

fn run_tract(path: &Path, x: &Array4<f32>) -> TractResult<Array2<f32>> {
    let shape: Vec<usize> = x.shape().to_vec();
    let model = tract_onnx::onnx()
        .model_for_path(path)?
        .with_input_fact(0, InferenceFact::dt_shape(f32::datum_type(), &shape))?
        .into_optimized()?
        .into_runnable()?;
    let data: Vec<f32> = x.iter().copied().collect();
    let out = model.run(tvec!(Tensor::from_shape::<f32>(&shape, &data)?.into()))?;
    let view = out[0].to_array_view::<f32>()?;
    let dims = view.shape().to_vec();
    Ok(Array2::from_shape_vec(
        (dims[0], dims[1]),
        view.iter().copied().collect(),
    )?)
}

struct Exported {
    label: String,
    path: PathBuf,
    ours: Array2<f32>,
    fold: bool,
    softmax: bool,
    spec: ModelSpec,
}

#[test]
fn exported_models_pass_the_checker_and_match_onnxruntime_and_tract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut exported = Vec::new();
    let mut source = "";
    for (seed, (name, spec, softmax)) in cases().into_iter().enumerate() {
        let seed = seed as u64 * 10 + 1;
        let weights = weights_for(&spec, seed);
        let (x, src) = inputs(&spec, seed + 5);
        source = src;
        let mut model = Model::from_weights(spec.clone(), &weights).expect("engine model");
        let ours = model.forward(x.view(), Mode::Eval).expect("engine forward");
        assert!(
            ours.iter().all(|v| v.is_finite()),
            "{name}: non-finite logits"
        );
        for fold in [true, false] {
            let label = format!("{name}-{}", if fold { "folded" } else { "bn-nodes" });
            let path = dir.path().join(format!("{label}.onnx"));
            let options = ExportOptions {
                fold_batch_norm: fold,
                softmax,
                ..Default::default()
            };
            let report = onnx::export(&spec, &weights, &path, &options)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            if !fold {
                assert!(report.folded.is_empty(), "{label}");
            }
            write_npy(&dir.path().join(format!("{label}.input.npy")), &x);
            exported.push(Exported {
                label,
                path,
                ours: ours.clone(),
                fold,
                softmax,
                spec: spec.clone(),
            });
        }
    }

    let real = RANDOM_IMAGES..RANDOM_IMAGES + REAL_IMAGES;
    let mut table = vec![format!(
        "images: {RANDOM_IMAGES} random + {REAL_IMAGES} {source}"
    )];
    let mut failures = Vec::new();

    // tract-onnx.
    for e in &exported {
        let x = read_input(e);
        let theirs =
            run_tract(&e.path, &x).unwrap_or_else(|err| panic!("tract, {}: {err:?}", e.label));
        let (r, q) = (
            rel_error(&e.ours, &theirs, 0..RANDOM_IMAGES),
            rel_error(&e.ours, &theirs, real.clone()),
        );
        table.push(format!(
            "tract        {:<26} random {r:.2e}  {source} {q:.2e}",
            e.label
        ));
        if r.max(q) >= TOLERANCE || !r.is_finite() || !q.is_finite() {
            failures.push(format!(
                "tract: {}: relative error {r:.2e} / {q:.2e}",
                e.label
            ));
        }
    }

    // The ONNX checker and onnxruntime.
    if let Some(python) = onnx_python() {
        let script = support::root().join("tests/oracle/onnx_check.py");
        let out = support::run(
            Command::new(&python)
                .arg(&script)
                .args(exported.iter().map(|e| &e.path)),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "onnx_check.py failed (is the venv current? run scripts/python-env.sh)\n{}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summaries: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line per model"))
            .collect();
        assert_eq!(summaries.len(), exported.len());
        for (e, summary) in exported.iter().zip(&summaries) {
            check_summary(e, summary);
            let stem = e.path.with_extension("");
            let theirs = read_npy_2d(&PathBuf::from(format!("{}.logits.npy", stem.display())));
            let (r, q) = (
                rel_error(&e.ours, &theirs, 0..RANDOM_IMAGES),
                rel_error(&e.ours, &theirs, real.clone()),
            );
            table.push(format!(
                "onnxruntime  {:<26} random {r:.2e}  {source} {q:.2e}",
                e.label
            ));
            if r.max(q) >= TOLERANCE || !r.is_finite() || !q.is_finite() {
                failures.push(format!(
                    "onnxruntime: {}: relative error {r:.2e} / {q:.2e}",
                    e.label
                ));
            }
            if e.softmax {
                let probs = read_npy_2d(&PathBuf::from(format!(
                    "{}.probabilities.npy",
                    stem.display()
                )));
                let err = softmax_error(&e.ours, &probs);
                table.push(format!(
                    "onnxruntime  {:<26} probabilities max abs error {err:.2e}",
                    e.label
                ));
                if err >= 1e-5 {
                    failures.push(format!(
                        "onnxruntime: {}: probabilities off by {err:.2e}",
                        e.label
                    ));
                }
            }
        }
    }
    eprintln!("{}", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The oracle venv's Python if it has onnx and onnxruntime. A venv built before they were
/// added to the requirements counts as missing: a note outside CI, a failure in CI.
fn onnx_python() -> Option<PathBuf> {
    let python = support::oracle_python()?;
    let probe = support::run(Command::new(&python).args(["-c", "import onnx, onnxruntime"]));
    if probe.status.success() {
        return Some(python);
    }
    let why = format!(
        "{} cannot import onnx and onnxruntime (run scripts/python-env.sh to update the venv): {}",
        python.display(),
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    assert!(!support::in_ci(), "{why}");
    eprintln!("note: skipping the ONNX checker and onnxruntime: {why}");
    None
}

fn read_input(e: &Exported) -> Array4<f32> {
    let stem = e.path.with_extension("");
    let path = PathBuf::from(format!("{}.input.npy", stem.display()));
    let mut file = std::fs::File::open(&path).expect("input .npy");
    let header = read_npy_header(&mut file).expect("npy header");
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).expect("read");
    let data = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let s = &header.shape;
    Array4::from_shape_vec((s[0], s[1], s[2], s[3]), data).expect("input shape")
}

/// The largest absolute difference between the softmax of our logits (in f64) and `probs`.
fn softmax_error(logits: &Array2<f32>, probs: &Array2<f32>) -> f64 {
    let mut worst = 0.0f64;
    for (row, p) in logits.axis_iter(Axis(0)).zip(probs.axis_iter(Axis(0))) {
        let max = row
            .iter()
            .fold(f64::NEG_INFINITY, |m, v| m.max(f64::from(*v)));
        let exp: Vec<f64> = row.iter().map(|v| (f64::from(*v) - max).exp()).collect();
        let sum: f64 = exp.iter().sum();
        for (e, q) in exp.iter().zip(p.iter()) {
            worst = worst.max((e / sum - f64::from(*q)).abs());
        }
    }
    worst
}

/// What the checker script saw in the file: opset 13, the NHWC input with a symbolic batch,
/// the outputs, BatchNorm nodes only when not folded (or not foldable), no Dropout, and the
/// architecture in the metadata.
fn check_summary(e: &Exported, summary: &serde_json::Value) {
    let label = &e.label;
    assert_eq!(summary["opset"]["ai.onnx"], 13, "{label}: {summary}");
    let [h, w, c] = e.spec.input;
    assert_eq!(
        summary["inputs"]["input"],
        serde_json::json!(["batch", h, w, c]),
        "{label}"
    );
    assert_eq!(
        summary["outputs"]["logits"],
        serde_json::json!(["batch", e.spec.num_classes]),
        "{label}"
    );
    assert_eq!(
        summary["outputs"].get("probabilities").is_some(),
        e.softmax,
        "{label}"
    );
    let bn_nodes = summary["ops"]["BatchNormalization"].as_u64().unwrap_or(0);
    let bn_layers = count_bn(&e.spec.layers);
    if e.fold {
        assert!(bn_nodes < bn_layers, "{label}: nothing was folded");
    } else {
        assert_eq!(bn_nodes, bn_layers, "{label}");
    }
    assert!(summary["ops"].get("Dropout").is_none(), "{label}");
    let architecture = summary["metadata"]["kfp_rs.architecture"]
        .as_str()
        .expect("architecture metadata");
    let back: ModelSpec = serde_json::from_str(architecture).expect("architecture JSON");
    assert_eq!(back, e.spec, "{label}");
}

fn count_bn(layers: &[LayerSpec]) -> u64 {
    layers
        .iter()
        .map(|l| match l {
            LayerSpec::BatchNorm { .. } => 1,
            LayerSpec::Residual { body, shortcut } => count_bn(body) + count_bn(shortcut),
            _ => 0,
        })
        .sum()
}
