//! The flagship pipeline, as far as its components exist: load Caltech101, train a CNN,
//! evaluate it. (Pruning, int8 quantization and the Edge TPU TFLite export join as their
//! components land.)
//!
//! ```text
//! cargo run --release --example flagship -- run \
//!     -p source=$PWD/../shared/caltech101/101_ObjectCategories.tar.gz -p epochs=3
//! cargo run --release --example flagship -- compile -o flagship.yaml --image registry.example.com/kfp-rs:1
//! ```
//!
//! Every step's outputs land in the run's folder (`runs show` lists them): the Dataset
//! artifact with its preview, the Model artifact (`model.safetensors`, `model.json`,
//! `model.onnx`), the training Metrics (curves and confusion matrix pictures) and the test
//! split's ClassificationMetrics.
use kfp_components::caltech101::load_caltech101;
use kfp_components::nn::component::{evaluate, train_cnn};
use kfp_sdk::prelude::*;

/// Builds the `train_cnn` hyperparameters: the optimizer, schedule and augmentation of
/// benchmark recipe W3 with `epochs` epochs at `size`x`size` crops and a class-balanced loss
/// of power `class_balance` (0: off, as W3).
#[component]
fn recipe(epochs: u32, size: u32, class_balance: f64, seed: u64) -> String {
    serde_json::json!({
        "epochs": epochs,
        "input_size": size,
        "class_balance": class_balance,
        "seed": seed,
    })
    .to_string()
}

/// Caltech101 → CNN → metrics: decode and split the archive, train, evaluate on the test split.
///
/// `source` is the archive (101_ObjectCategories.tar.gz, caltech-101.zip or a folder);
/// `architecture` a built-in (caltech-m, caltech-s, mobilenet-1.0, ...); `size` the side of
/// the training crops (images are stored at size + size/8); `class_balance` the power of the
/// class-balanced loss; `seed` seeds the split, the initialisation and the augmentation. The
/// defaults are our Caltech101 recipe (docs/benchmarks.md, W3): caltech-m, 40 epochs at
/// 64x64, square-root class balancing; about 18 minutes of training on 2 cores.
#[pipeline(name = "caltech101-edgetpu")]
fn flagship(
    #[default("/data/101_ObjectCategories.tar.gz".to_string())] source: String,
    #[default("caltech-m".to_string())] architecture: String,
    #[default(40)] epochs: u32,
    #[default(64)] size: u32,
    #[default(0.5)] class_balance: f64,
    #[default(0)] seed: u64,
) -> ParamRef<f64> {
    let stored = stored_size::task(&size);
    let data = load_caltech101::task(
        source,
        &stored.outputs.output,
        "stretch",
        "bilinear",
        0.2,
        0.0,
        0,
        0,
        &seed,
        Vec::<String>::new(),
        false,
        "skip",
    );
    let hyperparameters = recipe::task(&epochs, &size, &class_balance, &seed);
    let trained = train_cnn::task(
        &data.outputs.dataset,
        architecture,
        &hyperparameters.outputs.output,
    );
    evaluate::task(&trained.outputs.model, &data.outputs.dataset);
    trained.outputs.top1.clone()
}

/// The stored image side for crops of `size`: size + size/8 (benchmark protocol W3).
#[component]
fn stored_size(size: u32) -> u32 {
    size + size / 8
}

kfp_sdk::main!();
