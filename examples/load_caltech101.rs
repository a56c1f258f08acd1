//! Loads Caltech101, decodes and resizes every image, splits it, and writes the Dataset
//! artifact (see `kfp_components::caltech101::artifact` for the format).
//!
//! ```text
//! cargo run --release --example load_caltech101 -- \
//!     --source ../shared/caltech101/101_ObjectCategories.tar.gz --size 64 --out out/caltech101-64
//! cargo run --release --example load_caltech101 -- --write-synthetic /tmp/tiny.tar.gz   # no real data needed
//! ```
//!
//! Prints the class and image counts; exits non-zero with a message naming the file on a
//! missing or corrupt source.
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use kfp_components::caltech101::{
    self, BadImagePolicy, LoadOptions,
    classes::ClassSelection,
    decode::{Filter, ImageSpec, ResizeMode},
    split::{SplitOptions, SplitSpec},
    synthetic::SyntheticSpec,
};

/// Load Caltech101 into a numpy-readable Dataset artifact.
#[derive(Parser, Debug)]
#[command(name = "load_caltech101")]
struct Args {
    /// 101_ObjectCategories.tar.gz, caltech-101.zip, or an extracted folder.
    #[arg(long, required_unless_present = "write_synthetic")]
    source: Option<PathBuf>,
    /// The side of the square images.
    #[arg(long, default_value_t = 64)]
    size: u32,
    /// The artifact folder to write (replaced if it holds an earlier artifact).
    #[arg(long, required_unless_present = "write_synthetic")]
    out: Option<PathBuf>,
    /// stretch, center-crop or letterbox.
    #[arg(long, default_value = "stretch")]
    mode: ResizeMode,
    /// bilinear, catmull-rom or lanczos3.
    #[arg(long, default_value = "bilinear")]
    filter: Filter,
    /// Decode at full size instead of downscaling in the DCT domain.
    #[arg(long)]
    no_dct_scaling: bool,
    /// Fraction of each class for test (at least one image when > 0).
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Fraction of each class for validation.
    #[arg(long, default_value_t = 0.0)]
    val_fraction: f64,
    /// A fixed number of training images per class (e.g. 30) instead of fractions.
    #[arg(long)]
    train_per_class: Option<usize>,
    /// With --train-per-class: validation images per class.
    #[arg(long, default_value_t = 0)]
    val_per_class: usize,
    /// With --train-per-class: at most this many test images per class (default: the rest).
    #[arg(long)]
    test_per_class: Option<usize>,
    /// Reuse a split: a folder with train.txt / val.txt / test.txt (an artifact's splits/).
    #[arg(long)]
    split_from: Option<PathBuf>,
    /// The seed of the split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Only these classes (comma-separated folder names).
    #[arg(long, value_delimiter = ',')]
    classes: Vec<String>,
    /// Keep BACKGROUND_Google as a class.
    #[arg(long)]
    include_background: bool,
    /// skip (warn and leave out) or fail.
    #[arg(long, default_value = "skip")]
    on_bad_image: BadImagePolicy,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Write a tiny synthetic Caltech-style .tar.gz (or .zip, or folder) here and exit.
    #[arg(long, value_name = "PATH")]
    write_synthetic: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.write_synthetic {
        let spec = SyntheticSpec::small();
        let name = path.to_string_lossy();
        if name.ends_with(".zip") {
            spec.write_zip(path)
        } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            spec.write_tar_gz(path)
        } else {
            spec.write_folder(path)
        }
        .with_context(|| format!("writing {}", path.display()))?;
        println!(
            "wrote {} ({} classes, {} images)",
            path.display(),
            spec.class_names().len(),
            spec.image_count()
        );
        return Ok(());
    }
    let (Some(source), Some(out)) = (&args.source, &args.out) else {
        anyhow::bail!("--source and --out are required");
    };
    let split = match (&args.split_from, args.train_per_class) {
        (Some(dir), _) => SplitSpec::Lists { dir: dir.clone() },
        (None, Some(train)) => SplitSpec::PerClass {
            train,
            val: args.val_per_class,
            test: args.test_per_class,
        },
        (None, None) => SplitSpec::Fractions {
            val: args.val_fraction,
            test: args.test_fraction,
        },
    };
    let options = LoadOptions {
        image: ImageSpec::new(args.size)
            .with_mode(args.mode)
            .with_filter(args.filter)
            .with_dct_scaling(!args.no_dct_scaling),
        classes: ClassSelection {
            include_background: args.include_background,
            only: args.classes.clone(),
        },
        split: SplitOptions {
            spec: split,
            seed: args.seed,
        },
        on_bad_image: args.on_bad_image,
        progress: !args.quiet,
        ..LoadOptions::new(args.size)
    };
    let started = Instant::now();
    let data = caltech101::load(source, &options)?;
    let loaded = started.elapsed();
    let manifest = caltech101::artifact::write(&data, out)?;
    let [train, val, test] = data.split_counts();
    println!("source: {} ({})", source.display(), data.source_kind);
    println!("classes: {}", data.classes.len());
    println!(
        "images: {} (train {train}, val {val}, test {test})",
        data.len()
    );
    println!("skipped: {}", data.warnings.len());
    for warning in &data.warnings {
        println!("  {warning}");
    }
    if let (Some(mean), Some(std)) = (manifest.mean, manifest.std) {
        println!("train mean: {mean:.4?}, std: {std:.4?}");
    }
    println!(
        "wrote {} ({}x{} {}, {:.1} MB of pixels): loaded in {:.2} s, {:.2} s in all",
        out.display(),
        args.size,
        args.size,
        data.image.mode,
        (data.len() * data.image.image_bytes()) as f64 / 1e6,
        loaded.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
