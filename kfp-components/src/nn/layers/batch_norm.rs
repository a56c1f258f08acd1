//! Batch normalisation over the last axis (channels in NHWC, features when flat).
//!
//! Training normalises with the batch's mean and biased variance (one pass over the data
//! for both moments, shifted by the first row to avoid cancellation; block sums in `f32` added
//! in `f64`, see [`column_reduce`]; a second pass writes both `xhat` and the output) and updates the running
//! statistics as PyTorch does: `running = (1 - momentum) * running + momentum * batch`, with
//! the unbiased variance `var * N / (N - 1)`. Evaluation uses the running statistics.
//!
//! Backward uses the normalised input `xhat` kept from forward (written over the input
//! buffer, which is not needed otherwise):
//! `dbeta = sum dy`, `dgamma = sum dy * xhat`,
//! `dx = gamma / sigma * (dy - dbeta / N - xhat * dgamma / N)`.
use rayon::prelude::*;

use super::super::error::NnError;
use super::super::param::Param;
use super::super::spec::ParamRole;
use super::conv::{no_forward, not_contiguous};
use super::{Act, BufferPool, Ctx, column_reduce, row_chunk};

/// A BatchNorm layer.
#[derive(Debug)]
pub struct BatchNorm {
    name: String,
    eps: f32,
    momentum: f32,
    /// Scale.
    pub gamma: Param,
    /// Shift.
    pub beta: Param,
    /// Running mean (not trained).
    pub running_mean: Param,
    /// Running variance (not trained).
    pub running_var: Param,
    /// `xhat` of the last training forward pass.
    xhat: Option<Vec<f32>>,
    /// `1 / sqrt(var + eps)` per channel of the last training forward pass.
    inv_std: Vec<f32>,
    shape: [usize; 4],
}

impl BatchNorm {
    /// A layer over `channels` channels: gamma 1, beta 0, running mean 0, running var 1.
    pub fn new(name: &str, channels: usize, eps: f32, momentum: f32) -> BatchNorm {
        let p = |role: ParamRole, v: f32| {
            Param::new(
                format!("{name}.{}", role.suffix()),
                role,
                ndarray::ArrayD::from_elem(vec![channels], v),
            )
        };
        BatchNorm {
            name: name.to_string(),
            eps,
            momentum,
            gamma: p(ParamRole::Gamma, 1.0),
            beta: p(ParamRole::Beta, 0.0),
            running_mean: p(ParamRole::RunningMean, 0.0),
            running_var: p(ParamRole::RunningVar, 1.0),
            xhat: None,
            inv_std: Vec::new(),
            shape: [0; 4],
        }
    }

    /// gamma, beta, running mean, running var.
    pub fn params(&self) -> impl Iterator<Item = &Param> {
        [
            &self.gamma,
            &self.beta,
            &self.running_mean,
            &self.running_var,
        ]
        .into_iter()
    }

    /// Mutable access, same order as [`BatchNorm::params`].
    pub fn params_mut(&mut self) -> impl Iterator<Item = &mut Param> {
        [
            &mut self.gamma,
            &mut self.beta,
            &mut self.running_mean,
            &mut self.running_var,
        ]
        .into_iter()
    }

    /// Frees what backward needed.
    pub fn release(&mut self, pool: &mut BufferPool) {
        if let Some(v) = self.xhat.take() {
            pool.give(v);
        }
    }

    /// The per-channel `(scale, shift)` of evaluation mode, from the running statistics:
    /// `y = x * scale + shift` with `scale = gamma / sqrt(var + eps)` and
    /// `shift = beta - mean * scale`.
    pub fn eval_scale_shift(&self) -> Result<(Vec<f32>, Vec<f32>), NnError> {
        let gamma = self.vec(&self.gamma)?;
        let beta = self.vec(&self.beta)?;
        let mean = self.vec(&self.running_mean)?;
        let var = self.vec(&self.running_var)?;
        let scale: Vec<f32> = gamma
            .iter()
            .zip(var)
            .map(|(g, v)| g / (v + self.eps).sqrt())
            .collect();
        let shift = beta
            .iter()
            .zip(mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        Ok((scale, shift))
    }

    fn vec<'a>(&self, p: &'a Param) -> Result<&'a [f32], NnError> {
        p.value.as_slice().ok_or_else(|| not_contiguous(&self.name))
    }

    /// Forward pass.
    pub fn forward(&mut self, mut x: Act, ctx: &mut Ctx<'_>) -> Result<Act, NnError> {
        let c = x.c;
        if c != self.gamma.value.len() {
            return Err(NnError::Shape {
                what: format!("input of batch norm `{}`", self.name),
                expected: vec![0, 0, 0, self.gamma.value.len()],
                got: vec![x.n, x.h, x.w, x.c],
            });
        }
        self.release(ctx.pool);
        let rows = x.data.len() / c;
        let gamma = self.vec(&self.gamma)?.to_vec();
        let beta = self.vec(&self.beta)?.to_vec();
        if !ctx.train {
            let (scale, shift) = self.eval_scale_shift()?;
            affine_in_place(&mut x.data, &scale, &shift);
            return Ok(x);
        }
        if rows < 2 {
            return Err(NnError::option(
                "batch size",
                format!(
                    "batch norm `{}` needs more than one value per channel in training",
                    self.name
                ),
            ));
        }
        // One pass for both moments, shifted by the first row's values so that the
        // subtraction `E[(x-k)^2] - E[x-k]^2` does not cancel catastrophically.
        let data = &x.data;
        let shift: Vec<f32> = data[..c].to_vec();
        let moments = column_reduce(rows, 2 * c, |r, acc| {
            let (s1, s2) = acc.split_at_mut(c);
            for row in data[r.start * c..r.end * c].chunks_exact(c) {
                for i in 0..c {
                    let d = row[i] - shift[i];
                    s1[i] += d;
                    s2[i] += d * d;
                }
            }
        });
        let mut mean = vec![0.0f32; c];
        let mut var = vec![0.0f64; c];
        for i in 0..c {
            let m1 = moments[i] / rows as f64;
            mean[i] = (shift[i] as f64 + m1) as f32;
            var[i] = (moments[c + i] / rows as f64 - m1 * m1).max(0.0);
        }
        self.inv_std = var
            .iter()
            .map(|v| (1.0 / (v + self.eps as f64).sqrt()) as f32)
            .collect();
        // One pass writes xhat over the input buffer and y into a fresh one.
        let inv_std = &self.inv_std;
        let mut y = ctx.pool.take(x.data.len());
        y.par_chunks_mut(row_chunk(c))
            .zip(x.data.par_chunks_mut(row_chunk(c)))
            .for_each(|(y, xs)| {
                for (yr, xr) in y.chunks_exact_mut(c).zip(xs.chunks_exact_mut(c)) {
                    for i in 0..c {
                        let xh = (xr[i] - mean[i]) * inv_std[i];
                        xr[i] = xh;
                        yr[i] = xh * gamma[i] + beta[i];
                    }
                }
            });
        let m = self.momentum;
        let unbias = rows as f64 / (rows - 1) as f64;
        let rm = self
            .running_mean
            .value
            .as_slice_mut()
            .ok_or_else(|| not_contiguous(&self.name))?;
        for (r, b) in rm.iter_mut().zip(&mean) {
            *r = (1.0 - m) * *r + m * b;
        }
        let rv = self
            .running_var
            .value
            .as_slice_mut()
            .ok_or_else(|| not_contiguous(&self.name))?;
        for (r, b) in rv.iter_mut().zip(&var) {
            *r = (1.0 - m) * *r + m * (b * unbias) as f32;
        }
        self.shape = [x.n, x.h, x.w, x.c];
        let out = Act::new(y, x.n, x.h, x.w, x.c)?;
        self.xhat = Some(x.data);
        Ok(out)
    }

    /// Backward pass (in place on `dy`).
    pub fn backward(&mut self, mut dy: Act, pool: &mut BufferPool) -> Result<Act, NnError> {
        let Some(xhat) = self.xhat.take() else {
            return Err(no_forward(&self.name));
        };
        if [dy.n, dy.h, dy.w, dy.c] != self.shape {
            return Err(NnError::Shape {
                what: format!("output gradient of batch norm `{}`", self.name),
                expected: self.shape.to_vec(),
                got: vec![dy.n, dy.h, dy.w, dy.c],
            });
        }
        let c = dy.c;
        let rows = dy.data.len() / c;
        let d = &dy.data;
        let xh = &xhat;
        let both = column_reduce(rows, 2 * c, |r, acc| {
            let (sb, sg) = acc.split_at_mut(c);
            for (dr, xr) in d[r.start * c..r.end * c]
                .chunks_exact(c)
                .zip(xh[r.start * c..r.end * c].chunks_exact(c))
            {
                for i in 0..c {
                    sb[i] += dr[i];
                    sg[i] += dr[i] * xr[i];
                }
            }
        });
        let (dbeta, dgamma) = both.split_at(c);
        for (g, v) in self.beta.grad.iter_mut().zip(dbeta) {
            *g += *v as f32;
        }
        for (g, v) in self.gamma.grad.iter_mut().zip(dgamma) {
            *g += *v as f32;
        }
        let gamma = self.vec(&self.gamma)?;
        let k: Vec<f32> = (0..c).map(|i| gamma[i] * self.inv_std[i]).collect();
        let mb: Vec<f32> = dbeta.iter().map(|v| (v / rows as f64) as f32).collect();
        let mg: Vec<f32> = dgamma.iter().map(|v| (v / rows as f64) as f32).collect();
        let step = row_chunk(c);
        dy.data
            .par_chunks_mut(step)
            .zip(xhat.par_chunks(step))
            .for_each(|(d, xh)| {
                for (dr, xr) in d.chunks_exact_mut(c).zip(xh.chunks_exact(c)) {
                    for i in 0..c {
                        dr[i] = k[i] * (dr[i] - mb[i] - xr[i] * mg[i]);
                    }
                }
            });
        pool.give(xhat);
        Ok(dy)
    }
}

/// `x = x * scale + shift` per channel (last axis), in place.
fn affine_in_place(x: &mut [f32], scale: &[f32], shift: &[f32]) {
    let c = scale.len();
    x.par_chunks_mut(row_chunk(c))
        .for_each(|chunk| affine_rows(chunk, scale, shift));
}

/// `v = v * scale[j] + shift[j]` over rows of `scale.len()` values.
#[multiversion::multiversion(targets = "simd")]
fn affine_rows(rows: &mut [f32], scale: &[f32], shift: &[f32]) {
    for row in rows.chunks_exact_mut(scale.len()) {
        for ((v, s), b) in row.iter_mut().zip(scale).zip(shift) {
            *v = *v * s + b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{act, check_layer, randomize};
    use super::super::{BufferPool, Ctx, Layer};
    use super::*;

    #[test]
    fn gradients_match_finite_differences_in_training_mode() {
        for (i, (n, h, w, c)) in [(2, 3, 3, 4), (5, 1, 1, 6), (3, 2, 5, 1)]
            .into_iter()
            .enumerate()
        {
            let mut layer = Layer::BatchNorm(BatchNorm::new("bn", c, 1e-5, 0.1));
            randomize(&mut layer, i as u64, 1.0);
            check_layer(
                &mut layer,
                act(n, h, w, c, 50 + i as u64),
                &format!("batch norm {n}x{h}x{w}x{c}"),
            );
        }
    }

    #[test]
    fn statistics_follow_pytorch() {
        // Values written out: channel 0 holds 1, 2, 3, 6 -> mean 3, biased var 3.5, unbiased 14/3.
        let x = Act::new(vec![1.0, 10.0, 2.0, 10.0, 3.0, 10.0, 6.0, 10.0], 4, 1, 1, 2).unwrap();
        let mut bn = BatchNorm::new("bn", 2, 1e-5, 0.1);
        let mut pool = BufferPool::default();
        let mut ctx = Ctx {
            train: true,
            dropout_seed: 0,
            pool: &mut pool,
            profile: None,
        };
        let y = bn.forward(x.clone(), &mut ctx).unwrap();
        let s = (3.5f32 + 1e-5).sqrt();
        assert!((y.data[0] - (1.0 - 3.0) / s).abs() < 1e-6);
        assert_eq!(y.data[1], 0.0);
        let rm = bn.running_mean.value.as_slice().unwrap().to_vec();
        let rv = bn.running_var.value.as_slice().unwrap().to_vec();
        assert!((rm[0] - 0.3).abs() < 1e-6 && (rm[1] - 1.0).abs() < 1e-6);
        assert!((rv[0] - (0.9 + 0.1 * 14.0 / 3.0)).abs() < 1e-6 && (rv[1] - 0.9).abs() < 1e-6);
        let mut ctx = Ctx {
            train: false,
            dropout_seed: 0,
            pool: &mut pool,
            profile: None,
        };
        let y = bn.forward(x, &mut ctx).unwrap();
        assert!((y.data[0] - (1.0 - 0.3) / (rv[0] + 1e-5).sqrt()).abs() < 1e-6);
    }
}
