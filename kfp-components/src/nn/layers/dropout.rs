//! Dropout with a seeded, reproducible mask.
//!
//! The mask of example `i` in a forward pass comes from its own random stream, seeded from
//! the model's dropout seed for that pass, the layer's index and `i`; so the mask depends on
//! neither the thread count nor the batch split, and a run resumed with the same dropout seed
//! draws the same masks.
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rayon::prelude::*;

use super::super::error::NnError;
use super::conv::no_forward;
use super::{Act, Ctx};

/// A dropout layer.
#[derive(Debug)]
pub struct Dropout {
    rate: f32,
    index: u64,
    /// 0 or `1 / (1 - rate)` per value, from the last training forward pass.
    mask: Option<Vec<f32>>,
    /// A mask to use instead of random ones (tests).
    fixed: Option<Vec<f32>>,
}

/// SplitMix64's finaliser: spreads seed bits.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Dropout {
    /// Drop probability `rate`; `index` tells dropout layers of one model apart.
    pub fn new(rate: f32, index: u64) -> Dropout {
        Dropout {
            rate,
            index,
            mask: None,
            fixed: None,
        }
    }

    /// Frees what backward needed.
    pub fn release(&mut self) {
        self.mask = None;
    }

    /// Uses `mask` (0 or the keep scale per value) in every training forward pass of a batch
    /// of the same size instead of a random one; for tests.
    pub fn set_fixed_mask(&mut self, mask: Vec<f32>) {
        self.fixed = Some(mask);
    }

    /// Forward pass, in place.
    pub fn forward(&mut self, mut x: Act, ctx: &mut Ctx<'_>) -> Result<Act, NnError> {
        if !ctx.train || self.rate == 0.0 {
            self.mask = None;
            return Ok(x);
        }
        let per = x.per_example();
        let mask = match &self.fixed {
            Some(m) if m.len() == x.data.len() => m.clone(),
            _ => {
                let scale = 1.0 / (1.0 - self.rate);
                let rate = self.rate;
                let seed = mix(ctx.dropout_seed ^ mix(self.index));
                let mut m = vec![0.0f32; x.data.len()];
                m.par_chunks_mut(per.max(1))
                    .enumerate()
                    .for_each(|(i, row)| {
                        let mut rng = StdRng::seed_from_u64(mix(seed ^ mix(i as u64 + 1)));
                        for v in row {
                            *v = if rng.random::<f32>() < rate {
                                0.0
                            } else {
                                scale
                            };
                        }
                    });
                m
            }
        };
        for (v, m) in x.data.iter_mut().zip(&mask) {
            *v *= m;
        }
        self.mask = Some(mask);
        Ok(x)
    }

    /// Backward pass, in place.
    pub fn backward(&mut self, mut dy: Act) -> Result<Act, NnError> {
        if self.rate == 0.0 && self.mask.is_none() {
            return Ok(dy);
        }
        let Some(mask) = self.mask.take() else {
            return Err(no_forward("dropout"));
        };
        if mask.len() != dy.data.len() {
            return Err(NnError::Shape {
                what: "output gradient of dropout".into(),
                expected: vec![mask.len()],
                got: vec![dy.data.len()],
            });
        }
        for (v, m) in dy.data.iter_mut().zip(&mask) {
            *v *= m;
        }
        Ok(dy)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{act, check_layer};
    use super::super::{BufferPool, Layer};
    use super::*;

    #[test]
    fn gradient_with_a_fixed_mask_matches_finite_differences() {
        let mut d = Dropout::new(0.5, 1);
        d.set_fixed_mask(
            (0..24)
                .map(|i| if i % 3 == 0 { 0.0 } else { 2.0 })
                .collect(),
        );
        check_layer(&mut Layer::Dropout(d), act(2, 2, 3, 2, 3), "dropout");
    }

    #[test]
    fn masks_are_seeded_scaled_and_close_to_the_rate() {
        let mut pool = BufferPool::default();
        let mut run = |seed: u64| {
            let mut ctx = Ctx {
                train: true,
                dropout_seed: seed,
                pool: &mut pool,
                profile: None,
            };
            let x = Act::new(vec![1.0; 4000], 4, 1, 1, 1000).unwrap();
            Dropout::new(0.3, 1).forward(x, &mut ctx).unwrap().data
        };
        let a = run(5);
        assert_eq!(a, run(5));
        assert_ne!(a, run(6));
        let dropped = a.iter().filter(|v| **v == 0.0).count() as f64 / a.len() as f64;
        assert!((dropped - 0.3).abs() < 0.03, "{dropped}");
        assert!(a.iter().all(|v| *v == 0.0 || (*v - 1.0 / 0.7).abs() < 1e-6));
    }
}
