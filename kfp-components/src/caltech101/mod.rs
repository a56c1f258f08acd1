//! Caltech101: load, decode, resize, split, and write it as a numpy-readable dataset, fast.
//!
//! The dataset ships as `101_ObjectCategories.tar.gz` (inside `caltech-101.zip` on the
//! official site): 101 category folders plus `BACKGROUND_Google` (clutter), 8,677 category
//! images of about 300×200 pixels, mostly RGB JPEGs, some grayscale. This module reads it
//! straight from the archive (or the zip, or an extracted folder), decodes and resizes every
//! image in parallel, splits each class into train / validation / test, and writes a
//! [`Dataset`](kfp_sdk::Dataset) artifact that numpy reads without this crate.
//!
//! | module | what |
//! | --- | --- |
//! | [`source`] | reading a `.tar.gz`, `.tar`, `.zip` or folder as a stream of entries |
//! | [`classes`] | the class list: sorted, background left out, subsets |
//! | [`decode`] | JPEG decode with DCT-domain downscaling, resize to a square (stretch, centre crop, letterbox) |
//! | [`split`] | stratified, seeded splits by fractions or per-class counts, or from file lists |
//! | [`load`](mod@load) | the parallel pipeline tying these together; bad-file policy |
//! | [`artifact`] | the artifact format (`.npy` + `dataset.json`), atomic writing, reading back |
//! | [`preview`] | the PNG grid of samples |
//! | [`synthetic`] | a tiny generated Caltech-style archive for tests |
//! | [`load_caltech101()`](fn@load_caltech101) | the `#[component]` for pipelines |
//!
//! With the real archive and the defaults you get torchvision's `Caltech101` classes and order
//! (101 classes, 8,677 images, `Faces` first) and benchmark protocol W3's split (20% of each
//! class for test, at least one image, seed 0).
//!
//! ```
//! use kfp_components::caltech101::{self, synthetic::SyntheticSpec, LoadOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let archive = dir.path().join("101_ObjectCategories.tar.gz");
//! SyntheticSpec::small().write_tar_gz(&archive)?;   // or the real one
//!
//! let data = caltech101::load(&archive, &LoadOptions::new(64))?;
//! caltech101::artifact::write(&data, &dir.path().join("dataset"))?;
//! println!("{} classes, {} images", data.classes.len(), data.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! In a pipeline:
//!
//! ```
//! use kfp_components::caltech101::load_caltech101;
//! use kfp_sdk::prelude::*;
//!
//! #[pipeline]
//! fn prepare(#[default(72)] size: u32) {
//!     load_caltech101::task(
//!         "/data/101_ObjectCategories.tar.gz", size, "stretch", "bilinear",
//!         0.2, 0.0, 0, 0, 0, Vec::<String>::new(), false, "skip",
//!     );
//! }
//! # fn main() { assert_eq!(prepare::graph().unwrap().tasks.len(), 1); }
//! ```
//!
//! Downloading (`caltech101::download`, cargo feature `download`) needs internet access; it is
//! compiled but not tested here, as the machines this is developed on have none.

pub mod artifact;
pub mod classes;
mod component;
pub mod decode;
#[cfg(feature = "download")]
pub mod download;
pub mod error;
pub mod load;
pub mod preview;
pub mod source;
pub mod split;
pub mod synthetic;

pub use component::{Caltech101Summary, load_caltech101};
pub use error::{Error, Warning};
pub use load::{BadImagePolicy, Caltech101, ChannelStats, LoadOptions, load};

/// How many cases the property tests that feed malformed data run: `default`, or
/// `$KFP_FUZZ_CASES` for a longer local run (`KFP_FUZZ_CASES=5000 cargo test -p kfp-components never_panic`).
#[cfg(test)]
pub(crate) fn fuzz_cases(default: u32) -> u32 {
    std::env::var("KFP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
