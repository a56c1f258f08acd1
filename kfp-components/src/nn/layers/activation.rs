//! ReLU and ReLU6, in place.
//!
//! The output is copied for backward (the gradient passes where `0 < y < cap`, which is the
//! same as `0 < x < cap`); at exactly 0 or `cap` the gradient is 0, as in PyTorch.
use rayon::prelude::*;

use super::super::error::NnError;
use super::conv::no_forward;
use super::{Act, BufferPool, CHUNK, Ctx};

/// `min(max(x, 0), cap)`; no cap is plain ReLU.
#[derive(Debug)]
pub struct Activation {
    cap: Option<f32>,
    out: Option<Vec<f32>>,
}

impl Activation {
    /// ReLU (`None`) or a capped ReLU such as ReLU6 (`Some(6.0)`).
    pub fn new(cap: Option<f32>) -> Activation {
        Activation { cap, out: None }
    }

    /// Profile label.
    pub fn kind(&self) -> &'static str {
        if self.cap.is_some() { "relu6" } else { "relu" }
    }

    /// The upper bound of the output (`f32::INFINITY` for plain ReLU).
    pub fn cap(&self) -> f32 {
        self.cap.unwrap_or(f32::INFINITY)
    }

    /// Frees what backward needed.
    pub fn release(&mut self, pool: &mut BufferPool) {
        if let Some(v) = self.out.take() {
            pool.give(v);
        }
    }

    /// Forward pass, in place.
    pub fn forward(&mut self, mut x: Act, ctx: &mut Ctx<'_>) -> Result<Act, NnError> {
        self.release(ctx.pool);
        let cap = self.cap.unwrap_or(f32::INFINITY);
        if ctx.train {
            let mut keep = ctx.pool.take(x.data.len());
            keep.par_chunks_mut(CHUNK)
                .zip(x.data.par_chunks_mut(CHUNK))
                .for_each(|(k, v)| clamp_copy(v, k, cap));
            self.out = Some(keep);
        } else {
            x.data.par_chunks_mut(CHUNK).for_each(|v| clamp(v, cap));
        }
        Ok(x)
    }

    /// Backward pass, in place on `dy`.
    pub fn backward(&mut self, mut dy: Act, pool: &mut BufferPool) -> Result<Act, NnError> {
        let Some(out) = self.out.take() else {
            return Err(no_forward(self.kind()));
        };
        if out.len() != dy.data.len() {
            return Err(NnError::Shape {
                what: format!("output gradient of {}", self.kind()),
                expected: vec![out.len()],
                got: vec![dy.data.len()],
            });
        }
        let cap = self.cap.unwrap_or(f32::INFINITY);
        dy.data
            .par_chunks_mut(CHUNK)
            .zip(out.par_chunks(CHUNK))
            .for_each(|(d, y)| {
                for (d, y) in d.iter_mut().zip(y) {
                    // A bit mask instead of a branch or a conditional store, so the loop
                    // vectorises even for the baseline x86-64 target (random signs made the
                    // branchy version mispredict half the time: 4x slower, measured).
                    let keep = ((*y > 0.0) & (*y < cap)) as u32;
                    *d = f32::from_bits(d.to_bits() & keep.wrapping_neg());
                }
            });
        pool.give(out);
        Ok(dy)
    }
}

/// `v = min(max(v, 0), cap)`.
#[multiversion::multiversion(targets = "simd")]
fn clamp(values: &mut [f32], cap: f32) {
    for v in values {
        *v = v.max(0.0).min(cap);
    }
}

/// [`clamp`], also copying the result into `keep`.
#[multiversion::multiversion(targets = "simd")]
fn clamp_copy(values: &mut [f32], keep: &mut [f32], cap: f32) {
    for (k, v) in keep.iter_mut().zip(values) {
        *v = v.max(0.0).min(cap);
        *k = *v;
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{check_layer, spread};
    use super::super::{Act, Layer};
    use super::*;

    #[test]
    fn gradients_match_finite_differences() {
        for cap in [None, Some(6.0)] {
            for (n, h, w, c) in [(2, 3, 3, 4), (3, 1, 1, 7)] {
                let x = Act::new(spread(n * h * w * c, 0.05, 3), n, h, w, c).unwrap();
                check_layer(
                    &mut Layer::Activation(Activation::new(cap)),
                    x,
                    &format!("activation {cap:?}"),
                );
            }
        }
    }
}
