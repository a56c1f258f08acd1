//! 2-D convolution: any kernel size and stride, SAME/VALID padding, channel groups
//! (depthwise included), optional bias.
//!
//! Three paths, picked once from the layer's shape:
//!
//! - **pointwise** (1x1, stride 1, one group): the NHWC input already is the
//!   `[n*h*w, c]` patch matrix; forward is one [`gemm()`] with the `[c, filters]` kernel.
//! - **im2col** (everything else with more than one input channel per group): per group,
//!   [`im2col`] builds `[n*oh*ow, kh*kw*cin_g]` patches and one [`gemm()`] with the group's
//!   kernel columns (a strided view of the HWIO kernel, no copy) writes the group's output
//!   channels in place. Backward reuses the patches kept from forward:
//!   `dW_g += patches_g^T * dY_g`, then `dpatches_g = dY_g * W_g^T` overwrites the patches
//!   and [`col2im_add`] scatters them into the input gradient.
//! - **tiled** (the im2col case with at least [`TILED_MIN_PLANE`] output pixels per image):
//!   the same products, but one rayon task per group of images, [`TILE_ROWS`] output pixels at
//!   a time, with single-threaded products. The patches of a tile stay in the core's cache
//!   instead of making a round trip through memory, and backward rebuilds them from the saved
//!   input instead of keeping 9x larger patches. Each task sums its own weight gradient; the
//!   task sums are added in task order (tasks are fixed by the shape, not the thread count).
//! - **depthwise** (one input channel per group): direct loops over pixels with the channel
//!   axis innermost (contiguous in NHWC and in the HWIO kernel), parallel over images; the
//!   weight gradient is summed per image and the per-image sums added in image order.
//!
//! In evaluation mode, a convolution followed by a BatchNorm and/or a ReLU runs as one layer
//! ([`Conv2d::forward_fused`]): the BatchNorm is folded into a copy of the kernel and a
//! per-filter shift, and the shift and the clamp are applied to each tile of output while it
//! is still in cache, instead of two more passes over the activations.
use rayon::prelude::*;

use super::super::error::NnError;
use super::super::gemm::{MatMut, MatRef, gemm, gemm_serial};
use super::super::param::Param;
use super::super::spec::{LayerSpec, ParamRole};
use super::batch_norm::BatchNorm;
use super::im2col::{Geometry, col2im_add, col2im_rows_add, im2col, im2col_rows};
use super::{Act, BufferPool, Ctx, column_sums_into};

/// Output pixels per image from which a convolution uses [`ConvPath::Tiled`].
pub const TILED_MIN_PLANE: usize = 64;
/// Output pixels per patch tile in [`ConvPath::Tiled`].
pub const TILE_ROWS: usize = 256;
/// Output pixels per task in [`ConvPath::Tiled`] (whole images, at least one).
const TASK_ROWS: usize = 1024;

std::thread_local! {
    /// Per-thread patch buffers of the tiled path (patches, patch gradients).
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Which algorithm a convolution uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvPath {
    /// 1x1, stride 1, one group: a single matrix product.
    Pointwise,
    /// Patches then a matrix product per group, over the whole batch at once (small outputs:
    /// the product is large enough to parallelise inside).
    Im2col,
    /// Patches then a matrix product per group, one rayon task per group of images and
    /// [`TILE_ROWS`] output pixels at a time, so the patches stay in cache (large outputs).
    Tiled,
    /// One input channel per group: direct loops.
    Depthwise,
}

/// A convolution layer.
#[derive(Debug)]
pub struct Conv2d {
    geom: Geometry,
    filters: usize,
    groups: usize,
    path: ConvPath,
    /// HWIO kernel.
    pub weight: Param,
    /// Per-filter bias.
    pub bias: Option<Param>,
    /// Patches (im2col) or the input (pointwise, depthwise) of the last training forward.
    saved: Option<Vec<f32>>,
    saved_n: usize,
}

impl Conv2d {
    /// Builds the layer for an `[h, w, c]` input; weights are zero until initialised.
    pub fn new(spec: &LayerSpec, input: [usize; 3]) -> Result<Conv2d, NnError> {
        let LayerSpec::Conv2d {
            name,
            filters,
            kernel,
            stride,
            padding,
            groups,
            bias,
        } = spec
        else {
            return Err(NnError::Spec {
                layer: spec.label(),
                message: "not a convolution".into(),
            });
        };
        let err = |message: String| NnError::Spec {
            layer: name.clone(),
            message,
        };
        if *groups == 0 || !input[2].is_multiple_of(*groups) || !filters.is_multiple_of(*groups) {
            return Err(err(format!(
                "groups {groups} must divide {} and {filters}",
                input[2]
            )));
        }
        let geom = Geometry::new(input, *kernel, *stride, *padding).ok_or_else(|| {
            err(format!(
                "kernel {kernel:?} stride {stride:?} do not fit {input:?}"
            ))
        })?;
        let cg = input[2] / groups;
        let path = if cg == 1 && *groups > 1 {
            ConvPath::Depthwise
        } else if *groups == 1 && geom.is_pointwise() {
            ConvPath::Pointwise
        } else if geom.oh * geom.ow >= TILED_MIN_PLANE {
            ConvPath::Tiled
        } else {
            ConvPath::Im2col
        };
        let w = ndarray::ArrayD::zeros(vec![kernel[0], kernel[1], cg, *filters]);
        Ok(Conv2d {
            geom,
            filters: *filters,
            groups: *groups,
            path,
            weight: Param::new(format!("{name}.weight"), ParamRole::Weight, w),
            bias: bias.then(|| {
                Param::new(
                    format!("{name}.bias"),
                    ParamRole::Bias,
                    ndarray::ArrayD::zeros(vec![*filters]),
                )
            }),
            saved: None,
            saved_n: 0,
        })
    }

    /// The algorithm chosen for this layer's shape.
    pub fn path(&self) -> ConvPath {
        self.path
    }

    /// The geometry (input, kernel, stride, padding, output).
    pub fn geometry(&self) -> Geometry {
        self.geom
    }

    /// Channel groups.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// Kernel values per filter (`kh * kw * cin / groups`), the fan-in.
    pub fn fan_in(&self) -> usize {
        self.geom.kh * self.geom.kw * self.geom.c / self.groups
    }

    /// Profile label.
    pub fn kind(&self) -> &'static str {
        match self.path {
            ConvPath::Pointwise => "conv1x1",
            ConvPath::Im2col => "conv",
            ConvPath::Tiled => "conv_tiled",
            ConvPath::Depthwise => "conv_dw",
        }
    }

    /// The layer's tensors (weight, then bias).
    pub fn params(&self) -> impl Iterator<Item = &Param> {
        std::iter::once(&self.weight).chain(self.bias.as_ref())
    }

    /// Mutable access to the layer's tensors.
    pub fn params_mut(&mut self) -> impl Iterator<Item = &mut Param> {
        std::iter::once(&mut self.weight).chain(self.bias.as_mut())
    }

    /// Frees the buffers kept for backward.
    pub fn release(&mut self, pool: &mut BufferPool) {
        if let Some(v) = self.saved.take() {
            pool.give(v);
        }
    }

    fn check_input(&self, x: &Act) -> Result<(), NnError> {
        let g = &self.geom;
        if (x.h, x.w, x.c) != (g.h, g.w, g.c) {
            return Err(NnError::Shape {
                what: format!("input of convolution `{}`", self.weight.name),
                expected: vec![0, g.h, g.w, g.c],
                got: vec![x.n, x.h, x.w, x.c],
            });
        }
        Ok(())
    }

    fn weight_slice(&self) -> Result<&[f32], NnError> {
        self.weight
            .value
            .as_slice()
            .ok_or_else(|| not_contiguous(&self.weight.name))
    }

    /// Forward pass.
    pub fn forward(&mut self, x: Act, ctx: &mut Ctx<'_>) -> Result<Act, NnError> {
        self.check_input(&x)?;
        self.release(ctx.pool);
        let n = x.n;
        let w = self.weight_slice()?;
        let bias = match &self.bias {
            Some(b) => Some(Epilogue {
                shift: b
                    .value
                    .as_slice()
                    .ok_or_else(|| not_contiguous(&self.weight.name))?
                    .to_vec(),
                low: f32::NEG_INFINITY,
                high: f32::INFINITY,
            }),
            None => None,
        };
        let (y, kept) = self.run(x, w, bias.as_ref(), ctx.pool)?;
        self.keep(kept, n, ctx);
        Ok(y)
    }

    /// Evaluation-mode forward pass of this convolution followed by `batch_norm` (folded into
    /// the kernel: `w * gamma / sqrt(var + eps)` per filter, the rest into a per-filter shift)
    /// and by a ReLU capped at `activation` (`f32::INFINITY` for plain ReLU), all in one pass:
    /// the shift and the clamp are applied to each tile of output while it is in cache. The
    /// result equals the three layers run one after the other up to rounding.
    pub fn forward_fused(
        &mut self,
        x: Act,
        batch_norm: Option<&BatchNorm>,
        activation: Option<f32>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Act, NnError> {
        if ctx.train {
            return Err(NnError::option(
                "mode",
                format!(
                    "convolution `{}`: fused forward is for evaluation only",
                    self.weight.name
                ),
            ));
        }
        self.check_input(&x)?;
        self.release(ctx.pool);
        let f = self.filters;
        let (scale, mut shift) = match batch_norm {
            Some(bn) => bn.eval_scale_shift()?,
            None => (vec![1.0; f], vec![0.0; f]),
        };
        if scale.len() != f {
            return Err(NnError::Shape {
                what: format!("batch norm after convolution `{}`", self.weight.name),
                expected: vec![f],
                got: vec![scale.len()],
            });
        }
        if let Some(b) = &self.bias {
            let b = b
                .value
                .as_slice()
                .ok_or_else(|| not_contiguous(&self.weight.name))?;
            for ((t, b), s) in shift.iter_mut().zip(b).zip(&scale) {
                *t += b * s;
            }
        }
        let w = self.weight_slice()?;
        let mut folded = ctx.pool.take(w.len());
        for (dst, src) in folded.chunks_exact_mut(f).zip(w.chunks_exact(f)) {
            for ((d, v), s) in dst.iter_mut().zip(src).zip(&scale) {
                *d = v * s;
            }
        }
        let ep = Epilogue {
            shift,
            low: if activation.is_some() {
                0.0
            } else {
                f32::NEG_INFINITY
            },
            high: activation.unwrap_or(f32::INFINITY),
        };
        let result = self.run(x, &folded, Some(&ep), ctx.pool);
        ctx.pool.give(folded);
        let (y, kept) = result?;
        ctx.pool.give(kept);
        Ok(y)
    }

    /// The convolution with kernel `w` (the layer's or a folded copy), then `epilogue` on
    /// every output row when given. Returns the output and the buffer that backward would keep
    /// (the patches or the input).
    fn run(
        &self,
        x: Act,
        w: &[f32],
        epilogue: Option<&Epilogue>,
        pool: &mut BufferPool,
    ) -> Result<(Act, Vec<f32>), NnError> {
        let g = self.geom;
        let n = x.n;
        let rows = n * g.oh * g.ow;
        let mut y = pool.take(rows * self.filters);
        let mut whole_output_epilogue = epilogue.is_some();
        let kept = match self.path {
            ConvPath::Pointwise => {
                gemm(
                    1.0,
                    MatRef::row_major(&x.data, rows, g.c),
                    MatRef::row_major(w, g.c, self.filters),
                    0.0,
                    MatMut::row_major(&mut y, rows, self.filters),
                )?;
                x.data
            }
            ConvPath::Im2col => {
                let cg = g.c / self.groups;
                let fg = self.filters / self.groups;
                let kg = g.kh * g.kw * cg;
                let mut cols = pool.take(self.groups * rows * kg);
                for (gi, block) in cols.chunks_mut(rows * kg).enumerate() {
                    im2col(&x.data, n, &g, gi * cg, cg, block);
                    gemm(
                        1.0,
                        MatRef::row_major(block, rows, kg),
                        strided(&w[gi * fg..], kg, fg, self.filters),
                        0.0,
                        strided_mut(&mut y[gi * fg..], rows, fg, self.filters),
                    )?;
                }
                pool.give(x.data);
                cols
            }
            ConvPath::Tiled => {
                self.tiled_forward(&x.data, w, epilogue, &mut y)?;
                whole_output_epilogue = false;
                x.data
            }
            ConvPath::Depthwise => {
                depthwise_forward(&x.data, w, &g, self.filters, &mut y);
                x.data
            }
        };
        if let (true, Some(ep)) = (whole_output_epilogue, epilogue) {
            y.par_chunks_mut(self.filters * 256)
                .for_each(|chunk| ep.apply(chunk));
        }
        Ok((Act::new(y, n, g.oh, g.ow, self.filters)?, kept))
    }

    fn images_per_task(&self) -> usize {
        TASK_ROWS.div_ceil(self.geom.oh * self.geom.ow).max(1)
    }

    fn tiled_forward(
        &self,
        x: &[f32],
        w: &[f32],
        epilogue: Option<&Epilogue>,
        y: &mut [f32],
    ) -> Result<(), NnError> {
        let g = self.geom;
        let (filters, groups) = (self.filters, self.groups);
        let cg = g.c / groups;
        let fg = filters / groups;
        let kg = g.kh * g.kw * cg;
        let per_task = self.images_per_task();
        y.par_chunks_mut(per_task * g.oh * g.ow * filters)
            .zip(x.par_chunks(per_task * g.h * g.w * g.c))
            .try_for_each(|(yt, xt)| {
                SCRATCH.with(|s| {
                    let cols = &mut s.borrow_mut().0;
                    cols.resize(TILE_ROWS * kg, 0.0);
                    let rows = yt.len() / filters;
                    for r0 in (0..rows).step_by(TILE_ROWS) {
                        let r1 = (r0 + TILE_ROWS).min(rows);
                        let out = &mut yt[r0 * filters..r1 * filters];
                        let tile = &mut cols[..(r1 - r0) * kg];
                        for gi in 0..groups {
                            im2col_rows(xt, &g, gi * cg, cg, r0, r1, tile);
                            gemm_serial(
                                1.0,
                                MatRef::row_major(tile, r1 - r0, kg),
                                strided(&w[gi * fg..], kg, fg, filters),
                                0.0,
                                strided_mut(&mut out[gi * fg..], r1 - r0, fg, filters),
                            )?;
                        }
                        if let Some(ep) = epilogue {
                            ep.apply(out);
                        }
                    }
                    Ok(())
                })
            })
    }

    fn keep(&mut self, buf: Vec<f32>, n: usize, ctx: &mut Ctx<'_>) {
        if ctx.train {
            self.saved = Some(buf);
            self.saved_n = n;
        } else {
            ctx.pool.give(buf);
        }
    }

    /// Backward pass: adds into the weight (and bias) gradient, returns the input gradient
    /// when `need_dx`.
    pub fn backward(
        &mut self,
        dy: Act,
        need_dx: bool,
        pool: &mut BufferPool,
    ) -> Result<Option<Act>, NnError> {
        let g = self.geom;
        let n = self.saved_n;
        let Some(mut saved) = self.saved.take() else {
            return Err(no_forward(&self.weight.name));
        };
        if (dy.n, dy.h, dy.w, dy.c) != (n, g.oh, g.ow, self.filters) {
            return Err(NnError::Shape {
                what: format!("output gradient of convolution `{}`", self.weight.name),
                expected: vec![n, g.oh, g.ow, self.filters],
                got: vec![dy.n, dy.h, dy.w, dy.c],
            });
        }
        let rows = n * g.oh * g.ow;
        if let Some(b) = &mut self.bias {
            let gb = b
                .grad
                .as_slice_mut()
                .ok_or_else(|| not_contiguous(&self.weight.name))?;
            column_sums_into(&dy.data, self.filters, gb);
        }
        let filters = self.filters;
        let w = self
            .weight
            .value
            .as_slice()
            .ok_or_else(|| not_contiguous(&self.weight.name))?;
        let gw = self
            .weight
            .grad
            .as_slice_mut()
            .ok_or_else(|| not_contiguous(&self.weight.name))?;
        let dx = match self.path {
            ConvPath::Pointwise => {
                gemm(
                    1.0,
                    MatRef::row_major(&saved, rows, g.c).t(),
                    MatRef::row_major(&dy.data, rows, filters),
                    1.0,
                    MatMut::row_major(gw, g.c, filters),
                )?;
                if need_dx {
                    // The saved input is not needed any more: reuse it for dx.
                    gemm(
                        1.0,
                        MatRef::row_major(&dy.data, rows, filters),
                        MatRef::row_major(w, g.c, filters).t(),
                        0.0,
                        MatMut::row_major(&mut saved, rows, g.c),
                    )?;
                    Some(saved)
                } else {
                    pool.give(saved);
                    None
                }
            }
            ConvPath::Im2col => {
                let cg = g.c / self.groups;
                let fg = filters / self.groups;
                let kg = g.kh * g.kw * cg;
                for (gi, block) in saved.chunks_mut(rows * kg).enumerate() {
                    gemm(
                        1.0,
                        MatRef::row_major(block, rows, kg).t(),
                        strided(&dy.data[gi * fg..], rows, fg, filters),
                        1.0,
                        strided_mut(&mut gw[gi * fg..], kg, fg, filters),
                    )?;
                    if need_dx {
                        gemm(
                            1.0,
                            strided(&dy.data[gi * fg..], rows, fg, filters),
                            strided(&w[gi * fg..], kg, fg, filters).t(),
                            0.0,
                            MatMut::row_major(block, rows, kg),
                        )?;
                    }
                }
                if need_dx {
                    let mut dx = pool.take_zeroed(n * g.h * g.w * g.c);
                    for (gi, block) in saved.chunks(rows * kg).enumerate() {
                        col2im_add(block, n, &g, gi * cg, cg, &mut dx);
                    }
                    pool.give(saved);
                    Some(dx)
                } else {
                    pool.give(saved);
                    None
                }
            }
            ConvPath::Tiled => {
                let mut dx = need_dx.then(|| pool.take_zeroed(n * g.h * g.w * g.c));
                tiled_backward(
                    &self.geom,
                    self.groups,
                    filters,
                    &saved,
                    &dy.data,
                    w,
                    gw,
                    dx.as_deref_mut(),
                )?;
                pool.give(saved);
                dx
            }
            ConvPath::Depthwise => {
                depthwise_weight_grad(&saved, &dy.data, n, &g, filters, gw);
                let dx = need_dx.then(|| {
                    let mut dx = pool.take(n * g.h * g.w * g.c);
                    depthwise_input_grad(&dy.data, w, n, &g, filters, &mut dx);
                    dx
                });
                pool.give(saved);
                dx
            }
        };
        pool.give(dy.data);
        dx.map(|d| Act::new(d, n, g.h, g.w, g.c)).transpose()
    }
}

/// Backward of the tiled path: per task, rebuild the patches tile by tile, add
/// `patches^T * dY` into the task's weight gradient and scatter `dY * W^T` into `dx`; then add
/// the task gradients into `gw` in task order.
#[allow(clippy::too_many_arguments)]
fn tiled_backward(
    g: &Geometry,
    groups: usize,
    filters: usize,
    x: &[f32],
    dy: &[f32],
    w: &[f32],
    gw: &mut [f32],
    dx: Option<&mut [f32]>,
) -> Result<(), NnError> {
    let cg = g.c / groups;
    let fg = filters / groups;
    let kg = g.kh * g.kw * cg;
    let per_task = TASK_ROWS.div_ceil(g.oh * g.ow).max(1);
    let in_len = per_task * g.h * g.w * g.c;
    let out_len = per_task * g.oh * g.ow * filters;
    let dx_chunks: Vec<Option<&mut [f32]>> = match dx {
        Some(d) => d.chunks_mut(in_len).map(Some).collect(),
        None => x.chunks(in_len).map(|_| None).collect(),
    };
    let partials: Vec<Vec<f32>> = dx_chunks
        .into_par_iter()
        .zip(x.par_chunks(in_len))
        .zip(dy.par_chunks(out_len))
        .map(|((mut dxt, xt), dyt)| {
            let mut part = vec![0.0f32; gw.len()];
            SCRATCH.with(|s| {
                let (cols, dcols) = &mut *s.borrow_mut();
                cols.resize(TILE_ROWS * kg, 0.0);
                dcols.resize(TILE_ROWS * kg, 0.0);
                let rows = dyt.len() / filters;
                for r0 in (0..rows).step_by(TILE_ROWS) {
                    let r1 = (r0 + TILE_ROWS).min(rows);
                    let m = r1 - r0;
                    for gi in 0..groups {
                        let tile = &mut cols[..m * kg];
                        im2col_rows(xt, g, gi * cg, cg, r0, r1, tile);
                        let dyg = strided(&dyt[r0 * filters + gi * fg..], m, fg, filters);
                        gemm_serial(
                            1.0,
                            MatRef::row_major(tile, m, kg).t(),
                            dyg,
                            1.0,
                            strided_mut(&mut part[gi * fg..], kg, fg, filters),
                        )?;
                        if let Some(dxt) = dxt.as_deref_mut() {
                            let dtile = &mut dcols[..m * kg];
                            gemm_serial(
                                1.0,
                                dyg,
                                strided(&w[gi * fg..], kg, fg, filters).t(),
                                0.0,
                                MatMut::row_major(dtile, m, kg),
                            )?;
                            col2im_rows_add(dtile, g, gi * cg, cg, r0, r1, dxt);
                        }
                    }
                }
                Ok::<(), NnError>(())
            })?;
            Ok(part)
        })
        .collect::<Result<_, NnError>>()?;
    gw.par_chunks_mut(4096).enumerate().for_each(|(i, out)| {
        let (at, len) = (i * 4096, out.len());
        for p in &partials {
            for (o, v) in out.iter_mut().zip(&p[at..at + len]) {
                *o += v;
            }
        }
    });
    Ok(())
}

/// What an evaluation-mode convolution applies to each output row in the same pass:
/// `clamp(y + shift[f], low, high)` per filter `f`.
#[derive(Debug, Clone)]
struct Epilogue {
    shift: Vec<f32>,
    low: f32,
    high: f32,
}

impl Epilogue {
    /// Applies the epilogue to whole rows of `shift.len()` values.
    fn apply(&self, rows: &mut [f32]) {
        shift_clamp_rows(rows, &self.shift, self.low, self.high);
    }
}

/// `v = clamp(v + shift[j], low, high)` over rows of `shift.len()` values.
#[multiversion::multiversion(targets = "simd")]
fn shift_clamp_rows(rows: &mut [f32], shift: &[f32], low: f32, high: f32) {
    for row in rows.chunks_exact_mut(shift.len()) {
        for (v, s) in row.iter_mut().zip(shift) {
            *v = (*v + s).max(low).min(high);
        }
    }
}

fn strided(data: &[f32], rows: usize, cols: usize, row_stride: usize) -> MatRef<'_> {
    MatRef {
        data,
        rows,
        cols,
        row_stride,
        col_stride: 1,
    }
}

fn strided_mut(data: &mut [f32], rows: usize, cols: usize, row_stride: usize) -> MatMut<'_> {
    MatMut {
        data,
        rows,
        cols,
        row_stride,
        col_stride: 1,
    }
}

pub(super) fn not_contiguous(name: &str) -> NnError {
    NnError::Shape {
        what: format!("`{name}` is not a contiguous standard-layout array"),
        expected: vec![],
        got: vec![],
    }
}

pub(super) fn no_forward(name: &str) -> NnError {
    NnError::option(
        "backward",
        format!("layer `{name}`: backward needs a forward pass in training mode first"),
    )
}

/// Depthwise forward. Filter `o` reads input channel `o / m` (`m = filters / c`).
fn depthwise_forward(x: &[f32], w: &[f32], g: &Geometry, filters: usize, y: &mut [f32]) {
    let m = filters / g.c;
    let row_len = g.ow * filters;
    y.par_chunks_mut(row_len).enumerate().for_each(|(r, out)| {
        let (img, oy) = (r / g.oh, r % g.oh);
        let xi = &x[img * g.h * g.w * g.c..(img + 1) * g.h * g.w * g.c];
        out.fill(0.0);
        for ox in 0..g.ow {
            let acc = &mut out[ox * filters..(ox + 1) * filters];
            for ky in 0..g.kh {
                let Some(iy) = g.in_y(oy, ky) else { continue };
                for kx in 0..g.kw {
                    let Some(ix) = g.in_x(ox, kx) else { continue };
                    let px = &xi[(iy * g.w + ix) * g.c..(iy * g.w + ix + 1) * g.c];
                    let wt = &w[(ky * g.kw + kx) * filters..(ky * g.kw + kx + 1) * filters];
                    if m == 1 {
                        for ((a, xv), wv) in acc.iter_mut().zip(px).zip(wt) {
                            *a += xv * wv;
                        }
                    } else {
                        for (o, (a, wv)) in acc.iter_mut().zip(wt).enumerate() {
                            *a += px[o / m] * wv;
                        }
                    }
                }
            }
        }
    });
}

/// Depthwise weight gradient: per-image sums, added in image order.
fn depthwise_weight_grad(
    x: &[f32],
    dy: &[f32],
    n: usize,
    g: &Geometry,
    filters: usize,
    gw: &mut [f32],
) {
    let m = filters / g.c;
    let taps = g.kh * g.kw;
    let per_image: Vec<Vec<f32>> = (0..n)
        .into_par_iter()
        .map(|img| {
            let mut acc = vec![0.0f32; taps * filters];
            let xi = &x[img * g.h * g.w * g.c..(img + 1) * g.h * g.w * g.c];
            let di = &dy[img * g.oh * g.ow * filters..(img + 1) * g.oh * g.ow * filters];
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let d = &di[(oy * g.ow + ox) * filters..(oy * g.ow + ox + 1) * filters];
                    for ky in 0..g.kh {
                        let Some(iy) = g.in_y(oy, ky) else { continue };
                        for kx in 0..g.kw {
                            let Some(ix) = g.in_x(ox, kx) else { continue };
                            let px = &xi[(iy * g.w + ix) * g.c..(iy * g.w + ix + 1) * g.c];
                            let a = &mut acc
                                [(ky * g.kw + kx) * filters..(ky * g.kw + kx + 1) * filters];
                            if m == 1 {
                                for ((a, xv), dv) in a.iter_mut().zip(px).zip(d) {
                                    *a += xv * dv;
                                }
                            } else {
                                for (o, (a, dv)) in a.iter_mut().zip(d).enumerate() {
                                    *a += px[o / m] * dv;
                                }
                            }
                        }
                    }
                }
            }
            acc
        })
        .collect();
    for acc in per_image {
        for (g, a) in gw.iter_mut().zip(&acc) {
            *g += a;
        }
    }
}

/// Depthwise input gradient, parallel over images (overwrites `dx`).
fn depthwise_input_grad(
    dy: &[f32],
    w: &[f32],
    n: usize,
    g: &Geometry,
    filters: usize,
    dx: &mut [f32],
) {
    let m = filters / g.c;
    let per_image = g.h * g.w * g.c;
    debug_assert_eq!(dx.len(), n * per_image);
    dx.par_chunks_mut(per_image)
        .enumerate()
        .for_each(|(img, dxi)| {
            dxi.fill(0.0);
            let di = &dy[img * g.oh * g.ow * filters..(img + 1) * g.oh * g.ow * filters];
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let d = &di[(oy * g.ow + ox) * filters..(oy * g.ow + ox + 1) * filters];
                    for ky in 0..g.kh {
                        let Some(iy) = g.in_y(oy, ky) else { continue };
                        for kx in 0..g.kw {
                            let Some(ix) = g.in_x(ox, kx) else { continue };
                            let px = &mut dxi[(iy * g.w + ix) * g.c..(iy * g.w + ix + 1) * g.c];
                            let wt = &w[(ky * g.kw + kx) * filters..(ky * g.kw + kx + 1) * filters];
                            if m == 1 {
                                for ((a, wv), dv) in px.iter_mut().zip(wt).zip(d) {
                                    *a += wv * dv;
                                }
                            } else {
                                for (o, (wv, dv)) in wt.iter().zip(d).enumerate() {
                                    px[o / m] += wv * dv;
                                }
                            }
                        }
                    }
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{act, check_layer, randomize};
    use super::super::{BufferPool, Ctx, Layer};
    use super::*;
    use crate::nn::spec::Padding;

    fn spec(
        filters: usize,
        kernel: [usize; 2],
        stride: usize,
        padding: Padding,
        groups: usize,
        bias: bool,
    ) -> LayerSpec {
        LayerSpec::Conv2d {
            name: "c".into(),
            filters,
            kernel,
            stride: [stride, stride],
            padding,
            groups,
            bias,
        }
    }

    /// (input [n, h, w, c], spec, expected path)
    fn cases() -> Vec<([usize; 4], LayerSpec, ConvPath)> {
        vec![
            (
                [2, 5, 5, 3],
                spec(4, [3, 3], 1, Padding::Same, 1, false),
                ConvPath::Im2col,
            ),
            (
                [2, 7, 6, 4],
                spec(5, [3, 3], 2, Padding::Same, 1, true),
                ConvPath::Im2col,
            ),
            (
                [1, 7, 7, 2],
                spec(3, [3, 3], 2, Padding::Valid, 1, false),
                ConvPath::Im2col,
            ),
            (
                [2, 6, 5, 3],
                spec(4, [2, 3], 1, Padding::Same, 1, true),
                ConvPath::Im2col,
            ),
            (
                [2, 5, 5, 4],
                spec(6, [3, 3], 1, Padding::Same, 2, true),
                ConvPath::Im2col,
            ),
            (
                [2, 7, 7, 3],
                spec(3, [3, 3], 2, Padding::Same, 3, false),
                ConvPath::Depthwise,
            ),
            (
                [2, 5, 6, 3],
                spec(6, [3, 3], 1, Padding::Same, 3, true),
                ConvPath::Depthwise,
            ),
            (
                [3, 4, 4, 5],
                spec(7, [1, 1], 1, Padding::Same, 1, true),
                ConvPath::Pointwise,
            ),
            (
                [2, 5, 5, 3],
                spec(4, [1, 1], 2, Padding::Same, 1, false),
                ConvPath::Im2col,
            ),
            (
                [1, 6, 6, 2],
                spec(2, [5, 5], 1, Padding::Same, 1, false),
                ConvPath::Im2col,
            ),
            // Tiled: tiles cross image boundaries (289 pixels per image), several images
            // per task, the last task short.
            (
                [5, 17, 17, 2],
                spec(3, [3, 3], 1, Padding::Same, 1, true),
                ConvPath::Tiled,
            ),
            (
                [2, 33, 31, 4],
                spec(4, [3, 3], 2, Padding::Same, 2, false),
                ConvPath::Tiled,
            ),
        ]
    }

    #[test]
    fn gradients_match_finite_differences() {
        for (i, (shape, spec, path)) in cases().into_iter().enumerate() {
            let [n, h, w, c] = shape;
            let conv = Conv2d::new(&spec, [h, w, c]).unwrap();
            assert_eq!(conv.path(), path, "case {i}");
            let mut layer = Layer::Conv(conv);
            randomize(&mut layer, 10 + i as u64, 0.5);
            check_layer(
                &mut layer,
                act(n, h, w, c, 20 + i as u64),
                &format!("conv case {i} {spec:?}"),
            );
        }
    }

    /// A direct convolution written from the definition (TF SAME padding: the extra pixel at
    /// the end), independent of im2col and of the depthwise loops.
    #[allow(clippy::too_many_arguments)]
    fn naive(
        x: &Act,
        w: &[f32],
        b: Option<&[f32]>,
        kernel: [usize; 2],
        stride: usize,
        padding: Padding,
        groups: usize,
        filters: usize,
    ) -> Vec<f64> {
        let (oh, ph) = match padding {
            Padding::Same => {
                let o = x.h.div_ceil(stride);
                (o, ((o - 1) * stride + kernel[0]).saturating_sub(x.h) / 2)
            }
            Padding::Valid => ((x.h - kernel[0]) / stride + 1, 0),
        };
        let (ow, pw) = match padding {
            Padding::Same => {
                let o = x.w.div_ceil(stride);
                (o, ((o - 1) * stride + kernel[1]).saturating_sub(x.w) / 2)
            }
            Padding::Valid => ((x.w - kernel[1]) / stride + 1, 0),
        };
        let cg = x.c / groups;
        let fg = filters / groups;
        let mut y = vec![0.0f64; x.n * oh * ow * filters];
        for n in 0..x.n {
            for oy in 0..oh {
                for ox in 0..ow {
                    for f in 0..filters {
                        let g = f / fg;
                        let mut s = b.map_or(0.0, |b| b[f] as f64);
                        for ky in 0..kernel[0] {
                            for kx in 0..kernel[1] {
                                let iy = (oy * stride + ky) as isize - ph as isize;
                                let ix = (ox * stride + kx) as isize - pw as isize;
                                if iy < 0 || ix < 0 || iy >= x.h as isize || ix >= x.w as isize {
                                    continue;
                                }
                                for ci in 0..cg {
                                    let xv = x.data[((n * x.h + iy as usize) * x.w + ix as usize)
                                        * x.c
                                        + g * cg
                                        + ci];
                                    let wv = w[((ky * kernel[1] + kx) * cg + ci) * filters + f];
                                    s += xv as f64 * wv as f64;
                                }
                            }
                        }
                        y[((n * oh + oy) * ow + ox) * filters + f] = s;
                    }
                }
            }
        }
        y
    }

    /// Conv + BatchNorm + activation run fused in evaluation mode give what the three layers
    /// give one after the other, on every path, for each combination that fuses.
    #[test]
    fn fused_evaluation_matches_the_layers_one_by_one() {
        use super::super::activation::Activation;
        use super::super::testutil::randn;
        for (i, (shape, spec, _)) in cases().into_iter().enumerate() {
            let [n, h, w, c] = shape;
            let LayerSpec::Conv2d { filters, .. } = spec else {
                unreachable!()
            };
            let x = act(n, h, w, c, 70 + i as u64);
            for (v, (with_bn, cap)) in [
                (true, Some(f32::INFINITY)),
                (true, Some(0.5)),
                (true, None),
                (false, Some(f32::INFINITY)),
            ]
            .into_iter()
            .enumerate()
            {
                let mut conv = Layer::Conv(Conv2d::new(&spec, [h, w, c]).unwrap());
                randomize(&mut conv, 50 + i as u64, 1.0);
                let mut layers = vec![conv];
                if with_bn {
                    let mut bn = BatchNorm::new("bn", filters, 1e-3, 0.1);
                    let seed = 60 + i as u64;
                    for (k, p) in bn.params_mut().enumerate() {
                        for (d, r) in p.value.iter_mut().zip(randn(filters, seed + k as u64)) {
                            // gamma, beta, mean: any value; the variance must be positive.
                            *d = if k == 3 { 0.2 + r * r } else { r };
                        }
                    }
                    layers.push(Layer::BatchNorm(bn));
                }
                if let Some(cap) = cap {
                    let cap = (cap < f32::INFINITY).then_some(cap);
                    layers.push(Layer::Activation(Activation::new(cap)));
                }
                let mut pool = BufferPool::default();
                let mut ctx = Ctx {
                    train: false,
                    dropout_seed: 0,
                    pool: &mut pool,
                    profile: None,
                };
                let fused = super::super::forward_chain(&mut layers, x.clone(), &mut ctx).unwrap();
                let mut want = x.clone();
                for l in &mut layers {
                    want = l.forward(want, &mut ctx).unwrap();
                }
                assert_eq!(
                    (fused.n, fused.h, fused.w, fused.c),
                    (want.n, want.h, want.w, want.c)
                );
                let mut clamped = 0;
                for (j, (a, b)) in fused.data.iter().zip(&want.data).enumerate() {
                    assert!(
                        (a - b).abs() < 1e-4 * (1.0 + b.abs()),
                        "case {i} variant {v} value {j}: fused {a} vs {b}"
                    );
                    clamped += usize::from(*b == 0.0 || *b == 0.5);
                }
                // The activation really was applied (some values clamped), or there was none.
                assert_eq!(clamped > 0, cap.is_some(), "case {i} variant {v}");
            }
        }
    }

    #[test]
    fn forward_matches_a_direct_convolution() {
        for (i, (shape, spec, _)) in cases().into_iter().enumerate() {
            let [n, h, w, c] = shape;
            let LayerSpec::Conv2d {
                kernel,
                stride,
                padding,
                groups,
                filters,
                ..
            } = spec.clone()
            else {
                unreachable!()
            };
            let mut conv = Conv2d::new(&spec, [h, w, c]).unwrap();
            let mut layer = Layer::Conv(Conv2d::new(&spec, [h, w, c]).unwrap());
            randomize(&mut layer, 30 + i as u64, 1.0);
            if let Layer::Conv(l) = layer {
                conv = l;
            }
            let x = act(n, h, w, c, 40 + i as u64);
            let want = naive(
                &x,
                conv.weight.value.as_slice().unwrap(),
                conv.bias.as_ref().map(|b| b.value.as_slice().unwrap()),
                kernel,
                stride[0],
                padding,
                groups,
                filters,
            );
            let mut pool = BufferPool::default();
            for train in [false, true] {
                let mut ctx = Ctx {
                    train,
                    dropout_seed: 0,
                    pool: &mut pool,
                    profile: None,
                };
                let y = conv.forward(x.clone(), &mut ctx).unwrap();
                assert_eq!(y.data.len(), want.len(), "case {i}");
                for (j, (a, b)) in y.data.iter().zip(&want).enumerate() {
                    assert!(
                        (*a as f64 - b).abs() < 1e-4 * (1.0 + b.abs()),
                        "case {i} value {j}: {a} vs {b}"
                    );
                }
            }
        }
    }
}
