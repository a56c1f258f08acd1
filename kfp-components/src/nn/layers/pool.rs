//! Max and average pooling (VALID windows) and global average pooling.
//!
//! Max pooling keeps, for backward, the index (inside its image) of each window's maximum;
//! the first maximum wins on ties, as in PyTorch. Both loops are branch-free over the channel
//! axis so they vectorise (NaN inputs are skipped by the maximum, unlike PyTorch, which
//! propagates them). Work is parallel over images.
use rayon::prelude::*;

use super::super::error::NnError;
use super::conv::no_forward;
use super::{Act, BufferPool, Ctx};

/// A `size x size` pool with a stride, VALID padding.
#[derive(Debug)]
pub struct Pool2d {
    max: bool,
    size: usize,
    stride: usize,
    /// Input `[n, h, w, c]` of the last training forward pass.
    input: [usize; 4],
    /// Per output value, the index of its maximum within its image (max pooling).
    argmax: Vec<u32>,
    ready: bool,
}

impl Pool2d {
    /// Max pooling (`max == true`) or average pooling.
    pub fn new(max: bool, size: usize, stride: usize) -> Pool2d {
        Pool2d {
            max,
            size,
            stride,
            input: [0; 4],
            argmax: Vec::new(),
            ready: false,
        }
    }

    /// Profile label.
    pub fn kind(&self) -> &'static str {
        if self.max { "max_pool" } else { "avg_pool" }
    }

    /// Frees what backward needed.
    pub fn release(&mut self) {
        self.ready = false;
    }

    fn out_dims(&self, h: usize, w: usize) -> Result<(usize, usize), NnError> {
        if self.size == 0 || self.stride == 0 || self.size > h || self.size > w {
            return Err(NnError::Shape {
                what: format!(
                    "input of {} (window {}, stride {})",
                    self.kind(),
                    self.size,
                    self.stride
                ),
                expected: vec![0, self.size, self.size, 0],
                got: vec![0, h, w, 0],
            });
        }
        Ok((
            (h - self.size) / self.stride + 1,
            (w - self.size) / self.stride + 1,
        ))
    }

    /// Forward pass.
    pub fn forward(&mut self, x: Act, ctx: &mut Ctx<'_>) -> Result<Act, NnError> {
        let (n, h, w, c) = (x.n, x.h, x.w, x.c);
        let (oh, ow) = self.out_dims(h, w)?;
        let (size, stride, max) = (self.size, self.stride, self.max);
        let mut y = ctx.pool.take(n * oh * ow * c);
        // Training max pooling records the argmax (a u32 per output value) for backward.
        let keep = ctx.train && max;
        self.argmax
            .resize(if keep { n * oh * ow * c } else { 0 }, 0);
        let per_in = h * w * c;
        let per_out = oh * ow * c;
        let inv = 1.0 / (size * size) as f32;
        let idx_chunks: Vec<&mut [u32]> = if keep {
            self.argmax.chunks_mut(per_out).collect()
        } else {
            (0..n).map(|_| <&mut [u32]>::default()).collect()
        };
        y.par_chunks_mut(per_out)
            .zip(idx_chunks.into_par_iter())
            .enumerate()
            .for_each(|(img, (yo, idx))| {
                let xi = &x.data[img * per_in..(img + 1) * per_in];
                let window = Window {
                    w,
                    c,
                    oh,
                    ow,
                    size,
                    stride,
                };
                pool_image(xi, yo, idx, &window, max, keep, inv);
            });
        ctx.pool.give(x.data);
        if ctx.train {
            self.input = [n, h, w, c];
            self.ready = true;
        }
        Act::new(y, n, oh, ow, c)
    }

    /// Backward pass.
    pub fn backward(&mut self, dy: Act, pool: &mut BufferPool) -> Result<Act, NnError> {
        if !self.ready {
            return Err(no_forward(self.kind()));
        }
        self.ready = false;
        let [n, h, w, c] = self.input;
        let (oh, ow) = self.out_dims(h, w)?;
        if [dy.n, dy.h, dy.w, dy.c] != [n, oh, ow, c] {
            return Err(NnError::Shape {
                what: format!("output gradient of {}", self.kind()),
                expected: vec![n, oh, ow, c],
                got: vec![dy.n, dy.h, dy.w, dy.c],
            });
        }
        let mut dx = pool.take(n * h * w * c);
        let per_in = h * w * c;
        let per_out = oh * ow * c;
        let (size, stride) = (self.size, self.stride);
        let inv = 1.0 / (size * size) as f32;
        let argmax = &self.argmax;
        let max = self.max;
        dx.par_chunks_mut(per_in).enumerate().for_each(|(img, d)| {
            d.fill(0.0);
            let g = &dy.data[img * per_out..(img + 1) * per_out];
            if max {
                let idx = &argmax[img * per_out..(img + 1) * per_out];
                for (gv, &i) in g.iter().zip(idx) {
                    d[i as usize] += gv;
                }
            } else {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let src = &g[(oy * ow + ox) * c..(oy * ow + ox + 1) * c];
                        for ky in 0..size {
                            for kx in 0..size {
                                let at = ((oy * stride + ky) * w + ox * stride + kx) * c;
                                for (a, v) in d[at..at + c].iter_mut().zip(src) {
                                    *a += v * inv;
                                }
                            }
                        }
                    }
                }
            }
        });
        pool.give(dy.data);
        Act::new(dx, n, h, w, c)
    }
}

/// Mean over height and width.
#[derive(Debug, Default)]
pub struct GlobalAvgPool {
    input: [usize; 4],
}

impl GlobalAvgPool {
    /// Forward pass: `[n, h, w, c]` to `[n, 1, 1, c]`.
    pub fn forward(&mut self, x: Act, ctx: &mut Ctx<'_>) -> Result<Act, NnError> {
        let (n, hw, c) = (x.n, x.h * x.w, x.c);
        let mut y = vec![0.0f32; n * c];
        let inv = 1.0 / hw as f32;
        y.par_chunks_mut(c).enumerate().for_each(|(img, out)| {
            for px in x.data[img * hw * c..(img + 1) * hw * c].chunks_exact(c) {
                for (a, v) in out.iter_mut().zip(px) {
                    *a += v;
                }
            }
            for a in out.iter_mut() {
                *a *= inv;
            }
        });
        self.input = [x.n, x.h, x.w, x.c];
        ctx.pool.give(x.data);
        Act::new(y, n, 1, 1, c)
    }

    /// Backward pass.
    pub fn backward(&mut self, dy: Act, pool: &mut BufferPool) -> Result<Act, NnError> {
        let [n, h, w, c] = self.input;
        if dy.n != n || dy.per_example() != c {
            return Err(NnError::Shape {
                what: "output gradient of global_avg_pool".into(),
                expected: vec![n, c],
                got: vec![dy.n, dy.per_example()],
            });
        }
        let hw = h * w;
        let inv = 1.0 / hw as f32;
        let mut dx = pool.take(n * hw * c);
        dx.par_chunks_mut(hw * c).enumerate().for_each(|(img, d)| {
            let g = &dy.data[img * c..(img + 1) * c];
            for px in d.chunks_exact_mut(c) {
                for (a, v) in px.iter_mut().zip(g) {
                    *a = v * inv;
                }
            }
        });
        Act::new(dx, n, h, w, c)
    }
}

/// The geometry of one image's pooling: input width and channels, output size, window.
#[derive(Debug, Clone, Copy)]
struct Window {
    w: usize,
    c: usize,
    oh: usize,
    ow: usize,
    size: usize,
    stride: usize,
}

/// Pools one image `xi` into `yo` (max or average; for a training max pool, records each
/// output's argmax in `idx`).
#[multiversion::multiversion(targets = "simd")]
fn pool_image(
    xi: &[f32],
    yo: &mut [f32],
    idx: &mut [u32],
    win: &Window,
    max: bool,
    keep: bool,
    inv: f32,
) {
    let Window {
        w,
        c,
        oh,
        ow,
        size,
        stride,
    } = *win;
    for oy in 0..oh {
        for ox in 0..ow {
            let o = (oy * ow + ox) * c;
            let out = &mut yo[o..o + c];
            if max {
                out.fill(f32::NEG_INFINITY);
            } else {
                out.fill(0.0);
            }
            for ky in 0..size {
                for kx in 0..size {
                    let at = ((oy * stride + ky) * w + ox * stride + kx) * c;
                    let px = &xi[at..at + c];
                    if max {
                        for (a, v) in out.iter_mut().zip(px) {
                            *a = a.max(*v);
                        }
                    } else {
                        for (a, v) in out.iter_mut().zip(px) {
                            *a += v;
                        }
                    }
                }
            }
            if keep {
                // The first position (in window order) holding the maximum: visit
                // the window backwards and let later matches overwrite.
                let ix = &mut idx[o..o + c];
                for ky in (0..size).rev() {
                    for kx in (0..size).rev() {
                        let at = ((oy * stride + ky) * w + ox * stride + kx) * c;
                        for (ch, ((i, v), m)) in ix
                            .iter_mut()
                            .zip(&xi[at..at + c])
                            .zip(out.iter())
                            .enumerate()
                        {
                            *i = if v == m { (at + ch) as u32 } else { *i };
                        }
                    }
                }
            }
            if !max {
                for a in out.iter_mut() {
                    *a *= inv;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{act, check_layer, spread};
    use super::super::{Act, Layer};
    use super::*;

    #[test]
    fn gradients_match_finite_differences() {
        for (max, size, stride, (n, h, w, c)) in [
            (true, 2, 2, (2, 4, 4, 3)),
            (true, 3, 2, (2, 7, 5, 2)),
            (true, 2, 1, (1, 3, 4, 3)),
            (false, 2, 2, (2, 5, 4, 3)),
            (false, 3, 1, (2, 4, 5, 2)),
        ] {
            // Distinct values far apart, so a +-h step never changes which value is the max.
            let x = Act::new(spread(n * h * w * c, 0.05, 7), n, h, w, c).unwrap();
            check_layer(
                &mut Layer::Pool(Pool2d::new(max, size, stride)),
                x,
                &format!("pool max={max} {size}/{stride}"),
            );
        }
        check_layer(
            &mut Layer::GlobalAvgPool(GlobalAvgPool::default()),
            act(3, 3, 2, 4, 8),
            "global avg pool",
        );
    }

    #[test]
    fn max_pool_values_are_window_maxima() {
        let x = Act::new((0..16).map(|v| ((v * 7) % 16) as f32).collect(), 1, 4, 4, 1).unwrap();
        let mut pool = super::super::BufferPool::default();
        let mut ctx = Ctx {
            train: false,
            dropout_seed: 0,
            pool: &mut pool,
            profile: None,
        };
        let y = Pool2d::new(true, 2, 2)
            .forward(x.clone(), &mut ctx)
            .unwrap();
        let want: Vec<f32> = [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]
            .iter()
            .map(|idx| idx.iter().map(|&i| x.data[i]).fold(f32::MIN, f32::max))
            .collect();
        assert_eq!(y.data, want);
    }
}
