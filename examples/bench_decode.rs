//! W4 benchmark, our side: decode and resize every Caltech101 category image straight from the
//! archive, in parallel, into memory. Prints one JSON line per run (see
//! `bench/decode_caltech101.sh`, which runs this beside Pillow).
//!
//! ```text
//! cargo run --release --example bench_decode -- --source ../shared/caltech101/101_ObjectCategories.tar.gz --size 64
//! ```
//!
//! Peak memory is the process's peak resident set (`VmHWM`), so run one size per process.
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use kfp_components::caltech101::{self, LoadOptions, decode::ResizeMode};

/// Time loading Caltech101 (read + decode + resize + split) at one size.
#[derive(Parser, Debug)]
struct Args {
    /// The archive (or folder).
    #[arg(long)]
    source: PathBuf,
    /// The side of the square images.
    #[arg(long, default_value_t = 64)]
    size: u32,
    /// stretch, center-crop or letterbox.
    #[arg(long, default_value = "stretch")]
    mode: ResizeMode,
    /// Decode at full size (no DCT-domain downscaling).
    #[arg(long)]
    no_dct_scaling: bool,
    /// Runs; the best time is reported.
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    /// Also write the artifact here after the timed runs, and time that.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut options = LoadOptions::new(args.size);
    options.image = options
        .image
        .with_mode(args.mode)
        .with_dct_scaling(!args.no_dct_scaling);
    let mut best = f64::INFINITY;
    let mut data = None;
    for _ in 0..args.repeat.max(1) {
        drop(data.take());
        let started = Instant::now();
        let loaded = caltech101::load(&args.source, &options)?;
        best = best.min(started.elapsed().as_secs_f64());
        data = Some(loaded);
    }
    let Some(data) = data else {
        anyhow::bail!("no run");
    };
    let write_seconds = match &args.out {
        Some(out) => {
            let started = Instant::now();
            caltech101::artifact::write(&data, out)?;
            Some(started.elapsed().as_secs_f64())
        }
        None => None,
    };
    let line = serde_json::json!({
        "tool": "kfp-rs",
        "variant": if args.no_dct_scaling { "full decode" } else { "dct scaling" },
        "size": args.size,
        "mode": args.mode.name(),
        "images": data.len(),
        "seconds": best,
        "images_per_s": data.len() as f64 / best,
        "peak_rss_mb": peak_rss_mb(),
        "output_mb": (data.len() * data.image.image_bytes()) as f64 / 1e6,
        "threads": rayon_threads(),
        "write_seconds": write_seconds,
        "repeat": args.repeat.max(1),
    });
    println!("{line}");
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
