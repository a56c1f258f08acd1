//! Benchmark W1 (see `docs/benchmarks.md`): build and compile "chain" pipelines of n tasks to
//! Argo YAML, in-process, and print one JSON line per size.
//!
//! ```text
//! cargo run --release --example bench_compile -- --sizes 10,100,1000,10000 --repeat 5
//! ```
//! Each step takes a float and a Dataset from the task before it and the pipeline parameter
//! `lr`, the shape of the kfp and Hera scripts in `bench/`.
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use kfp_sdk::argo::{self, ArgoOptions};
use kfp_sdk::dsl::PipelineBuilder;
use kfp_sdk::prelude::*;

/// The outputs of every task in the chain.
#[derive(ComponentOutputs)]
struct StepOutputs {
    y: f64,
}

/// The first task: writes a dataset and a number.
#[component]
fn source(data_out: Output<Dataset>) -> StepOutputs {
    let _ = std::fs::write(data_out.path(), b"0");
    StepOutputs { y: 0.0 }
}

/// One link of the chain.
#[component]
fn step(x: f64, lr: f64, data_in: Input<Dataset>, data_out: Output<Dataset>) -> StepOutputs {
    let _ = std::fs::copy(data_in.path(), data_out.path());
    StepOutputs { y: x + lr }
}

#[derive(Parser)]
struct Args {
    /// Chain lengths to measure.
    #[arg(long, value_delimiter = ',', default_value = "10,100,1000,10000")]
    sizes: Vec<usize>,
    /// Runs per size; the best is reported.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Write the YAML of the largest size here, to inspect or validate it.
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
}

fn chain(n: usize) -> anyhow::Result<String> {
    let builder = PipelineBuilder::new("chain");
    let lr = builder.input_with_default::<f64>("lr", 0.1);
    let graph = builder.build(|| {
        let first = source::task();
        let (mut x, mut data) = (first.outputs.y.clone(), first.outputs.data_out.clone());
        for _ in 1..n {
            let next = step::task(&x, &lr, &data);
            x = next.outputs.y.clone();
            data = next.outputs.data_out.clone();
        }
    })?;
    let t1 = Instant::now();
    let workflow = argo::compile(
        &graph,
        &ArgoOptions::new("chain:latest", "/usr/local/bin/chain"),
    )?;
    let t2 = Instant::now();
    let yaml = argo::to_yaml(&workflow)?;
    if std::env::var_os("KFP_BENCH_PHASES").is_some() {
        eprintln!("compile {:?} yaml {:?}", t2 - t1, t2.elapsed());
    }
    Ok(yaml)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    for &n in &args.sizes {
        anyhow::ensure!(n >= 1, "sizes must be at least 1");
        let mut best = f64::INFINITY;
        let mut yaml = String::new();
        for _ in 0..args.repeat.max(1) {
            let start = Instant::now();
            yaml = chain(n).with_context(|| format!("chain of {n}"))?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        println!(
            "{}",
            serde_json::json!({"tool": "kfp-rs", "n": n, "seconds": best, "bytes": yaml.len()})
        );
        if let Some(path) = &args.keep {
            std::fs::write(path, &yaml).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}
