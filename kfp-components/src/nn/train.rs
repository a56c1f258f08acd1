//! The training loop: seeded mini-batch training with checkpoints, resume, early stopping,
//! evaluation and a progress bar.
//!
//! [`train`] takes an [`ImageDataset`], a [`TrainConfig`] (serde; every field has the
//! benchmark recipe W3's default) and an output folder, and leaves there:
//!
//! | file | what |
//! | --- | --- |
//! | `model.json`, `model.safetensors` | the trained model ([`super::io`]; `io::load_model(out_dir)`) |
//! | `metrics.json` | [`ClassificationMetrics`] on the test split (or validation if no test) |
//! | `history.json` | one [`EpochRecord`] per epoch, plus the config |
//! | `curves.svg`, `confusion.png` | pictures ([`super::plot`]) |
//! | `checkpoint/` | the last epoch's checkpoint (see below) |
//!
//! **One step** takes a batch from [`epoch_batches`], augments it ([`train_batch`]), runs
//! the model forward in training mode, [`softmax_cross_entropy`] with label smoothing,
//! backward, then one optimizer step with the schedule's rate for that step.
//!
//! **Determinism.** Everything random derives from `config.seed`: the initial weights
//! (`Model::new(spec, seed)`), each epoch's order (seed, epoch), each image's crop and flip
//! (seed, epoch, image) and each step's dropout masks (seed, step). The run executes inside
//! a rayon pool of `config.threads` threads, so the same seed and the same thread count give
//! bit-identical weights (the engine's reductions are fixed for a given thread count).
//!
//! **Checkpoints and resume.** After every epoch the model, the optimizer state, the history
//! and the early-stopping state go to `checkpoint/epoch-NNNN/`, written under a temporary name
//! and renamed, then `checkpoint/latest.json` is replaced atomically to point at it and older
//! epochs are removed. With [`TrainOptions::resume`], training restarts after the last
//! complete epoch; since no random state is carried from step to step (all of it is derived
//! from the seed and the position), the resumed run ends with the same weights as one that
//! was never interrupted. The configuration must be the same (the thread count may differ,
//! at the price of bit-identity).
//!
//! **Early stopping.** With `early_stopping_patience = Some(p)` and a non-empty validation
//! split, training stops after `p` epochs without a better validation top-1, and the weights
//! of the best epoch are kept. Without a validation split there is no early stopping (the
//! test split is never used to choose anything); per-epoch evaluation then reports the test
//! split for the curves only.
//!
//! ```
//! use kfp_components::nn::data::ImageDataset;
//! use kfp_components::nn::train::{TrainConfig, TrainOptions, train};
//!
//! // 8 tiny 8x8 images of 2 classes: dark and bright.
//! let mut pixels = vec![];
//! for i in 0..8 { pixels.extend(std::iter::repeat(if i % 2 == 0 { 20u8 } else { 230 }).take(8 * 8 * 3)); }
//! let labels = (0..8).map(|i| i % 2).collect();
//! let data = ImageDataset::from_parts(pixels, 8, 3, labels, vec!["dark".into(), "bright".into()],
//!                                     &[0, 0, 0, 0, 0, 0, 2, 2])?;
//! let config = TrainConfig { arch: "caltech-s".into(), input_size: Some(8), epochs: 1, batch_size: 4, ..Default::default() };
//! let out = tempfile::tempdir()?;
//! let report = train(&data, &config, out.path(), &TrainOptions::quiet())?;
//! assert_eq!(report.history.len(), 1);
//! assert!(out.path().join("model.safetensors").is_file());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ndarray::{Array2, ArrayD, Axis, concatenate};
use serde::{Deserialize, Serialize};

use super::augment::{AugmentConfig, derive_seed, eval_batch, train_batch};
use super::data::{ImageDataset, epoch_batches, sequential_batches};
use super::error::NnError;
use super::io::{self, write_atomic};
use super::loss::{softmax_cross_entropy, weighted_softmax_cross_entropy};
use super::metrics::{ClassificationMetrics, argmax};
use super::model::{Mode, Model};
use super::optim::{Optimizer, OptimizerConfig};
use super::plot;
use super::schedule::ScheduleConfig;
use super::spec::ModelSpec;
use super::zoo;

/// Everything that defines a training run (serde; missing fields take the W3 defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// A built-in architecture (see `nn::zoo::names`), or the path of a `model.json`
    /// holding a [`ModelSpec`] (its input size and class count must match the data).
    pub arch: String,
    /// Model input side `S`; `None`: `8/9` of the stored side (64 for 72x72 images, as W3's
    /// `S + S/8` storage).
    pub input_size: Option<usize>,
    /// Epochs.
    pub epochs: usize,
    /// Training batch size.
    pub batch_size: usize,
    /// Batch size for evaluation.
    pub eval_batch_size: usize,
    /// Optimizer and its hyperparameters (weight decay included).
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule.
    pub schedule: ScheduleConfig,
    /// Label smoothing of the cross-entropy, in `[0, 1]`.
    pub label_smoothing: f32,
    /// Class-balanced loss: each training example's loss is weighted by
    /// `(n_c / n_mean)^-class_balance`, `n_c` being the number of training images of its class
    /// (weights scaled so that their mean over the training images is 1). 0 (the default, W3)
    /// weighs every image alike, 0.5 is square-root balancing, 1 weighs every class alike.
    pub class_balance: f32,
    /// Training augmentation.
    pub augment: AugmentConfig,
    /// The seed of everything random.
    pub seed: u64,
    /// Threads (0: all cores).
    pub threads: usize,
    /// Stop after this many epochs without a better validation top-1 (needs a validation
    /// split; keeps the best weights).
    pub early_stopping_patience: Option<usize>,
    /// Evaluate on the validation split (or, if empty, the test split) after every epoch.
    pub eval_every_epoch: bool,
    /// Drop the last, incomplete batch of each epoch.
    pub drop_last: bool,
}

impl Default for TrainConfig {
    /// Benchmark recipe W3: caltech-s, 30 epochs, batch 32, SGD momentum 0.9 Nesterov, lr 0.05
    /// cosine to 0, weight decay 5e-4, label smoothing 0.1, random crop and flip, seed 0.
    fn default() -> Self {
        TrainConfig {
            arch: "caltech-s".into(),
            input_size: None,
            epochs: 30,
            batch_size: 32,
            eval_batch_size: 128,
            optimizer: OptimizerConfig::default(),
            schedule: ScheduleConfig::default(),
            label_smoothing: 0.1,
            class_balance: 0.0,
            augment: AugmentConfig::default(),
            seed: 0,
            threads: 0,
            early_stopping_patience: None,
            eval_every_epoch: true,
            drop_last: false,
        }
    }
}

impl TrainConfig {
    /// Checks the options that do not depend on the data, naming the field.
    pub fn validate(&self) -> Result<(), NnError> {
        if self.epochs == 0 {
            return Err(NnError::option("epochs", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(NnError::option("batch_size", "must be at least 1"));
        }
        if self.eval_batch_size == 0 {
            return Err(NnError::option("eval_batch_size", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.label_smoothing) {
            return Err(NnError::option(
                "label_smoothing",
                format!("must be in [0, 1], got {}", self.label_smoothing),
            ));
        }
        if !(0.0..=1.0).contains(&self.class_balance) {
            return Err(NnError::option(
                "class_balance",
                format!("must be in [0, 1], got {}", self.class_balance),
            ));
        }
        if self.early_stopping_patience == Some(0) {
            return Err(NnError::option(
                "early_stopping_patience",
                "must be at least 1 (or absent to turn early stopping off)",
            ));
        }
        self.optimizer.validate()?;
        self.schedule.validate()
    }

    /// The model input side for images stored at `stored` pixels.
    pub fn input_size_for(&self, stored: usize) -> usize {
        self.input_size.unwrap_or(stored * 8 / 9)
    }

    /// The architecture for `data`: a built-in by name or a `model.json` path.
    pub fn model_spec(&self, data: &ImageDataset) -> Result<ModelSpec, NnError> {
        let size = self.input_size_for(data.side);
        if self.arch.ends_with(".json") {
            let path = Path::new(&self.arch);
            let text = std::fs::read(path).map_err(|e| NnError::io(path, e))?;
            let spec: ModelSpec =
                serde_json::from_slice(&text).map_err(|e| NnError::format(path, e.to_string()))?;
            spec.infer_shapes()?;
            return Ok(spec);
        }
        zoo::by_name(&self.arch, size, data.num_classes())
    }
}

/// How [`train`] runs, beside the configuration (nothing here changes the result).
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Show a progress bar on stderr (only when it is a terminal) and log each epoch.
    pub progress: bool,
    /// Continue from `out_dir/checkpoint` if there is one.
    pub resume: bool,
    /// Stop after this many epochs in this call (the checkpoint allows resuming later).
    pub max_epochs_this_run: Option<usize>,
}

impl TrainOptions {
    /// No bar, no log lines, no resume.
    pub fn quiet() -> Self {
        TrainOptions::default()
    }
}

/// One epoch's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// The learning rate of the epoch's last step.
    pub lr: f32,
    /// Mean training loss over the epoch's batches (label smoothing included).
    pub train_loss: f64,
    /// Training top-1 over the epoch's (augmented) batches.
    pub train_acc: f64,
    /// Loss on the evaluated split (same label smoothing), if evaluated.
    pub eval_loss: Option<f64>,
    /// Top-1 on the evaluated split, if evaluated.
    pub eval_acc: Option<f64>,
    /// Mean per-class accuracy on the evaluated split, if evaluated.
    pub eval_mean_per_class: Option<f64>,
    /// Seconds spent training (not evaluating) in this epoch.
    pub train_seconds: f64,
    /// Training images per second.
    pub train_images_per_second: f64,
}

/// What [`train`] returns.
#[derive(Debug)]
pub struct TrainReport {
    /// The final model (the best epoch's weights when early stopping chose one).
    pub model: Model,
    /// Per-epoch figures.
    pub history: Vec<EpochRecord>,
    /// `val` or `test`: the split evaluated after each epoch.
    pub eval_split: String,
    /// Metrics of the final model on the test split (validation when there is no test split);
    /// `None` when both are empty.
    pub metrics: Option<ClassificationMetrics>,
    /// The epoch whose weights were kept (the last one without early stopping).
    pub best_epoch: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Whether the configured epochs all ran (false when stopped by
    /// [`TrainOptions::max_epochs_this_run`]).
    pub finished: bool,
}

/// `history.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HistoryFile {
    config: TrainConfig,
    eval_split: String,
    best_epoch: usize,
    stopped_early: bool,
    epochs: Vec<EpochRecord>,
}

/// `checkpoint/epoch-NNNN/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    config: TrainConfig,
    /// Epochs completed.
    epoch: usize,
    /// Optimizer steps taken.
    step: u64,
    history: Vec<EpochRecord>,
    best_acc: Option<f64>,
    best_epoch: usize,
    bad_epochs: usize,
    stopped_early: bool,
}

const CHECKPOINT_DIR: &str = "checkpoint";
const LATEST: &str = "latest.json";
const BEST_WEIGHTS: &str = "best.safetensors";
const OPTIMIZER_STATE: &str = "optimizer.safetensors";

/// Trains on `data` as `config` says and writes the results into `out_dir` (see the module
/// documentation).
pub fn train(
    data: &ImageDataset,
    config: &TrainConfig,
    out_dir: &Path,
    options: &TrainOptions,
) -> Result<TrainReport, NnError> {
    config.validate()?;
    let spec = config.model_spec(data)?;
    train_spec(data, spec, config, out_dir, options)
}

/// [`train`] with an explicit architecture (`config.arch` is only recorded).
pub fn train_spec(
    data: &ImageDataset,
    spec: ModelSpec,
    config: &TrainConfig,
    out_dir: &Path,
    options: &TrainOptions,
) -> Result<TrainReport, NnError> {
    config.validate()?;
    let size = config.input_size_for(data.side);
    if spec.input != [size, size, data.channels] {
        return Err(NnError::option(
            "arch",
            format!(
                "model `{}` takes {:?} inputs but training feeds {size}x{size}x{} crops of the \
                 {}x{} images",
                spec.name, spec.input, data.channels, data.side, data.side
            ),
        ));
    }
    if spec.num_classes != data.num_classes() {
        return Err(NnError::option(
            "arch",
            format!(
                "model `{}` predicts {} classes but the dataset has {}",
                spec.name,
                spec.num_classes,
                data.num_classes()
            ),
        ));
    }
    if data.train.is_empty() {
        return Err(NnError::option("dataset", "the training split is empty"));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .build()
        .map_err(|e| NnError::option("threads", e.to_string()))?;
    pool.install(|| Run::new(data, spec, config, out_dir, options)?.run())
}

/// The state of one run.
struct Run<'a> {
    data: &'a ImageDataset,
    config: &'a TrainConfig,
    options: &'a TrainOptions,
    out_dir: PathBuf,
    model: Model,
    optimizer: Optimizer,
    state: CheckpointState,
    best_weights: Option<BTreeMap<String, ArrayD<f32>>>,
    eval_split: &'static str,
    size: usize,
}

impl<'a> Run<'a> {
    fn new(
        data: &'a ImageDataset,
        spec: ModelSpec,
        config: &'a TrainConfig,
        out_dir: &Path,
        options: &'a TrainOptions,
    ) -> Result<Self, NnError> {
        std::fs::create_dir_all(out_dir).map_err(|e| NnError::io(out_dir, e))?;
        let eval_split = if !data.val.is_empty() { "val" } else { "test" };
        let mut run = Run {
            data,
            config,
            options,
            out_dir: out_dir.to_owned(),
            model: Model::new(spec.clone(), config.seed)?,
            optimizer: Optimizer::new(config.optimizer.clone()),
            state: CheckpointState {
                config: config.clone(),
                epoch: 0,
                step: 0,
                history: vec![],
                best_acc: None,
                best_epoch: 0,
                bad_epochs: 0,
                stopped_early: false,
            },
            best_weights: None,
            eval_split,
            size: config.input_size_for(data.side),
        };
        if options.resume {
            run.restore(&spec)?;
        }
        Ok(run)
    }

    fn early_stopping(&self) -> bool {
        self.config.early_stopping_patience.is_some() && !self.data.val.is_empty()
    }

    fn run(mut self) -> Result<TrainReport, NnError> {
        let data = self.data;
        let steps_per_epoch = if self.config.drop_last {
            data.train.len() / self.config.batch_size
        } else {
            data.train.len().div_ceil(self.config.batch_size)
        };
        let schedule = self
            .config
            .schedule
            .build(steps_per_epoch, self.config.epochs)?;
        let class_weights = (self.config.class_balance > 0.0).then(|| {
            class_weights(
                &data.labels_of(&data.train),
                data.num_classes(),
                self.config.class_balance,
            )
        });
        let show_bar = self.options.progress && std::io::stderr().is_terminal();
        let mut ran = 0;
        while self.state.epoch < self.config.epochs && !self.state.stopped_early {
            if self
                .options
                .max_epochs_this_run
                .is_some_and(|max| ran >= max)
            {
                break;
            }
            let epoch = self.state.epoch;
            let batches = epoch_batches(
                &data.train,
                self.config.batch_size,
                self.config.seed,
                epoch as u64,
                self.config.drop_last,
            );
            let bar = if show_bar {
                let bar = ProgressBar::with_draw_target(
                    Some(batches.len() as u64),
                    ProgressDrawTarget::stderr(),
                );
                if let Ok(style) = ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {elapsed}<{eta} {msg}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_prefix(format!("epoch {}/{}", epoch + 1, self.config.epochs));
                bar
            } else {
                ProgressBar::hidden()
            };
            let started = Instant::now();
            let (mut loss_sum, mut right, mut seen) = (0f64, 0usize, 0usize);
            let mut lr = 0.0;
            let images = data.images()?;
            let norm = data.normalize()?;
            for batch in &batches {
                let x = train_batch(
                    images,
                    batch,
                    self.size,
                    &self.config.augment,
                    &norm,
                    self.config.seed,
                    epoch as u64,
                )?;
                let labels = data.labels_of(batch);
                self.model.set_dropout_seed(derive_seed(&[
                    self.config.seed,
                    0xD0,
                    self.state.step,
                ]));
                let logits = self.model.forward(x.view(), Mode::Train)?;
                let (loss, grad) = weighted_softmax_cross_entropy(
                    logits.view(),
                    &labels,
                    self.config.label_smoothing,
                    class_weights.as_deref(),
                )?;
                if !loss.is_finite() {
                    return Err(NnError::option(
                        "training",
                        format!(
                            "the loss became {loss} at epoch {} step {}; lower the learning rate",
                            epoch + 1,
                            self.state.step
                        ),
                    ));
                }
                self.model.zero_grad();
                self.model.backward(grad.view())?;
                lr = schedule.lr(self.state.step);
                self.optimizer.step(&mut self.model.params_mut(), lr)?;
                self.state.step += 1;
                loss_sum += loss as f64 * batch.len() as f64;
                right += count_right(&logits, &labels);
                seen += batch.len();
                bar.inc(1);
                bar.set_message(format!(
                    "loss {:.4} acc {:.3} lr {lr:.4}",
                    loss_sum / seen as f64,
                    right as f64 / seen as f64
                ));
            }
            bar.finish_and_clear();
            let train_seconds = started.elapsed().as_secs_f64();
            let mut record = EpochRecord {
                epoch: epoch + 1,
                lr,
                train_loss: loss_sum / seen.max(1) as f64,
                train_acc: right as f64 / seen.max(1) as f64,
                train_seconds,
                train_images_per_second: seen as f64 / train_seconds.max(1e-9),
                ..Default::default()
            };
            let eval_indices = if self.eval_split == "val" {
                &data.val
            } else {
                &data.test
            };
            if self.config.eval_every_epoch && !eval_indices.is_empty() {
                let m = evaluate_indices(
                    &mut self.model,
                    data,
                    eval_indices,
                    self.config.eval_batch_size,
                    self.config.label_smoothing,
                )?;
                record.eval_loss = m.loss;
                record.eval_acc = Some(m.top1);
                record.eval_mean_per_class = Some(m.mean_per_class_accuracy);
            }
            self.update_early_stopping(&record);
            if self.options.progress {
                eprintln!("{}", describe(&record, self.eval_split));
            }
            self.state.history.push(record);
            self.state.epoch += 1;
            ran += 1;
            self.save_checkpoint()?;
        }
        let finished = self.state.epoch >= self.config.epochs || self.state.stopped_early;
        self.finish(finished)
    }

    fn update_early_stopping(&mut self, record: &EpochRecord) {
        if !self.early_stopping() {
            self.state.best_epoch = record.epoch;
            return;
        }
        let acc = record.eval_acc.unwrap_or(0.0);
        if self.state.best_acc.is_none_or(|best| acc > best) {
            self.state.best_acc = Some(acc);
            self.state.best_epoch = record.epoch;
            self.state.bad_epochs = 0;
            self.best_weights = Some(self.model.weights());
        } else {
            self.state.bad_epochs += 1;
            if self
                .config
                .early_stopping_patience
                .is_some_and(|p| self.state.bad_epochs >= p)
            {
                self.state.stopped_early = true;
            }
        }
    }

    fn checkpoint_root(&self) -> PathBuf {
        self.out_dir.join(CHECKPOINT_DIR)
    }

    fn save_checkpoint(&mut self) -> Result<(), NnError> {
        let root = self.checkpoint_root();
        std::fs::create_dir_all(&root).map_err(|e| NnError::io(&root, e))?;
        let name = format!("epoch-{:04}", self.state.epoch);
        let tmp = root.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| NnError::io(&tmp, e))?;
        }
        io::save_model(&self.model, &tmp)?;
        let params = self.model.params();
        write_tensors(
            &tmp.join(OPTIMIZER_STATE),
            &self.optimizer.state_tensors(&params),
        )?;
        if let Some(best) = &self.best_weights {
            write_tensors(&tmp.join(BEST_WEIGHTS), best)?;
        }
        let state_path = tmp.join("state.json");
        let json = serde_json::to_vec_pretty(&self.state)
            .map_err(|e| NnError::format(&state_path, e.to_string()))?;
        write_atomic(&state_path, &json)?;
        let dir = root.join(&name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| NnError::io(&dir, e))?;
        }
        std::fs::rename(&tmp, &dir).map_err(|e| NnError::io(&dir, e))?;
        let latest = serde_json::json!({ "checkpoint": name, "epoch": self.state.epoch });
        write_atomic(&root.join(LATEST), latest.to_string().as_bytes())?;
        if let Ok(entries) = std::fs::read_dir(&root) {
            for entry in entries.flatten() {
                let n = entry.file_name().to_string_lossy().into_owned();
                // Older epochs, and temporaries left by an interrupted earlier run.
                if (n.starts_with("epoch-") || n.starts_with(".epoch-")) && n != name {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        Ok(())
    }

    fn restore(&mut self, spec: &ModelSpec) -> Result<(), NnError> {
        let root = self.checkpoint_root();
        let latest_path = root.join(LATEST);
        if !latest_path.exists() {
            if self.options.progress {
                eprintln!("no checkpoint in {}: starting from scratch", root.display());
            }
            return Ok(());
        }
        let latest: serde_json::Value = read_json(&latest_path)?;
        let name = latest
            .get("checkpoint")
            .and_then(|v| v.as_str())
            .filter(|n| n.starts_with("epoch-") && !n.contains(['/', '\\']))
            .ok_or_else(|| NnError::format(&latest_path, "no valid `checkpoint` field"))?;
        let dir = root.join(name);
        let state_path = dir.join("state.json");
        let state: CheckpointState = read_json(&state_path)?;
        let mut saved = state.config.clone();
        saved.threads = self.config.threads;
        if saved != *self.config {
            return Err(NnError::format(
                &state_path,
                format!(
                    "the checkpoint was made with a different configuration; resume with the \
                     same options or start afresh in another folder.\n  checkpoint: {}\n  now:        {}",
                    serde_json::to_string(&state.config).unwrap_or_default(),
                    serde_json::to_string(self.config).unwrap_or_default()
                ),
            ));
        }
        let model = io::load_model(&dir)?;
        if model.spec() != spec {
            return Err(NnError::format(
                dir.join(io::SPEC_FILE),
                "the checkpoint's architecture differs from the configured one",
            ));
        }
        let opt_path = dir.join(OPTIMIZER_STATE);
        let tensors = io::load_weights(&opt_path)?;
        let mut optimizer = Optimizer::new(self.config.optimizer.clone());
        optimizer
            .load_state_tensors(&model.params(), &tensors)
            .map_err(|e| NnError::format(&opt_path, e.to_string()))?;
        let best_path = dir.join(BEST_WEIGHTS);
        self.best_weights = if best_path.exists() {
            Some(io::load_weights(&best_path)?)
        } else {
            None
        };
        self.model = model;
        self.optimizer = optimizer;
        self.state = state;
        self.state.config = self.config.clone();
        if self.options.progress {
            eprintln!(
                "resuming from {} (epoch {} of {})",
                dir.display(),
                self.state.epoch,
                self.config.epochs
            );
        }
        Ok(())
    }

    fn finish(mut self, finished: bool) -> Result<TrainReport, NnError> {
        if finished
            && self.early_stopping()
            && let Some(best) = self.best_weights.take()
        {
            self.model = Model::from_weights(self.model.spec().clone(), &best)?;
        }
        let data = self.data;
        let final_split = if !data.test.is_empty() {
            &data.test
        } else {
            &data.val
        };
        let metrics = if finished && !final_split.is_empty() {
            Some(evaluate_indices(
                &mut self.model,
                data,
                final_split,
                self.config.eval_batch_size,
                self.config.label_smoothing,
            )?)
        } else {
            None
        };
        let history = self.state.history.clone();
        let out = &self.out_dir;
        if finished {
            io::save_model(&self.model, out)?;
            if let Some(m) = &metrics {
                m.write_json(&out.join("metrics.json"))?;
                plot::write_confusion_png(&out.join("confusion.png"), &m.confusion_matrix)?;
            }
        }
        let file = HistoryFile {
            config: self.config.clone(),
            eval_split: self.eval_split.into(),
            best_epoch: self.state.best_epoch,
            stopped_early: self.state.stopped_early,
            epochs: history.clone(),
        };
        let path = out.join("history.json");
        let json =
            serde_json::to_vec_pretty(&file).map_err(|e| NnError::format(&path, e.to_string()))?;
        write_atomic(&path, &json)?;
        plot::write_curves_svg(&out.join("curves.svg"), &history, self.eval_split)?;
        Ok(TrainReport {
            model: self.model,
            history,
            eval_split: self.eval_split.into(),
            metrics,
            best_epoch: self.state.best_epoch,
            stopped_early: self.state.stopped_early,
            finished,
        })
    }
}

fn describe(r: &EpochRecord, eval_split: &str) -> String {
    let mut line = format!(
        "epoch {:>3}: lr {:.5} train loss {:.4} acc {:.4} ({:.1} s, {:.0} img/s)",
        r.epoch, r.lr, r.train_loss, r.train_acc, r.train_seconds, r.train_images_per_second
    );
    if let (Some(l), Some(a), Some(m)) = (r.eval_loss, r.eval_acc, r.eval_mean_per_class) {
        line.push_str(&format!(
            "; {eval_split} loss {l:.4} top1 {a:.4} mean/class {m:.4}"
        ));
    }
    line
}

fn count_right(logits: &Array2<f32>, labels: &[usize]) -> usize {
    logits
        .rows()
        .into_iter()
        .zip(labels)
        .filter(|(row, label)| {
            row.as_slice()
                .map(argmax)
                .unwrap_or_else(|| argmax(&row.to_vec()))
                == **label
        })
        .count()
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, NnError> {
    let bytes = std::fs::read(path).map_err(|e| NnError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| NnError::format(path, e.to_string()))
}

/// Per-class loss weights `(n_c / n_mean)^-power` for training labels `labels` over
/// `classes` classes, scaled so that their mean over the examples is 1 (a class without
/// examples gets weight 0: it never occurs).
pub fn class_weights(labels: &[usize], classes: usize, power: f32) -> Vec<f32> {
    let mut counts = vec![0usize; classes];
    for &y in labels {
        if let Some(c) = counts.get_mut(y) {
            *c += 1;
        }
    }
    let mean = labels.len() as f64 / classes.max(1) as f64;
    let raw: Vec<f64> = counts
        .iter()
        .map(|&n| {
            if n == 0 {
                0.0
            } else {
                (n as f64 / mean).powf(-(power as f64))
            }
        })
        .collect();
    let total: f64 = counts.iter().zip(&raw).map(|(&n, w)| n as f64 * w).sum();
    let scale = if total > 0.0 {
        labels.len() as f64 / total
    } else {
        1.0
    };
    raw.iter().map(|w| (w * scale) as f32).collect()
}

/// Writes named `f32` tensors as a safetensors file, atomically.
pub fn write_tensors(path: &Path, tensors: &BTreeMap<String, ArrayD<f32>>) -> Result<(), NnError> {
    let raw: Vec<(&String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let bytes = t.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name, t.shape().to_vec(), bytes)
        })
        .collect();
    let mut views = Vec::with_capacity(raw.len());
    for (name, shape, bytes) in &raw {
        let view =
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map_err(|e| NnError::format(path, format!("tensor `{name}`: {e}")))?;
        views.push((name.as_str(), view));
    }
    let info = HashMap::from([("format".to_string(), "kfp-rs".to_string())]);
    let bytes = safetensors::serialize(views, Some(info))
        .map_err(|e| NnError::format(path, e.to_string()))?;
    write_atomic(path, &bytes)
}

/// The logits of the images `indices` (centre crops at the model's input size).
pub fn predict_indices(
    model: &mut Model,
    data: &ImageDataset,
    indices: &[usize],
    batch_size: usize,
) -> Result<Array2<f32>, NnError> {
    let [h, w, c] = model.spec().input;
    if h != w || c != data.channels {
        return Err(NnError::option(
            "model",
            format!(
                "model `{}` takes {h}x{w}x{c} inputs; the dataset has square {}-channel images",
                model.spec().name,
                data.channels
            ),
        ));
    }
    let images = data.images()?;
    let norm = data.normalize()?;
    let mut parts = Vec::new();
    // A few batches at a time, so that the f32 copy of a large split is never whole.
    for chunk in sequential_batches(indices, batch_size.max(1) * 4) {
        let x = eval_batch(images, &chunk, h, &norm)?;
        parts.push(model.predict(x.view(), batch_size)?);
    }
    if parts.is_empty() {
        return Ok(Array2::zeros((0, model.spec().num_classes)));
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    concatenate(Axis(0), &views).map_err(|e| NnError::option("predict", e.to_string()))
}

/// The metrics of `model` on the images `indices` of `data`, with the mean loss computed
/// with `label_smoothing`.
pub fn evaluate_indices(
    model: &mut Model,
    data: &ImageDataset,
    indices: &[usize],
    batch_size: usize,
    label_smoothing: f32,
) -> Result<ClassificationMetrics, NnError> {
    let logits = predict_indices(model, data, indices, batch_size)?;
    let labels = data.labels_of(indices);
    let loss = if labels.is_empty() {
        None
    } else {
        Some(softmax_cross_entropy(logits.view(), &labels, label_smoothing)?.0 as f64)
    };
    ClassificationMetrics::from_logits(logits.view(), &labels, &data.classes, loss)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn class_weights_balance_the_classes() {
        // 6 examples of class 0, 2 of class 1, 1 of class 2, none of class 3.
        let labels = [0, 0, 0, 0, 0, 0, 1, 1, 2];
        let w = class_weights(&labels, 4, 1.0);
        // Inverse frequency: every present class carries the same total weight.
        let totals = [6.0 * w[0], 2.0 * w[1], w[2]];
        assert!(totals.iter().all(|t| (t - totals[0]).abs() < 1e-5), "{w:?}");
        assert_eq!(w[3], 0.0);
        let mean: f32 = labels.iter().map(|&y| w[y]).sum::<f32>() / labels.len() as f32;
        assert!((mean - 1.0).abs() < 1e-6);
        // Square root: class 1 has 3x fewer images than class 0, so sqrt(3)x the weight.
        let s = class_weights(&labels, 4, 0.5);
        assert!((s[1] / s[0] - 3f32.sqrt()).abs() < 1e-5, "{s:?}");
        // Power 0: all ones.
        assert!(
            class_weights(&labels, 3, 0.0)
                .iter()
                .all(|&v| (v - 1.0).abs() < 1e-6)
        );
    }
    use crate::nn::spec::{LayerSpec, Padding};
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    /// `per_class` images per class of 4 classes of coloured shapes on a noisy grey
    /// background, `side x side`: a red square, a green disc, a blue horizontal bar, a yellow
    /// cross, each at a random position and size. Split codes cycle train, train, train,
    /// val, test.
    pub(crate) fn shapes_dataset(per_class: usize, side: usize, seed: u64) -> ImageDataset {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut pixels = Vec::new();
        let (mut labels, mut codes) = (vec![], vec![]);
        for i in 0..per_class * 4 {
            let class = i % 4;
            let r = rng.random_range(side as i64 / 5..side as i64 / 3) as isize;
            let cy = rng.random_range(r as i64..side as i64 - r as i64) as isize;
            let cx = rng.random_range(r as i64..side as i64 - r as i64) as isize;
            let colour: [u8; 3] =
                [[220, 40, 40], [40, 200, 60], [50, 60, 220], [230, 210, 40]][class];
            for y in 0..side as isize {
                for x in 0..side as isize {
                    let (dy, dx) = (y - cy, x - cx);
                    let inside = match class {
                        0 => dy.abs() <= r && dx.abs() <= r,
                        1 => dy * dy + dx * dx <= r * r,
                        2 => dy.abs() <= r / 3 && dx.abs() <= r + 1,
                        _ => {
                            (dy.abs() <= r / 3 && dx.abs() <= r)
                                || (dx.abs() <= r / 3 && dy.abs() <= r)
                        }
                    };
                    for &c in &colour {
                        let noise = rng.random_range(0..40u8);
                        pixels.push(if inside {
                            c.saturating_sub(noise / 2)
                        } else {
                            100 + noise
                        });
                    }
                }
            }
            labels.push(class);
            codes.push([0u8, 0, 0, 1, 2][(i / 4) % 5]);
        }
        let classes = ["square", "disc", "bar", "cross"]
            .map(String::from)
            .to_vec();
        ImageDataset::from_parts(pixels, side, 3, labels, classes, &codes).unwrap()
    }

    pub(crate) fn tiny_spec(side: usize) -> ModelSpec {
        ModelSpec {
            name: "tiny".into(),
            input: [side, side, 3],
            num_classes: 4,
            layers: vec![
                LayerSpec::conv("c1", 8, 3, 1, Padding::Same),
                LayerSpec::batch_norm("bn1"),
                LayerSpec::Relu,
                LayerSpec::MaxPool { size: 2, stride: 2 },
                LayerSpec::conv("c2", 16, 3, 1, Padding::Same),
                LayerSpec::batch_norm("bn2"),
                LayerSpec::Relu,
                LayerSpec::GlobalAvgPool,
                LayerSpec::Dropout { rate: 0.1 },
                LayerSpec::dense("fc", 4),
            ],
        }
    }

    fn config(epochs: usize) -> TrainConfig {
        TrainConfig {
            arch: "tiny".into(),
            input_size: Some(16),
            epochs,
            batch_size: 16,
            threads: 2,
            augment: AugmentConfig {
                pad: 1,
                random_crop: true,
                flip: true,
            },
            ..Default::default()
        }
    }

    #[test]
    fn learning_happens_on_synthetic_shapes() -> Result<(), Box<dyn std::error::Error>> {
        let data = shapes_dataset(40, 16, 1);
        let out = tempfile::tempdir()?;
        let report = train_spec(
            &data,
            tiny_spec(16),
            &config(8),
            out.path(),
            &TrainOptions::quiet(),
        )?;
        let first = report.history[0].train_loss;
        let last = report.history.last().ok_or("no history")?.train_loss;
        // Chance level with 4 classes is ln 4 = 1.386 (with label smoothing 0.1 the floor is
        // about 0.28); learning must bring the training loss well below chance.
        assert!(last < 0.9, "training loss {first} -> {last}");
        let m = report.metrics.ok_or("no metrics")?;
        assert!(m.top1 > 0.6, "test top-1 {}", m.top1);
        for f in [
            "model.json",
            "model.safetensors",
            "metrics.json",
            "history.json",
            "curves.svg",
            "confusion.png",
            "checkpoint/latest.json",
        ] {
            assert!(out.path().join(f).is_file(), "{f}");
        }
        Ok(())
    }

    #[test]
    fn same_seed_same_weights_and_resume_is_exact() -> Result<(), Box<dyn std::error::Error>> {
        let data = shapes_dataset(12, 16, 2);
        let cfg = config(3);
        let a = tempfile::tempdir()?;
        let full = train_spec(&data, tiny_spec(16), &cfg, a.path(), &TrainOptions::quiet())?;
        let b = tempfile::tempdir()?;
        let again = train_spec(&data, tiny_spec(16), &cfg, b.path(), &TrainOptions::quiet())?;
        assert_eq!(
            full.model.weights(),
            again.model.weights(),
            "same seed, same weights"
        );

        let c = tempfile::tempdir()?;
        let first = TrainOptions {
            max_epochs_this_run: Some(1),
            ..TrainOptions::quiet()
        };
        let part = train_spec(&data, tiny_spec(16), &cfg, c.path(), &first)?;
        assert!(!part.finished && part.history.len() == 1);
        let second = TrainOptions {
            max_epochs_this_run: Some(1),
            resume: true,
            ..TrainOptions::quiet()
        };
        train_spec(&data, tiny_spec(16), &cfg, c.path(), &second)?;
        let rest = TrainOptions {
            resume: true,
            ..TrainOptions::quiet()
        };
        let resumed = train_spec(&data, tiny_spec(16), &cfg, c.path(), &rest)?;
        assert!(resumed.finished);
        let untimed = |h: &[EpochRecord]| -> Vec<EpochRecord> {
            h.iter()
                .map(|r| EpochRecord {
                    train_seconds: 0.0,
                    train_images_per_second: 0.0,
                    ..r.clone()
                })
                .collect()
        };
        assert_eq!(untimed(&resumed.history), untimed(&full.history));
        assert_eq!(
            resumed.model.weights(),
            full.model.weights(),
            "resumed = uninterrupted"
        );

        let other = TrainConfig { seed: 9, ..cfg };
        let err = train_spec(&data, tiny_spec(16), &other, c.path(), &rest).unwrap_err();
        assert!(err.to_string().contains("different configuration"), "{err}");
        let different = train_spec(
            &data,
            tiny_spec(16),
            &other,
            tempfile::tempdir()?.path(),
            &TrainOptions::quiet(),
        )?;
        assert_ne!(different.model.weights(), full.model.weights());
        Ok(())
    }

    #[test]
    fn early_stopping_keeps_the_best_epoch() -> Result<(), Box<dyn std::error::Error>> {
        let data = shapes_dataset(8, 16, 3);
        // A learning rate this high makes validation accuracy stall quickly.
        let mut cfg = config(12);
        cfg.early_stopping_patience = Some(2);
        cfg.schedule.lr = 0.5;
        let out = tempfile::tempdir()?;
        let report = train_spec(
            &data,
            tiny_spec(16),
            &cfg,
            out.path(),
            &TrainOptions::quiet(),
        )?;
        let accs: Vec<f64> = report
            .history
            .iter()
            .map(|r| r.eval_acc.unwrap_or(0.0))
            .collect();
        let best = accs.iter().cloned().fold(f64::MIN, f64::max);
        let first_best = accs.iter().position(|&a| a == best).ok_or("no best")? + 1;
        assert_eq!(report.best_epoch, first_best);
        if report.stopped_early {
            assert_eq!(report.history.len(), first_best + 2);
        } else {
            assert_eq!(report.history.len(), 12);
        }
        // The kept weights are the best epoch's: evaluating them gives its accuracy.
        let mut model = report.model;
        let m = evaluate_indices(&mut model, &data, &data.val, 64, 0.1)?;
        assert_eq!(m.top1, best);
        Ok(())
    }

    #[test]
    fn early_stopping_stops_when_nothing_improves() -> Result<(), Box<dyn std::error::Error>> {
        // Learning rate 0 and no BatchNorm: the model never changes, so validation accuracy
        // never improves after the first epoch and patience 2 stops after epoch 3.
        let data = shapes_dataset(4, 16, 5);
        let spec = ModelSpec {
            name: "frozen".into(),
            input: [16, 16, 3],
            num_classes: 4,
            layers: vec![
                LayerSpec::conv("c1", 4, 3, 2, Padding::Same),
                LayerSpec::Relu,
                LayerSpec::GlobalAvgPool,
                LayerSpec::dense("fc", 4),
            ],
        };
        let mut cfg = config(10);
        cfg.early_stopping_patience = Some(2);
        cfg.schedule.lr = 0.0;
        let out = tempfile::tempdir()?;
        let report = train_spec(&data, spec, &cfg, out.path(), &TrainOptions::quiet())?;
        assert!(report.stopped_early && report.finished);
        assert_eq!(report.history.len(), 3);
        assert_eq!(report.best_epoch, 1);
        Ok(())
    }

    #[test]
    fn bad_configs_are_reported() {
        let data = shapes_dataset(2, 16, 4);
        let dir = tempfile::tempdir().unwrap();
        let q = TrainOptions::quiet();
        let bad = TrainConfig {
            epochs: 0,
            ..config(1)
        };
        assert!(
            train_spec(&data, tiny_spec(16), &bad, dir.path(), &q)
                .unwrap_err()
                .to_string()
                .contains("epochs")
        );
        let bad = TrainConfig {
            input_size: Some(12),
            ..config(1)
        };
        assert!(
            train_spec(&data, tiny_spec(16), &bad, dir.path(), &q)
                .unwrap_err()
                .to_string()
                .contains("12x12")
        );
        let bad = TrainConfig {
            arch: "resnet-9000".into(),
            ..config(1)
        };
        assert!(
            train(&data, &bad, dir.path(), &q)
                .unwrap_err()
                .to_string()
                .contains("resnet-9000")
        );
        let cfg: TrainConfig =
            serde_json::from_str(r#"{"epochs": 3, "optimizer": {"kind": "adamw"}}"#).unwrap();
        assert_eq!(cfg.batch_size, 32);
        assert!(serde_json::from_str::<TrainConfig>(r#"{"epoch": 3}"#).is_err());
    }
}
