//! An image-classification dataset in memory: pixels, labels, splits, normalisation, and the
//! seeded order of batches.
//!
//! [`ImageDataset::open`] reads a Caltech101 Dataset artifact (see `docs/caltech101.md`:
//! `images.npy` `u8` NHWC, `labels.npy`, `split.npy`, `dataset.json`) once; the pixels stay
//! `u8` (a 72x72 Caltech101 is 135 MB as bytes, 540 MB as `f32`) and batches are cut and
//! normalised on the fly by [`super::augment`]. [`ImageDataset::from_parts`] builds one from
//! arrays (tests, synthetic data).
//!
//! [`epoch_batches`] shuffles the training indices with a generator seeded by
//! `(seed, epoch)` only, so the order of an epoch is known without replaying earlier ones
//! (which is what lets a run resume mid-way and still see the same batches).
//!
//! ```
//! use kfp_components::nn::data::{ImageDataset, epoch_batches};
//!
//! // Four 2x2 RGB images, two classes; split codes 0 train, 1 val, 2 test.
//! let data = ImageDataset::from_parts(
//!     vec![0u8; 4 * 2 * 2 * 3], 2, 3, vec![0, 1, 0, 1],
//!     vec!["cat".into(), "dog".into()], &[0, 0, 0, 2],
//! )?;
//! assert_eq!(data.train, vec![0, 1, 2]);
//! assert_eq!(data.test, vec![3]);
//! let batches = epoch_batches(&data.train, 2, 0, 0, false);
//! assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 1]);
//! # Ok::<(), kfp_components::nn::NnError>(())
//! ```
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::augment::{Normalize, U8Images, derive_seed};
use super::error::NnError;
use crate::caltech101::artifact::Artifact;

/// A labelled set of square `u8` images with its train / validation / test split.
#[derive(Debug, Clone)]
pub struct ImageDataset {
    /// All pixels, NHWC.
    pub pixels: Vec<u8>,
    /// Image side.
    pub side: usize,
    /// Channels per pixel.
    pub channels: usize,
    /// Each image's class, `< classes.len()`.
    pub labels: Vec<usize>,
    /// Class names by label.
    pub classes: Vec<String>,
    /// Training images (indices, ascending).
    pub train: Vec<usize>,
    /// Validation images.
    pub val: Vec<usize>,
    /// Test images.
    pub test: Vec<usize>,
    /// Per-channel mean of `x / 255` over the training split.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation of `x / 255` over the training split.
    pub std: Vec<f32>,
    /// The artifact folder it was read from, if any.
    pub source: Option<PathBuf>,
}

impl ImageDataset {
    /// Reads a Caltech101 Dataset artifact folder (written by `load_caltech101`).
    pub fn open(dir: impl AsRef<Path>) -> Result<ImageDataset, NnError> {
        let dir = dir.as_ref();
        let bad = |e: crate::caltech101::Error| NnError::format(dir, e.to_string());
        let artifact = Artifact::open(dir).map_err(bad)?;
        let m = &artifact.manifest;
        let pixels = artifact.images().map_err(bad)?;
        let labels = artifact.labels().map_err(bad)?;
        let codes = artifact.split_codes().map_err(bad)?;
        let labels = labels
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                usize::try_from(l).map_err(|_| {
                    NnError::format(
                        dir.join("labels.npy"),
                        format!("image {i} has the negative label {l}"),
                    )
                })
            })
            .collect::<Result<Vec<usize>, NnError>>()?;
        let mut data = ImageDataset::from_parts(
            pixels,
            m.image_size as usize,
            m.channels as usize,
            labels,
            m.classes.clone(),
            &codes,
        )
        .map_err(|e| NnError::format(dir, e.to_string()))?;
        if let (Some(mean), Some(std)) = (m.mean, m.std) {
            data.mean = mean.iter().map(|&x| x as f32).collect();
            data.std = std.iter().map(|&x| x as f32).collect();
        }
        data.source = Some(dir.to_owned());
        Ok(data)
    }

    /// A dataset from arrays: `pixels` NHWC `u8`, one label and one split code (0 train, 1
    /// validation, 2 test) per image. The mean and std are computed from the training split.
    pub fn from_parts(
        pixels: Vec<u8>,
        side: usize,
        channels: usize,
        labels: Vec<usize>,
        classes: Vec<String>,
        split_codes: &[u8],
    ) -> Result<ImageDataset, NnError> {
        let images = U8Images::new(&pixels, side, channels)?;
        let n = images.len();
        if labels.len() != n || split_codes.len() != n {
            return Err(NnError::option(
                "dataset",
                format!(
                    "{n} images but {} labels and {} split codes",
                    labels.len(),
                    split_codes.len()
                ),
            ));
        }
        if let Some((i, &l)) = labels
            .iter()
            .enumerate()
            .find(|(_, l)| **l >= classes.len())
        {
            return Err(NnError::option(
                "dataset.labels",
                format!(
                    "image {i} has label {l} but there are {} classes",
                    classes.len()
                ),
            ));
        }
        let (mut train, mut val, mut test) = (vec![], vec![], vec![]);
        for (i, &code) in split_codes.iter().enumerate() {
            match code {
                0 => train.push(i),
                1 => val.push(i),
                2 => test.push(i),
                other => {
                    return Err(NnError::option(
                        "dataset.split",
                        format!("image {i} has split code {other}; expected 0, 1 or 2"),
                    ));
                }
            }
        }
        let (mean, std) = channel_stats(images, &train);
        Ok(ImageDataset {
            pixels,
            side,
            channels,
            labels,
            classes,
            train,
            val,
            test,
            mean,
            std,
            source: None,
        })
    }

    /// The pixels as a borrowed image set.
    pub fn images(&self) -> Result<U8Images<'_>, NnError> {
        U8Images::new(&self.pixels, self.side, self.channels)
    }

    /// The normalisation by the training split's statistics (a zero standard deviation, e.g.
    /// of a constant synthetic channel, is replaced by 1).
    pub fn normalize(&self) -> Result<Normalize, NnError> {
        let std: Vec<f32> = self
            .std
            .iter()
            .map(|&s| if s > 0.0 { s } else { 1.0 })
            .collect();
        Normalize::new(&self.mean, &std)
    }

    /// The number of classes.
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// The labels of `indices`.
    pub fn labels_of(&self, indices: &[usize]) -> Vec<usize> {
        indices.iter().map(|&i| self.labels[i]).collect()
    }
}

/// Mean and (population) standard deviation of `x / 255` per channel over `indices`.
fn channel_stats(images: U8Images, indices: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let c = images.channels();
    let per = images.side() * images.side() * c;
    let mut sum = vec![0f64; c];
    let mut sq = vec![0f64; c];
    let mut count = 0usize;
    for &i in indices {
        let Some(image) = images.pixels().get(i * per..(i + 1) * per) else {
            continue;
        };
        for px in image.chunks_exact(c) {
            for (k, &v) in px.iter().enumerate() {
                let x = v as f64 / 255.0;
                sum[k] += x;
                sq[k] += x * x;
            }
        }
        count += per / c;
    }
    if count == 0 {
        return (vec![0.0; c], vec![1.0; c]);
    }
    let n = count as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let std = sq
        .iter()
        .zip(&mean)
        .map(|(q, m)| ((q / n - m * m).max(0.0)).sqrt() as f32)
        .collect();
    (mean.into_iter().map(|m| m as f32).collect(), std)
}

/// The batches of one epoch: `indices` shuffled by a generator seeded from (`seed`, `epoch`),
/// cut into runs of `batch` (the last one shorter unless `drop_last`).
pub fn epoch_batches(
    indices: &[usize],
    batch: usize,
    seed: u64,
    epoch: u64,
    drop_last: bool,
) -> Vec<Vec<usize>> {
    let mut order = indices.to_vec();
    let mut rng = StdRng::seed_from_u64(derive_seed(&[seed, 0x5348_5546, epoch]));
    order.shuffle(&mut rng);
    let batch = batch.max(1);
    order
        .chunks(batch)
        .filter(|c| !drop_last || c.len() == batch)
        .map(<[usize]>::to_vec)
        .collect()
}

/// Batches in order, no shuffling (evaluation).
pub fn sequential_batches(indices: &[usize], batch: usize) -> Vec<Vec<usize>> {
    indices
        .chunks(batch.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caltech101::synthetic::SyntheticSpec;
    use crate::caltech101::{LoadOptions, load};

    #[test]
    fn opens_an_artifact_with_its_splits_and_statistics() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let archive = dir.path().join("a.tar.gz");
        SyntheticSpec::small().write_tar_gz(&archive)?;
        let loaded = load(&archive, &LoadOptions::new(8))?;
        let out = dir.path().join("ds");
        let manifest = crate::caltech101::artifact::write(&loaded, &out)?;
        let data = ImageDataset::open(&out)?;
        assert_eq!(data.classes, manifest.classes);
        assert_eq!(data.side, 8);
        assert_eq!(data.labels.len(), manifest.num_images);
        assert_eq!(
            data.train.len() + data.val.len() + data.test.len(),
            manifest.num_images
        );
        assert_eq!(data.test.len(), manifest.split_counts["test"]);
        // Our statistics of the training split agree with the loader's (an independent
        // computation in the caltech101 module).
        let ours = ImageDataset::from_parts(
            data.pixels.clone(),
            8,
            3,
            data.labels.clone(),
            data.classes.clone(),
            &crate::caltech101::artifact::Artifact::open(&out)?.split_codes()?,
        )?;
        let (mean, std) = (manifest.mean.unwrap(), manifest.std.unwrap());
        for c in 0..3 {
            assert!((ours.mean[c] as f64 - mean[c]).abs() < 1e-4);
            assert!((ours.std[c] as f64 - std[c]).abs() < 1e-4);
            assert_eq!(data.mean[c], mean[c] as f32);
        }

        std::fs::write(out.join("dataset.json"), "{}")?;
        let err = ImageDataset::open(&out).unwrap_err().to_string();
        assert!(err.contains("dataset.json"), "{err}");
        Ok(())
    }

    #[test]
    fn bad_parts_are_errors() {
        let px = vec![0u8; 2 * 4 * 3];
        let classes = vec!["a".to_string()];
        assert!(
            ImageDataset::from_parts(px.clone(), 2, 3, vec![0], classes.clone(), &[0, 0]).is_err()
        );
        let err = ImageDataset::from_parts(px.clone(), 2, 3, vec![0, 1], classes.clone(), &[0, 0])
            .unwrap_err();
        assert!(err.to_string().contains("label 1"), "{err}");
        let err = ImageDataset::from_parts(px, 2, 3, vec![0, 0], classes, &[0, 5]).unwrap_err();
        assert!(err.to_string().contains("split code 5"), "{err}");
    }

    #[test]
    fn epochs_are_seeded_permutations() {
        let idx: Vec<usize> = (10..47).collect();
        let a = epoch_batches(&idx, 8, 1, 0, false);
        assert_eq!(a.len(), 5);
        assert_eq!(a[4].len(), 5);
        let mut flat: Vec<usize> = a.concat();
        assert_ne!(flat, idx, "shuffled");
        flat.sort();
        assert_eq!(flat, idx, "a permutation");
        assert_eq!(a, epoch_batches(&idx, 8, 1, 0, false));
        assert_ne!(a, epoch_batches(&idx, 8, 1, 1, false));
        assert_ne!(a, epoch_batches(&idx, 8, 2, 0, false));
        assert_eq!(epoch_batches(&idx, 8, 1, 0, true).len(), 4);
        assert_eq!(sequential_batches(&idx, 10).concat(), idx);
    }
}
