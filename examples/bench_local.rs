//! Benchmark W6 (see `docs/benchmarks.md`): the local runner's overhead per task, on
//! pipelines of no-op components: a chain of `--chain` tasks (each waits for the one before)
//! and a fan-out of `--fanout` independent tasks. Prints one JSON line per shape.
//!
//! ```text
//! cargo run --release --example bench_local -- --chain 200 --fanout 1000
//! ```
//! Each task is a real child process (`component-exec`), with its inputs and outputs in
//! files, as in any local run; caching is off so that every task runs.
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use kfp_sdk::dsl::{ParamRef, PipelineBuilder};
use kfp_sdk::local::{self, RunOptions};
use kfp_sdk::prelude::*;

/// Does nothing but pass its number on, plus one.
#[component]
fn noop(x: i64) -> i64 {
    x + 1
}

#[derive(Parser)]
struct Args {
    /// Tasks in the chain.
    #[arg(long, default_value_t = 200)]
    chain: usize,
    /// Tasks in the fan-out.
    #[arg(long, default_value_t = 1000)]
    fanout: usize,
    /// Tasks at once [default: the number of cores].
    #[arg(long)]
    parallelism: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    // The benchmark binary is also the pipeline binary its tasks run.
    if std::env::args().nth(1).as_deref() == Some("component-exec") {
        return kfp_sdk::cli::run("bench_local")
            .eq(&std::process::ExitCode::SUCCESS)
            .then_some(())
            .context("component failed");
    }
    let args = Args::parse();
    let store = tempfile::tempdir()?;
    let mut options = RunOptions {
        store: store.path().to_owned(),
        cache: false,
        ..RunOptions::default()
    };
    if let Some(n) = args.parallelism {
        options.parallelism = n;
    }
    let shapes = [("chain", args.chain), ("fanout", args.fanout)];
    for (shape, n) in shapes {
        let builder = PipelineBuilder::new(shape);
        let graph = builder.build(|| {
            let mut x: ParamRef<i64> = ParamRef::constant(&0);
            for _ in 0..n {
                let task = noop::task(if shape == "chain" {
                    x.clone()
                } else {
                    ParamRef::constant(&0)
                });
                x = task.outputs.output.clone();
            }
        })?;
        let start = Instant::now();
        let record = local::run(&graph, Default::default(), &options)?;
        let seconds = start.elapsed().as_secs_f64();
        anyhow::ensure!(record.status == "succeeded", "the {shape} run failed");
        println!(
            "{}",
            serde_json::json!({
                "tool": "kfp-rs", "shape": shape, "tasks": n, "seconds": seconds,
                "ms_per_task": 1000.0 * seconds / n as f64, "parallelism": options.parallelism,
            })
        );
    }
    Ok(())
}
