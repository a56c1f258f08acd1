//! W2 benchmark, our side: training and inference speed of a built-in CNN on random data.
//!
//! ```text
//! cargo run --release --example bench_train -- --arch caltech-s --size 64 --batch 32 --threads 2
//! ```
//!
//! Times `--steps` training steps (forward in training mode, softmax cross-entropy, backward,
//! SGD with momentum 0.9) after `--warmup` untimed ones, then as many inference passes
//! (forward in evaluation mode) on batches of the same size. Prints exactly one line on
//! stdout, `train_img_per_s=<x> infer_img_per_s=<y>`; everything else (peak memory from
//! `VmHWM`, the per-layer profile with `--profile`) goes to stderr. Peak memory is the
//! process's, so run one configuration per process.
use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use kfp_components::nn::loss::softmax_cross_entropy;
use kfp_components::nn::model::{Mode, Model};
use kfp_components::nn::optim::{Optimizer, OptimizerConfig};
use kfp_components::nn::zoo;
use ndarray::Array4;

/// Measure training and inference images/s of a built-in architecture on random data.
#[derive(Parser, Debug)]
struct Args {
    /// Architecture (see `kfp_components::nn::zoo::names`).
    #[arg(long, default_value = "caltech-s")]
    arch: String,
    /// Side of the square RGB input.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Threads of the rayon pool everything runs in.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Untimed steps first (buffers, caches, CPU frequency).
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Timed steps (training and inference each).
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Number of classes.
    #[arg(long, default_value_t = 101)]
    classes: usize,
    /// Print the time per layer and pass to stderr.
    #[arg(long)]
    profile: bool,
}

/// SplitMix64: a tiny seeded generator for the random inputs.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Standard normal values (Box-Muller).
fn normal(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    let mut unit = move || ((splitmix(&mut s) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    (0..len)
        .map(|_| {
            let (u, v) = (unit(), unit());
            ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
        })
        .collect()
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Prints the mean time per profile entry (entries of one step come in layer order).
fn report_profile(what: &str, entries: &[(String, f64)], steps: usize) {
    if steps == 0 || entries.is_empty() {
        return;
    }
    let per_step = entries.len() / steps;
    let mut totals: Vec<(String, f64)> = entries[..per_step]
        .iter()
        .map(|(k, _)| (k.clone(), 0.0))
        .collect();
    for (i, (_, t)) in entries.iter().enumerate() {
        totals[i % per_step].1 += t / steps as f64;
    }
    let sum: f64 = totals.iter().map(|t| t.1).sum();
    eprintln!("{what}: {:.2} ms per step in layers", sum * 1e3);
    let mut by_kind: BTreeMap<String, f64> = BTreeMap::new();
    for (i, (k, t)) in totals.iter().enumerate() {
        eprintln!("  {i:3} {k:20} {:8.3} ms {:5.1}%", t * 1e3, 100.0 * t / sum);
        *by_kind.entry(k.clone()).or_default() += t;
    }
    for (k, t) in by_kind {
        eprintln!("  total {k:20} {:8.3} ms {:5.1}%", t * 1e3, 100.0 * t / sum);
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.batch > 0 && args.steps > 0,
        "--batch and --steps must be at least 1"
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .context("building the thread pool")?;
    let spec = zoo::by_name(&args.arch, args.size, args.classes)?;
    let (train, infer) = pool.install(|| -> anyhow::Result<(f64, f64)> {
        let mut model = Model::new(spec, 0)?;
        eprintln!(
            "{} at {}x{}, batch {}, {} threads: {} parameters",
            args.arch,
            args.size,
            args.size,
            args.batch,
            rayon::current_num_threads(),
            model.num_parameters()
        );
        let x = Array4::from_shape_vec(
            (args.batch, args.size, args.size, 3),
            normal(args.batch * args.size * args.size * 3, 1),
        )?;
        let labels: Vec<usize> = (0..args.batch as u64)
            .map(|i| (splitmix(&mut (i + 7)) % args.classes as u64) as usize)
            .collect();
        let mut opt = Optimizer::new(OptimizerConfig::sgd(0.9, false, 0.0));
        let mut step = |model: &mut Model| -> anyhow::Result<f32> {
            let logits = model.forward(x.view(), Mode::Train)?;
            let (loss, grad) = softmax_cross_entropy(logits.view(), &labels, 0.0)?;
            model.zero_grad();
            model.backward(grad.view())?;
            opt.step(&mut model.params_mut(), 0.01)?;
            Ok(loss)
        };
        for _ in 0..args.warmup {
            step(&mut model)?;
        }
        model.set_profiling(args.profile);
        let started = Instant::now();
        let mut loss = 0.0;
        for _ in 0..args.steps {
            loss = step(&mut model)?;
        }
        let train = (args.steps * args.batch) as f64 / started.elapsed().as_secs_f64();
        eprintln!("last training loss {loss:.4}");
        report_profile("training step", &model.take_profile(), args.steps);
        model.set_profiling(false);
        for _ in 0..args.warmup {
            model.forward(x.view(), Mode::Eval)?;
        }
        model.set_profiling(args.profile);
        let started = Instant::now();
        for _ in 0..args.steps {
            model.forward(x.view(), Mode::Eval)?;
        }
        let infer = (args.steps * args.batch) as f64 / started.elapsed().as_secs_f64();
        report_profile("inference", &model.take_profile(), args.steps);
        Ok((train, infer))
    })?;
    if let Some(mb) = peak_rss_mb() {
        eprintln!("peak_rss_mb={mb:.0}");
    }
    println!("train_img_per_s={train:.1} infer_img_per_s={infer:.1}");
    Ok(())
}
