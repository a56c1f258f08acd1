//! The pipeline component: [`load_caltech101()`](fn@load_caltech101).
// One argument per input, here and in the generated `load_caltech101::task`.
#![allow(clippy::too_many_arguments)]
use kfp_sdk::prelude::*;

use super::classes::ClassSelection;
use super::decode::{Filter, ImageSpec, ResizeMode};
use super::error::Error;
use super::load::{BadImagePolicy, LoadOptions, load};
use super::split::{SplitOptions, SplitSpec};

/// The counts a [`load_caltech101()`](fn@load_caltech101) step reports, one output parameter
/// each.
#[derive(Debug, Clone, PartialEq, Eq, ComponentOutputs)]
pub struct Caltech101Summary {
    /// Classes (labels `0..num_classes`).
    pub num_classes: u64,
    /// Images in the dataset.
    pub num_images: u64,
    /// Training images.
    pub num_train: u64,
    /// Validation images.
    pub num_val: u64,
    /// Test images.
    pub num_test: u64,
    /// Files skipped (not images, undecodable, empty folders).
    pub num_skipped: u64,
}

/// Loads Caltech101 from an archive or folder, decodes and resizes every image to
/// `image_size`×`image_size` RGB, splits it per class, and writes the dataset artifact
/// (`images.npy`, `labels.npy`, `split.npy`, `dataset.json`, `splits/`, `preview.png`).
///
/// - `source`: `101_ObjectCategories.tar.gz`, `caltech-101.zip`, or an extracted folder; an
///   `https://` address (downloaded first) with the `download` feature.
/// - `resize_mode`: `stretch`, `center-crop` or `letterbox`; `filter`: `bilinear`,
///   `catmull-rom` or `lanczos3`.
/// - Split: with `train_per_class` > 0, that many training images per class,
///   `val_per_class` for validation and the rest for test (the classic 30-per-class protocol is
///   `train_per_class = 30`); otherwise the fractions `val_fraction` and `test_fraction` of each
///   class (at least one image each when non-zero), the rest for training. Benchmark protocol
///   W3: `test_fraction = 0.2`, `val_fraction = 0`, `seed = 0`, `image_size = S + S/8`,
///   `resize_mode = stretch`.
/// - `classes`: a subset of class names (empty: all 101); `include_background` keeps
///   `BACKGROUND_Google` as a class.
/// - `on_bad_image`: `skip` (warn and leave the file out) or `fail`.
#[component(cpu_request = "2", memory_request = "1Gi")]
pub fn load_caltech101(
    source: String,
    image_size: u32,
    resize_mode: String,
    filter: String,
    test_fraction: f64,
    val_fraction: f64,
    train_per_class: u32,
    val_per_class: u32,
    seed: u64,
    classes: Vec<String>,
    include_background: bool,
    on_bad_image: String,
    dataset: Output<Dataset>,
) -> Result<Caltech101Summary, Error> {
    let options = LoadOptions {
        image: ImageSpec::new(image_size)
            .with_mode(
                resize_mode
                    .parse::<ResizeMode>()
                    .map_err(Error::InvalidOption)?,
            )
            .with_filter(filter.parse::<Filter>().map_err(Error::InvalidOption)?),
        classes: ClassSelection {
            include_background,
            only: classes,
        },
        split: SplitOptions {
            spec: if train_per_class > 0 {
                SplitSpec::PerClass {
                    train: train_per_class as usize,
                    val: val_per_class as usize,
                    test: None,
                }
            } else {
                SplitSpec::Fractions {
                    val: val_fraction,
                    test: test_fraction,
                }
            },
            seed,
        },
        on_bad_image: on_bad_image
            .parse::<BadImagePolicy>()
            .map_err(Error::InvalidOption)?,
        progress: true,
        ..LoadOptions::new(image_size)
    };
    let data = load(local_source(&source)?, &options)?;
    for warning in &data.warnings {
        eprintln!("warning: {warning}");
    }
    let manifest = super::artifact::write(&data, dataset.path())?;
    let [train, val, test] = data.split_counts();
    dataset.set_metadata("format", super::artifact::FORMAT);
    dataset.set_metadata("num_images", data.len());
    dataset.set_metadata("num_classes", data.classes.len());
    dataset.set_metadata("image_size", image_size);
    dataset.set_metadata("resize_mode", options.image.mode.name());
    dataset.set_metadata("split_counts", serde_json::json!(manifest.split_counts));
    dataset.set_metadata("mean", serde_json::json!(manifest.mean));
    dataset.set_metadata("std", serde_json::json!(manifest.std));
    Ok(Caltech101Summary {
        num_classes: data.classes.len() as u64,
        num_images: data.len() as u64,
        num_train: train as u64,
        num_val: val as u64,
        num_test: test as u64,
        num_skipped: data.warnings.len() as u64,
    })
}

/// `source` as a local path; an `http(s)://` address needs the `download` feature.
fn local_source(source: &str) -> Result<std::path::PathBuf, Error> {
    #[cfg(feature = "download")]
    {
        super::download::local_source(source)
    }
    #[cfg(not(feature = "download"))]
    {
        if source.starts_with("https://") || source.starts_with("http://") {
            return Err(Error::InvalidOption(format!(
                "{source}: downloading needs kfp-components built with the `download` feature; \
                 or pass the path of 101_ObjectCategories.tar.gz or caltech-101.zip"
            )));
        }
        Ok(std::path::PathBuf::from(source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caltech101::synthetic::SyntheticSpec;

    #[test]
    fn the_component_writes_the_artifact_and_reports_counts()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let archive = dir.path().join("101_ObjectCategories.tar.gz");
        let spec = SyntheticSpec::small();
        spec.write_tar_gz(&archive)?;
        let out = Output::<Dataset>::new("dataset", dir.path().join("dataset"));
        let summary = load_caltech101(
            archive.display().to_string(),
            16,
            "center-crop".into(),
            "bilinear".into(),
            0.2,
            0.0,
            0,
            0,
            0,
            vec![],
            false,
            "skip".into(),
            out.clone(),
        )?;
        assert_eq!(summary.num_classes, 3);
        assert_eq!(summary.num_images as usize, spec.image_count());
        assert_eq!(summary.num_train + summary.num_test, summary.num_images);
        assert!(out.path().join("images.npy").is_file());
        assert_eq!(
            out.metadata()["num_images"],
            serde_json::json!(spec.image_count())
        );

        let bad = load_caltech101(
            archive.display().to_string(),
            16,
            "squash".into(),
            "bilinear".into(),
            0.2,
            0.0,
            0,
            0,
            0,
            vec![],
            false,
            "skip".into(),
            out,
        );
        assert!(
            bad.err()
                .is_some_and(|e| e.to_string().contains("unknown resize mode 'squash'"))
        );
        Ok(())
    }

    #[test]
    fn the_spec_lists_every_input() {
        let spec = load_caltech101::spec();
        let names: Vec<&str> = spec.inputs.iter().map(|i| i.name.as_str()).collect();
        assert!(names.contains(&"source") && names.contains(&"test_fraction"));
        assert_eq!(spec.outputs[0].name, "dataset");
    }
}
