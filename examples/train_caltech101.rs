//! Trains a CNN on a Caltech101 Dataset artifact, evaluates it on the test split, and writes
//! the model (`model.json` + `model.safetensors`), `model.onnx`, `metrics.json`,
//! `history.json`, `curves.svg` and `confusion.png` into `--out`.
//!
//! ```text
//! cargo run --release --example load_caltech101 -- \
//!     --source ../shared/caltech101/101_ObjectCategories.tar.gz --size 72 --out /tmp/cal72
//! cargo run --release --example train_caltech101 -- --data /tmp/cal72 --arch caltech-s \
//!     --epochs 30 --out /tmp/run-w3
//! ```
//!
//! The defaults are benchmark recipe W3 (SGD momentum 0.9 Nesterov, lr 0.05 cosine to 0,
//! weight decay 5e-4, batch 32, label smoothing 0.1, random crop + flip, 64x64 crops of the
//! 72x72 images). `--config run.json` starts from a JSON `TrainConfig` instead; the flags
//! given on the command line override it. `--resume` continues from `<out>/checkpoint`.
//! The last line printed on stdout is `top1=<x> mean_per_class=<y>`.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use kfp_components::nn::data::ImageDataset;
use kfp_components::nn::onnx::{self, ExportOptions};
use kfp_components::nn::optim::OptimizerConfig;
use kfp_components::nn::schedule::Decay;
use kfp_components::nn::train::{TrainConfig, TrainOptions, train};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OptimizerKind {
    Sgd,
    Adamw,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScheduleKind {
    Cosine,
    Step,
    Constant,
}

/// Train a CNN on a Caltech101 Dataset artifact (written by the load_caltech101 example).
#[derive(Parser, Debug)]
#[command(name = "train_caltech101")]
struct Args {
    /// The Dataset artifact folder.
    #[arg(long)]
    data: PathBuf,
    /// The output folder.
    #[arg(long)]
    out: PathBuf,
    /// A training configuration (JSON `TrainConfig`) to start from instead of recipe W3.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Architecture: caltech-s, mobilenet-1.0, mobilenet-0.75, mobilenet-0.5,
    /// mobilenet-0.25, or a model.json path.
    #[arg(long)]
    arch: Option<String>,
    /// Epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Model input side (default: 8/9 of the stored side, e.g. 64 for 72x72 images).
    #[arg(long)]
    size: Option<usize>,
    /// Batch size.
    #[arg(long)]
    batch: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    lr: Option<f32>,
    /// Optimizer.
    #[arg(long, value_enum)]
    optimizer: Option<OptimizerKind>,
    /// SGD momentum.
    #[arg(long)]
    momentum: Option<f32>,
    /// Plain (not Nesterov) momentum for SGD.
    #[arg(long)]
    no_nesterov: bool,
    /// Weight decay (SGD: L2 added to the gradient; AdamW: decoupled).
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Learning-rate schedule after the warm-up.
    #[arg(long, value_enum)]
    schedule: Option<ScheduleKind>,
    /// With --schedule step: epochs between decays (x0.1 each).
    #[arg(long, default_value_t = 10.0)]
    step_epochs: f32,
    /// Epochs of linear warm-up.
    #[arg(long)]
    warmup_epochs: Option<f32>,
    /// Label smoothing.
    #[arg(long)]
    label_smoothing: Option<f32>,
    /// Class-balanced loss power (0: off, 0.5: square root, 1: inverse class frequency).
    #[arg(long)]
    class_balance: Option<f32>,
    /// Zero padding before the random crop.
    #[arg(long)]
    pad: Option<usize>,
    /// No random horizontal flip.
    #[arg(long)]
    no_flip: bool,
    /// Threads (0: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Seed of everything random.
    #[arg(long)]
    seed: Option<u64>,
    /// Early-stopping patience in epochs (needs a validation split).
    #[arg(long)]
    patience: Option<usize>,
    /// Continue from <out>/checkpoint.
    #[arg(long)]
    resume: bool,
    /// No progress bar or per-epoch lines on stderr.
    #[arg(long)]
    quiet: bool,
}

fn config_from(args: &Args) -> anyhow::Result<TrainConfig> {
    let mut c = match &args.config {
        Some(path) => {
            let text = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
            serde_json::from_slice(&text).with_context(|| format!("{}", path.display()))?
        }
        None => TrainConfig::default(),
    };
    if let Some(a) = &args.arch {
        c.arch = a.clone();
    }
    if let Some(e) = args.epochs {
        c.epochs = e;
    }
    if args.size.is_some() {
        c.input_size = args.size;
    }
    if let Some(b) = args.batch {
        c.batch_size = b;
    }
    if let Some(lr) = args.lr {
        c.schedule.lr = lr;
    }
    let decay = args.weight_decay.unwrap_or(c.optimizer.weight_decay());
    match args.optimizer {
        Some(OptimizerKind::Sgd) => c.optimizer = OptimizerConfig::sgd(0.9, true, decay),
        Some(OptimizerKind::Adamw) => c.optimizer = OptimizerConfig::adamw(decay),
        None => {}
    }
    match &mut c.optimizer {
        OptimizerConfig::Sgd {
            momentum,
            nesterov,
            weight_decay,
            ..
        } => {
            if let Some(m) = args.momentum {
                *momentum = m;
            }
            if args.no_nesterov {
                *nesterov = false;
            }
            *weight_decay = decay;
        }
        OptimizerConfig::AdamW { weight_decay, .. } => {
            if args.momentum.is_some() || args.no_nesterov {
                bail!("--momentum and --no-nesterov apply to --optimizer sgd only");
            }
            *weight_decay = decay;
        }
    }
    match args.schedule {
        Some(ScheduleKind::Cosine) => c.schedule.decay = Decay::Cosine { min_lr: 0.0 },
        Some(ScheduleKind::Step) => {
            c.schedule.decay = Decay::Step {
                every_epochs: args.step_epochs,
                gamma: 0.1,
            }
        }
        Some(ScheduleKind::Constant) => c.schedule.decay = Decay::Constant,
        None => {}
    }
    if let Some(w) = args.warmup_epochs {
        c.schedule.warmup_epochs = w;
    }
    if let Some(l) = args.label_smoothing {
        c.label_smoothing = l;
    }
    if let Some(b) = args.class_balance {
        c.class_balance = b;
    }
    if let Some(p) = args.pad {
        c.augment.pad = p;
    }
    if args.no_flip {
        c.augment.flip = false;
    }
    if let Some(t) = args.threads {
        c.threads = t;
    }
    if let Some(s) = args.seed {
        c.seed = s;
    }
    if args.patience.is_some() {
        c.early_stopping_patience = args.patience;
    }
    Ok(c)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = config_from(&args)?;
    let started = Instant::now();
    let data = ImageDataset::open(&args.data)?;
    if !args.quiet {
        eprintln!(
            "{}: {} classes, {}x{} images, {} train / {} val / {} test ({:.1} s to load)",
            args.data.display(),
            data.num_classes(),
            data.side,
            data.side,
            data.train.len(),
            data.val.len(),
            data.test.len(),
            started.elapsed().as_secs_f64()
        );
        eprintln!("config: {}", serde_json::to_string(&config)?);
    }
    let options = TrainOptions {
        progress: !args.quiet,
        resume: args.resume,
        max_epochs_this_run: None,
    };
    let report = train(&data, &config, &args.out, &options)?;
    let metrics = report
        .metrics
        .as_ref()
        .context("the dataset has no test (or validation) split to evaluate")?;
    let onnx_path = args.out.join("model.onnx");
    let mut export = ExportOptions::default();
    let classes: BTreeMap<String, String> =
        BTreeMap::from([("classes".to_string(), serde_json::to_string(&data.classes)?)]);
    export.metadata = classes;
    onnx::export(
        report.model.spec(),
        &report.model.weights(),
        &onnx_path,
        &export,
    )?;
    let train_seconds: f64 = report.history.iter().map(|r| r.train_seconds).sum();
    eprintln!(
        "{} epochs, {:.1} s training ({:.1} s per epoch); test top-5 {:.4}, loss {:.4}; wrote {}",
        report.history.len(),
        train_seconds,
        train_seconds / report.history.len().max(1) as f64,
        metrics.top5,
        metrics.loss.unwrap_or(f64::NAN),
        args.out.display()
    );
    println!(
        "top1={:.4} mean_per_class={:.4}",
        metrics.top1, metrics.mean_per_class_accuracy
    );
    Ok(())
}
