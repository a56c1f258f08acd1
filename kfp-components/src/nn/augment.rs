//! Turning stored `u8` images into normalised `f32` batches, with seeded augmentation.
//!
//! The Dataset artifact stores square `u8` NHWC images of side `S'` (for the benchmark recipe
//! W3, `S' = S + S/8`, e.g. 72 for a 64x64 model). A training batch takes, per image:
//!
//! 1. optionally `pad` pixels of zero (black, before normalisation, as torchvision's
//!    `RandomCrop(padding=p)` on a `u8` image) on every side;
//! 2. a random `S x S` crop of the (padded) image, offsets uniform in `0..=S' + 2p - S` as
//!    `RandomCrop` draws them (or the centre crop when `random_crop` is off);
//! 3. a horizontal flip with probability 1/2 when `flip` is on;
//! 4. `x / 255`, then `(x - mean[c]) / std[c]` per channel ([`Normalize`], a 256-entry
//!    lookup table per channel, so a pixel costs one load).
//!
//! An evaluation batch takes the centre crop (offset `round((S' - S) / 2)` with Python's
//! round-half-to-even, as torchvision's `CenterCrop`) and the same normalisation.
//!
//! **Determinism.** Each image's random draws come from its own generator seeded by
//! [`derive_seed`]`(seed, epoch, image index)`, so a given seed and epoch give the same batch
//! whatever the number of threads, the batch composition or the order in which threads pick
//! images; batches are filled in parallel with rayon (one image per task).
//!
//! ```
//! use kfp_components::nn::augment::{AugmentConfig, Normalize, U8Images, eval_batch, train_batch};
//!
//! let pixels = vec![128u8; 2 * 10 * 10 * 3]; // two 10x10 RGB images
//! let images = U8Images::new(&pixels, 10, 3)?;
//! let norm = Normalize::new(&[0.5, 0.5, 0.5], &[0.25, 0.25, 0.25])?;
//! let batch = train_batch(images, &[1, 0], 8, &AugmentConfig::default(), &norm, 7, 0)?;
//! assert_eq!(batch.shape(), &[2, 8, 8, 3]);
//! let test = eval_batch(images, &[0], 8, &norm)?;
//! assert!((test[[0, 0, 0, 0]] - (128.0 / 255.0 - 0.5) / 0.25).abs() < 1e-6);
//! # Ok::<(), kfp_components::nn::NnError>(())
//! ```
use ndarray::Array4;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::NnError;

/// How training images are augmented (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentConfig {
    /// Zero padding added on every side before cropping (0: none).
    #[serde(default)]
    pub pad: usize,
    /// A random crop (true) or the centre crop (false).
    #[serde(default = "yes")]
    pub random_crop: bool,
    /// A random horizontal flip with probability 1/2.
    #[serde(default = "yes")]
    pub flip: bool,
}

fn yes() -> bool {
    true
}

impl Default for AugmentConfig {
    /// Random crop, random flip, no padding (benchmark recipe W3).
    fn default() -> Self {
        AugmentConfig {
            pad: 0,
            random_crop: true,
            flip: true,
        }
    }
}

impl AugmentConfig {
    /// No augmentation at all: the centre crop, no flip.
    pub fn none() -> Self {
        AugmentConfig {
            pad: 0,
            random_crop: false,
            flip: false,
        }
    }
}

/// A borrowed set of square `u8` images, NHWC, `side x side x channels` each.
#[derive(Debug, Clone, Copy)]
pub struct U8Images<'a> {
    pixels: &'a [u8],
    side: usize,
    channels: usize,
}

impl<'a> U8Images<'a> {
    /// Checks that `pixels` holds whole images.
    pub fn new(pixels: &'a [u8], side: usize, channels: usize) -> Result<Self, NnError> {
        let per = side * channels * side;
        if per == 0 || !pixels.len().is_multiple_of(per) {
            return Err(NnError::Shape {
                what: "images".into(),
                expected: vec![0, side, side, channels],
                got: vec![pixels.len()],
            });
        }
        Ok(U8Images {
            pixels,
            side,
            channels,
        })
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.pixels.len() / (self.side * self.side * self.channels)
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.pixels.is_empty()
    }

    /// All pixels.
    pub fn pixels(&self) -> &'a [u8] {
        self.pixels
    }

    /// The stored side.
    pub fn side(&self) -> usize {
        self.side
    }

    /// Channels per pixel.
    pub fn channels(&self) -> usize {
        self.channels
    }

    fn image(&self, i: usize) -> &'a [u8] {
        let per = self.side * self.side * self.channels;
        &self.pixels[i * per..(i + 1) * per]
    }
}

/// Per-channel normalisation `(x / 255 - mean) / std`, as a lookup table.
#[derive(Debug, Clone)]
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
    /// `table[c * 256 + v]`.
    table: Vec<f32>,
}

impl Normalize {
    /// Per-channel mean and standard deviation of `x / 255`.
    pub fn new(mean: &[f32], std: &[f32]) -> Result<Self, NnError> {
        if mean.len() != std.len() || mean.is_empty() {
            return Err(NnError::option(
                "normalisation",
                format!(
                    "mean has {} values and std {}; one per channel each",
                    mean.len(),
                    std.len()
                ),
            ));
        }
        if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(NnError::option(
                "normalisation.std",
                format!("must be finite and > 0, got {s}"),
            ));
        }
        if let Some(m) = mean.iter().find(|m| !m.is_finite()) {
            return Err(NnError::option(
                "normalisation.mean",
                format!("must be finite, got {m}"),
            ));
        }
        let table = mean
            .iter()
            .zip(std)
            .flat_map(|(&m, &s)| (0..256).map(move |v| (v as f32 / 255.0 - m) / s))
            .collect();
        Ok(Normalize {
            mean: mean.to_vec(),
            std: std.to_vec(),
            table,
        })
    }

    /// No normalisation beyond `x / 255`.
    pub fn unit(channels: usize) -> Self {
        let ones = vec![1.0; channels.max(1)];
        let zeros = vec![0.0; channels.max(1)];
        // Cannot fail: equal non-empty lengths, finite values, std 1.
        Normalize::new(&zeros, &ones).unwrap_or_else(|_| unreachable!())
    }

    /// The means.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// The standard deviations.
    pub fn std(&self) -> &[f32] {
        &self.std
    }

    /// The normalised value of byte `v` in channel `c`.
    #[inline]
    pub fn apply(&self, c: usize, v: u8) -> f32 {
        self.table[c * 256 + v as usize]
    }
}

/// A 64-bit seed derived from several integers (SplitMix64 finalisation of each part in
/// turn): the per-image, per-epoch and per-step generators of training all come from here.
pub fn derive_seed(parts: &[u64]) -> u64 {
    let mut h = 0x9e37_79b9_7f4a_7c15_u64;
    for &p in parts {
        h ^= p;
        h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h = z ^ (z >> 31);
    }
    h
}

/// Python's `round(x / 2)` for a non-negative integer `x` (half to even), as torchvision's
/// `CenterCrop` computes its offset.
fn centre_offset(diff: usize) -> usize {
    let lo = diff / 2;
    if diff % 2 == 1 && lo % 2 == 1 {
        lo + 1
    } else {
        lo
    }
}

fn check_channels(images: U8Images, norm: &Normalize) -> Result<(), NnError> {
    if norm.mean.len() != images.channels {
        return Err(NnError::option(
            "normalisation",
            format!(
                "{} channel statistics for images with {} channels",
                norm.mean.len(),
                images.channels
            ),
        ));
    }
    Ok(())
}

fn check_indices(images: U8Images, indices: &[usize]) -> Result<(), NnError> {
    if let Some(&i) = indices.iter().find(|&&i| i >= images.len()) {
        return Err(NnError::option(
            "image index",
            format!("{i} is out of range for {} images", images.len()),
        ));
    }
    Ok(())
}

/// Copies the `size x size` window at (`top`, `left`) of `image` padded by `pad` zero pixels
/// into `out`, normalised, flipped horizontally if asked.
#[allow(clippy::too_many_arguments)]
fn crop_into(
    out: &mut [f32],
    image: &[u8],
    side: usize,
    channels: usize,
    pad: usize,
    top: usize,
    left: usize,
    size: usize,
    flip: bool,
    norm: &Normalize,
) {
    for y in 0..size {
        let row_out = &mut out[y * size * channels..(y + 1) * size * channels];
        // Row in the unpadded image, if inside it.
        let sy = (top + y).checked_sub(pad).filter(|&sy| sy < side);
        for x in 0..size {
            let ox = if flip { size - 1 - x } else { x };
            let px = &mut row_out[ox * channels..(ox + 1) * channels];
            let sx = (left + x).checked_sub(pad).filter(|&sx| sx < side);
            match (sy, sx) {
                (Some(sy), Some(sx)) => {
                    let src = &image[(sy * side + sx) * channels..(sy * side + sx + 1) * channels];
                    for (c, (o, &v)) in px.iter_mut().zip(src).enumerate() {
                        *o = norm.apply(c, v);
                    }
                }
                _ => {
                    for (c, o) in px.iter_mut().enumerate() {
                        *o = norm.apply(c, 0);
                    }
                }
            }
        }
    }
}

/// A training batch of the images `indices`: augmented as `config` says, `size x size`,
/// normalised; image `i`'s draws depend only on (`seed`, `epoch`, `i`).
pub fn train_batch(
    images: U8Images,
    indices: &[usize],
    size: usize,
    config: &AugmentConfig,
    norm: &Normalize,
    seed: u64,
    epoch: u64,
) -> Result<Array4<f32>, NnError> {
    check_channels(images, norm)?;
    check_indices(images, indices)?;
    let (side, channels, pad) = (images.side, images.channels, config.pad);
    let padded = side + 2 * pad;
    if size == 0 || padded < size {
        return Err(NnError::option(
            "crop size",
            format!("{size} does not fit in the stored {side}x{side} images padded by {pad}"),
        ));
    }
    let per = size * size * channels;
    let mut out = vec![0f32; indices.len() * per];
    out.par_chunks_mut(per)
        .zip(indices.par_iter())
        .for_each(|(dst, &i)| {
            let mut rng = StdRng::seed_from_u64(derive_seed(&[seed, epoch, i as u64]));
            let (top, left) = if config.random_crop {
                let top = rng.random_range(0..=padded - size);
                let left = rng.random_range(0..=padded - size);
                (top, left)
            } else {
                let o = centre_offset(padded - size);
                (o, o)
            };
            let flip = config.flip && rng.random_bool(0.5);
            crop_into(
                dst,
                images.image(i),
                side,
                channels,
                pad,
                top,
                left,
                size,
                flip,
                norm,
            );
        });
    Array4::from_shape_vec((indices.len(), size, size, channels), out)
        .map_err(|e| NnError::option("batch", format!("internal shape error: {e}")))
}

/// An evaluation batch: the centre `size x size` crop of each image, normalised.
pub fn eval_batch(
    images: U8Images,
    indices: &[usize],
    size: usize,
    norm: &Normalize,
) -> Result<Array4<f32>, NnError> {
    train_batch(images, indices, size, &AugmentConfig::none(), norm, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three 6x6 images with 2 channels; pixel (y, x, c) of image i = 40 i + 6 y + x + c.
    fn pixels() -> Vec<u8> {
        let mut p = vec![];
        for i in 0..3u8 {
            for y in 0..6u8 {
                for x in 0..6u8 {
                    for c in 0..2u8 {
                        p.push(40 * i + 6 * y + x + c);
                    }
                }
            }
        }
        p
    }

    #[test]
    fn centre_crop_and_normalisation_match_a_direct_computation() {
        let p = pixels();
        let images = U8Images::new(&p, 6, 2).unwrap();
        let norm = Normalize::new(&[0.1, 0.2], &[0.5, 0.25]).unwrap();
        let b = eval_batch(images, &[2, 0], 3, &norm).unwrap();
        // 6 - 3 = 3: Python round(1.5) = 2.
        for (n, i) in [2usize, 0].iter().enumerate() {
            for y in 0..3 {
                for x in 0..3 {
                    for c in 0..2 {
                        let v = (40 * i + 6 * (y + 2) + (x + 2) + c) as f32;
                        let want = (v / 255.0 - [0.1, 0.2][c]) / [0.5, 0.25][c];
                        assert!((b[[n, y, x, c]] - want).abs() < 1e-6);
                    }
                }
            }
        }
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 8].map(centre_offset),
            [0, 0, 1, 2, 2, 2, 4]
        );
    }

    #[test]
    fn random_crops_are_windows_of_the_padded_image_possibly_flipped() {
        let p = pixels();
        let images = U8Images::new(&p, 6, 2).unwrap();
        let norm = Normalize::unit(2);
        let config = AugmentConfig {
            pad: 2,
            random_crop: true,
            flip: true,
        };
        let mut seen_offsets = std::collections::BTreeSet::new();
        let mut flips = 0;
        for epoch in 0..40 {
            let b = train_batch(images, &[1], 5, &config, &norm, 3, epoch).unwrap();
            // Find the (top, left, flip) that reproduces the batch from the padded image.
            let value = |y: isize, x: isize, c: usize| -> f32 {
                if (0..6).contains(&y) && (0..6).contains(&x) {
                    (40 + 6 * y + x + c as isize) as f32 / 255.0
                } else {
                    0.0
                }
            };
            let mut found = None;
            for top in 0..=5isize {
                for left in 0..=5isize {
                    for flip in [false, true] {
                        let ok = (0..5).all(|y| {
                            (0..5).all(|x| {
                                let sx = if flip { 4 - x } else { x };
                                (0..2).all(|c| {
                                    b[[0, y as usize, x as usize, c]]
                                        == value(top + y - 2, left + sx - 2, c)
                                })
                            })
                        });
                        if ok {
                            found = Some((top, left, flip));
                        }
                    }
                }
            }
            let (top, left, flip) = found.expect("the batch is a window of the padded image");
            seen_offsets.insert((top, left));
            flips += flip as usize;
        }
        assert!(seen_offsets.len() > 10, "offsets vary: {seen_offsets:?}");
        assert!((8..=32).contains(&flips), "about half flipped: {flips}/40");
    }

    #[test]
    fn same_seed_and_epoch_give_the_same_batch_whatever_the_threads() {
        let p: Vec<u8> = (0..40 * 9 * 9 * 3).map(|i| (i * 7 % 251) as u8).collect();
        let images = U8Images::new(&p, 9, 3).unwrap();
        let norm = Normalize::unit(3);
        let config = AugmentConfig::default();
        let idx: Vec<usize> = (0..40).rev().collect();
        let run = |threads: usize, seed: u64, epoch: u64| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| train_batch(images, &idx, 7, &config, &norm, seed, epoch).unwrap())
        };
        let a = run(1, 5, 2);
        assert_eq!(a, run(3, 5, 2));
        assert_ne!(a, run(1, 5, 3));
        assert_ne!(a, run(1, 6, 2));
        // An image's crop does not depend on its batch-mates.
        let single = train_batch(images, &[39], 7, &config, &norm, 5, 2).unwrap();
        assert_eq!(
            single.index_axis(ndarray::Axis(0), 0),
            a.index_axis(ndarray::Axis(0), 0)
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let p = pixels();
        assert!(U8Images::new(&p[1..], 6, 2).is_err());
        let images = U8Images::new(&p, 6, 2).unwrap();
        let norm = Normalize::unit(2);
        assert!(eval_batch(images, &[3], 4, &norm).is_err());
        assert!(eval_batch(images, &[0], 7, &norm).is_err());
        assert!(eval_batch(images, &[0], 4, &Normalize::unit(3)).is_err());
        assert!(Normalize::new(&[0.0], &[0.0]).is_err());
        assert!(Normalize::new(&[0.0, 1.0], &[1.0]).is_err());
    }
}
