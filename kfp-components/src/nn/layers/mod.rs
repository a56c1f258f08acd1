//! The layers of the engine, each with a forward and a backward pass, NHWC, `f32`.
//!
//! A layer is built from its [`LayerSpec`] and the shape of its input; it owns its
//! [`Param`]s and whatever its backward pass needs from the last training forward pass
//! (im2col patches, normalised activations, max-pool indices, dropout masks). Activations
//! travel between layers as [`Act`]: a flat buffer plus `[n, h, w, c]` (a flat feature vector
//! is `h = w = 1`), handed over by value so elementwise layers work in place.
//!
//! Large buffers come from a [`BufferPool`] owned by the model and go back to it when a layer
//! is done with them, so a training step allocates nothing after the first one (a fresh
//! multi-megabyte `Vec` costs page faults and zeroing on every step).
//!
//! Parallel work is split over fixed chunks (images, rows) and every reduction adds partial
//! results in a fixed order, so results do not depend on thread scheduling.
use super::error::NnError;
use super::param::Param;
use super::spec::{LayerSpec, Shape};

pub mod activation;
pub mod batch_norm;
pub mod conv;
pub mod dense;
pub mod dropout;
pub mod im2col;
pub mod pool;

/// An activation tensor: `data` holds `n * h * w * c` values in NHWC order.
#[derive(Debug, Clone, PartialEq)]
pub struct Act {
    /// The values (its length is exactly `n * h * w * c`).
    pub data: Vec<f32>,
    /// Batch size.
    pub n: usize,
    /// Height (1 for flat features).
    pub h: usize,
    /// Width (1 for flat features).
    pub w: usize,
    /// Channels, or features.
    pub c: usize,
}

impl Act {
    /// Wraps `data` (whose length must be `n * h * w * c`).
    pub fn new(data: Vec<f32>, n: usize, h: usize, w: usize, c: usize) -> Result<Act, NnError> {
        if data.len() != n * h * w * c {
            return Err(NnError::Shape {
                what: "activation buffer".into(),
                expected: vec![n, h, w, c],
                got: vec![data.len()],
            });
        }
        Ok(Act { data, n, h, w, c })
    }

    /// An empty activation (no values), a placeholder while a buffer is moved.
    pub fn empty() -> Act {
        Act {
            data: Vec::new(),
            n: 0,
            h: 0,
            w: 0,
            c: 0,
        }
    }

    /// Values per example (`h * w * c`).
    pub fn per_example(&self) -> usize {
        self.h * self.w * self.c
    }

    /// The shape without the batch, as the spec describes it.
    pub fn shape(&self) -> Shape {
        if self.h == 1 && self.w == 1 {
            Shape::Flat(self.c)
        } else {
            Shape::Image {
                height: self.h,
                width: self.w,
                channels: self.c,
            }
        }
    }
}

/// Recycled `f32` buffers, so training steps do not allocate.
#[derive(Debug, Default)]
pub struct BufferPool {
    free: Vec<Vec<f32>>,
}

impl BufferPool {
    /// A buffer of exactly `len` values with unspecified (but initialised) content.
    pub fn take(&mut self, len: usize) -> Vec<f32> {
        // Best fit: the smallest free buffer whose capacity suffices.
        let mut best: Option<usize> = None;
        for (i, b) in self.free.iter().enumerate() {
            if b.capacity() >= len && best.is_none_or(|j| self.free[j].capacity() > b.capacity()) {
                best = Some(i);
            }
        }
        let mut v = match best {
            Some(i) => self.free.swap_remove(i),
            None => Vec::with_capacity(len),
        };
        if v.len() >= len {
            v.truncate(len);
        } else {
            v.resize(len, 0.0);
        }
        v
    }

    /// A buffer of `len` zeros.
    pub fn take_zeroed(&mut self, len: usize) -> Vec<f32> {
        let mut v = self.take(len);
        v.fill(0.0);
        v
    }

    /// Gives a buffer back for reuse.
    pub fn give(&mut self, v: Vec<f32>) {
        if v.capacity() > 0 {
            self.free.push(v);
        }
    }

    /// Drops every pooled buffer.
    pub fn clear(&mut self) {
        self.free.clear();
    }
}

/// What a forward pass needs besides its input.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// Training (keep what backward needs, batch statistics, dropout) or evaluation.
    pub train: bool,
    /// The model's dropout seed for this forward pass.
    pub dropout_seed: u64,
    /// Buffers to reuse.
    pub pool: &'a mut BufferPool,
    /// Wall-clock seconds per layer kind, when profiling.
    pub profile: Option<&'a mut Vec<(String, f64)>>,
}

/// One layer with its state.
#[derive(Debug)]
// Layers live in a Vec built once per model; boxing the large variants would only add an
// indirection.
#[allow(clippy::large_enum_variant)]
pub enum Layer {
    /// Convolution.
    Conv(conv::Conv2d),
    /// Batch normalisation.
    BatchNorm(batch_norm::BatchNorm),
    /// ReLU or ReLU6.
    Activation(activation::Activation),
    /// Max or average pooling.
    Pool(pool::Pool2d),
    /// Global average pooling.
    GlobalAvgPool(pool::GlobalAvgPool),
    /// Flatten (only the shape changes; NHWC order is kept).
    Flatten {
        /// The input shape, restored by backward.
        input: [usize; 3],
    },
    /// Dense.
    Dense(dense::Dense),
    /// Dropout.
    Dropout(dropout::Dropout),
    /// `body(x) + shortcut(x)`.
    Residual {
        /// The main branch.
        body: Vec<Layer>,
        /// The shortcut (empty: identity).
        shortcut: Vec<Layer>,
    },
}

/// Builds the layers of `specs` for an input of shape `input`; `index` numbers dropout layers
/// (each gets its own random stream). Returns the layers and the output shape.
pub fn build(
    specs: &[LayerSpec],
    mut input: Shape,
    index: &mut u64,
) -> Result<(Vec<Layer>, Shape), NnError> {
    let mut layers = Vec::with_capacity(specs.len());
    for spec in specs {
        let out = spec.output_shape(input)?;
        let (h, w, c) = match input {
            Shape::Image {
                height,
                width,
                channels,
            } => (height, width, channels),
            Shape::Flat(n) => (1, 1, n),
        };
        let layer = match spec {
            LayerSpec::Conv2d { .. } => Layer::Conv(conv::Conv2d::new(spec, [h, w, c])?),
            LayerSpec::BatchNorm {
                name,
                eps,
                momentum,
            } => Layer::BatchNorm(batch_norm::BatchNorm::new(name, c, *eps, *momentum)),
            LayerSpec::Relu => Layer::Activation(activation::Activation::new(None)),
            LayerSpec::Relu6 => Layer::Activation(activation::Activation::new(Some(6.0))),
            LayerSpec::MaxPool { size, stride } => {
                Layer::Pool(pool::Pool2d::new(true, *size, *stride))
            }
            LayerSpec::AvgPool { size, stride } => {
                Layer::Pool(pool::Pool2d::new(false, *size, *stride))
            }
            LayerSpec::GlobalAvgPool => Layer::GlobalAvgPool(pool::GlobalAvgPool::default()),
            LayerSpec::Flatten => Layer::Flatten { input: [h, w, c] },
            LayerSpec::Dense { name, units, bias } => {
                Layer::Dense(dense::Dense::new(name, h * w * c, *units, *bias))
            }
            LayerSpec::Dropout { rate } => {
                *index += 1;
                Layer::Dropout(dropout::Dropout::new(*rate, *index))
            }
            LayerSpec::Residual { body, shortcut } => {
                let (body, _) = build(body, input, index)?;
                let (shortcut, _) = build(shortcut, input, index)?;
                Layer::Residual { body, shortcut }
            }
        };
        layers.push(layer);
        input = out;
    }
    Ok((layers, input))
}

/// Runs `layers` forward in order. In evaluation mode a convolution followed by a BatchNorm
/// and/or a ReLU runs as one fused layer ([`conv::Conv2d::forward_fused`]).
pub fn forward_chain(layers: &mut [Layer], mut x: Act, ctx: &mut Ctx<'_>) -> Result<Act, NnError> {
    let mut i = 0;
    while i < layers.len() {
        if !ctx.train
            && let Some(used) = forward_fused(&mut layers[i..], &mut x, ctx)?
        {
            i += used;
            continue;
        }
        x = layers[i].forward(x, ctx)?;
        i += 1;
    }
    Ok(x)
}

/// When `layers` starts with a convolution followed by a BatchNorm and/or an activation, runs
/// them fused (evaluation mode) on `x` and returns how many layers that took.
fn forward_fused(
    layers: &mut [Layer],
    x: &mut Act,
    ctx: &mut Ctx<'_>,
) -> Result<Option<usize>, NnError> {
    let [Layer::Conv(conv), rest @ ..] = layers else {
        return Ok(None);
    };
    let batch_norm = match rest.first() {
        Some(Layer::BatchNorm(bn)) => Some(bn),
        _ => None,
    };
    let after_bn = usize::from(batch_norm.is_some());
    let activation = match rest.get(after_bn) {
        Some(Layer::Activation(a)) => Some((a.kind(), a.cap())),
        _ => None,
    };
    if batch_norm.is_none() && activation.is_none() {
        return Ok(None);
    }
    let used = 1 + after_bn + usize::from(activation.is_some());
    let start = ctx.profile.is_some().then(std::time::Instant::now);
    let input = std::mem::replace(x, Act::empty());
    *x = conv.forward_fused(input, batch_norm, activation.map(|a| a.1), ctx)?;
    if let (Some(start), Some(profile)) = (start, ctx.profile.as_deref_mut()) {
        let bn = if batch_norm.is_some() {
            "+batch_norm"
        } else {
            ""
        };
        let act = activation.map(|a| format!("+{}", a.0)).unwrap_or_default();
        profile.push((
            format!("{}{bn}{act} fwd", conv.kind()),
            start.elapsed().as_secs_f64(),
        ));
    }
    Ok(Some(used))
}

/// Runs `layers` backward in reverse order. With `need_dx == false` the first layer does not
/// compute its input gradient (the model's input needs none) and `None` is returned.
pub fn backward_chain(
    layers: &mut [Layer],
    mut dy: Act,
    need_dx: bool,
    ctx: &mut Ctx<'_>,
) -> Result<Option<Act>, NnError> {
    for (i, layer) in layers.iter_mut().enumerate().rev() {
        let need = need_dx || i > 0;
        match layer.backward(dy, need, ctx)? {
            Some(d) => dy = d,
            None => return Ok(None),
        }
    }
    Ok(Some(dy))
}

impl Layer {
    /// Forward pass.
    pub fn forward(&mut self, x: Act, ctx: &mut Ctx<'_>) -> Result<Act, NnError> {
        let start = ctx.profile.is_some().then(std::time::Instant::now);
        let out = match self {
            Layer::Conv(l) => l.forward(x, ctx),
            Layer::BatchNorm(l) => l.forward(x, ctx),
            Layer::Activation(l) => l.forward(x, ctx),
            Layer::Pool(l) => l.forward(x, ctx),
            Layer::GlobalAvgPool(l) => l.forward(x, ctx),
            Layer::Flatten { .. } => {
                let c = x.per_example();
                Act::new(x.data, x.n, 1, 1, c)
            }
            Layer::Dense(l) => l.forward(x, ctx),
            Layer::Dropout(l) => l.forward(x, ctx),
            Layer::Residual { body, shortcut } => {
                let mut side = ctx.pool.take(x.data.len());
                side.copy_from_slice(&x.data);
                let side = Act { data: side, ..x };
                let side = forward_chain(shortcut, side, ctx)?;
                let mut main = forward_chain(body, x, ctx)?;
                add_into(&mut main, &side)?;
                ctx.pool.give(side.data);
                Ok(main)
            }
        };
        if let (Some(start), Some(profile), false) = (
            start,
            ctx.profile.as_deref_mut(),
            matches!(self, Layer::Residual { .. }),
        ) {
            profile.push((
                format!("{} fwd", self.kind()),
                start.elapsed().as_secs_f64(),
            ));
        }
        out
    }

    /// Backward pass: adds the parameter gradients into their [`Param::grad`] and returns the
    /// input gradient (`None` when `need_dx` is false and the layer could skip it).
    pub fn backward(
        &mut self,
        dy: Act,
        need_dx: bool,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<Act>, NnError> {
        let start = ctx.profile.is_some().then(std::time::Instant::now);
        let pool = &mut *ctx.pool;
        let out = match self {
            Layer::Conv(l) => l.backward(dy, need_dx, pool),
            Layer::BatchNorm(l) => l.backward(dy, pool).map(Some),
            Layer::Activation(l) => l.backward(dy, pool).map(Some),
            Layer::Pool(l) => l.backward(dy, pool).map(Some),
            Layer::GlobalAvgPool(l) => l.backward(dy, pool).map(Some),
            Layer::Flatten { input } => {
                Act::new(dy.data, dy.n, input[0], input[1], input[2]).map(Some)
            }
            Layer::Dense(l) => l.backward(dy, need_dx, pool),
            Layer::Dropout(l) => l.backward(dy).map(Some),
            Layer::Residual { body, shortcut } => {
                let mut side = pool.take(dy.data.len());
                side.copy_from_slice(&dy.data);
                let side = Act { data: side, ..dy };
                let d_side = if shortcut.is_empty() {
                    Some(side)
                } else {
                    backward_chain(shortcut, side, need_dx, ctx)?
                };
                let d_main = backward_chain(body, dy, need_dx, ctx)?;
                let pool = &mut *ctx.pool;
                match (d_main, d_side) {
                    (Some(mut a), Some(b)) => {
                        add_into(&mut a, &b)?;
                        pool.give(b.data);
                        Ok(Some(a))
                    }
                    (a, b) => {
                        if let Some(a) = a {
                            pool.give(a.data);
                        }
                        if let Some(b) = b {
                            pool.give(b.data);
                        }
                        Ok(None)
                    }
                }
            }
        };
        if let (Some(start), Some(profile), false) = (
            start,
            ctx.profile.as_deref_mut(),
            matches!(self, Layer::Residual { .. }),
        ) {
            profile.push((
                format!("{} bwd", self.kind()),
                start.elapsed().as_secs_f64(),
            ));
        }
        out
    }

    /// The layer's tensors in the order of [`super::ModelSpec::param_shapes`].
    pub fn params<'a>(&'a self, out: &mut Vec<&'a Param>) {
        match self {
            Layer::Conv(l) => out.extend(l.params()),
            Layer::BatchNorm(l) => out.extend(l.params()),
            Layer::Dense(l) => out.extend(l.params()),
            Layer::Residual { body, shortcut } => {
                for l in body.iter().chain(shortcut.iter()) {
                    l.params(out);
                }
            }
            _ => {}
        }
    }

    /// Mutable access to the layer's tensors, same order as [`Layer::params`].
    pub fn params_mut<'a>(&'a mut self, out: &mut Vec<&'a mut Param>) {
        match self {
            Layer::Conv(l) => out.extend(l.params_mut()),
            Layer::BatchNorm(l) => out.extend(l.params_mut()),
            Layer::Dense(l) => out.extend(l.params_mut()),
            Layer::Residual { body, shortcut } => {
                for l in body.iter_mut().chain(shortcut.iter_mut()) {
                    l.params_mut(out);
                }
            }
            _ => {}
        }
    }

    /// Frees what the last training forward pass kept for backward.
    pub fn release(&mut self, pool: &mut BufferPool) {
        match self {
            Layer::Conv(l) => l.release(pool),
            Layer::BatchNorm(l) => l.release(pool),
            Layer::Activation(l) => l.release(pool),
            Layer::Pool(l) => l.release(),
            Layer::Dense(l) => l.release(pool),
            Layer::Dropout(l) => l.release(),
            Layer::Residual { body, shortcut } => {
                for l in body.iter_mut().chain(shortcut.iter_mut()) {
                    l.release(pool);
                }
            }
            Layer::GlobalAvgPool(_) | Layer::Flatten { .. } => {}
        }
    }

    /// A short name for profiles.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Conv(l) => l.kind(),
            Layer::BatchNorm(_) => "batch_norm",
            Layer::Activation(l) => l.kind(),
            Layer::Pool(l) => l.kind(),
            Layer::GlobalAvgPool(_) => "global_avg_pool",
            Layer::Flatten { .. } => "flatten",
            Layer::Dense(_) => "dense",
            Layer::Dropout(_) => "dropout",
            Layer::Residual { .. } => "residual",
        }
    }
}

/// `a += b` elementwise (same shapes).
pub fn add_into(a: &mut Act, b: &Act) -> Result<(), NnError> {
    if a.data.len() != b.data.len() {
        return Err(NnError::Shape {
            what: "residual add".into(),
            expected: vec![a.n, a.h, a.w, a.c],
            got: vec![b.n, b.h, b.w, b.c],
        });
    }
    use rayon::prelude::*;
    a.data
        .par_chunks_mut(CHUNK)
        .zip(b.data.par_chunks(CHUNK))
        .for_each(|(x, y)| {
            for (x, y) in x.iter_mut().zip(y) {
                *x += y;
            }
        });
    Ok(())
}

/// Elements per task in elementwise parallel loops.
pub const CHUNK: usize = 1 << 15;

/// About [`CHUNK`] elements, rounded to whole rows of `c` values (at least one row).
pub fn row_chunk(c: usize) -> usize {
    (CHUNK / c.max(1)).max(1) * c.max(1)
}

/// Rows per task in per-column reductions; fixed, so the summation order never depends on the
/// thread count.
const REDUCE_ROWS: usize = 256;

/// Per-column sums over `rows` rows of `cols` values: `f(rows_range, acc)` adds the rows of
/// `rows_range` into the `cols` accumulators `acc`. Blocks of 256 rows are summed
/// in parallel in `f32`, then the block sums are added in block order in `f64`.
pub fn column_reduce<F>(rows: usize, cols: usize, f: F) -> Vec<f64>
where
    F: Fn(std::ops::Range<usize>, &mut [f32]) + Sync + Send,
{
    use rayon::prelude::*;
    let blocks = rows.div_ceil(REDUCE_ROWS);
    let partial: Vec<Vec<f32>> = (0..blocks)
        .into_par_iter()
        .map(|b| {
            let mut acc = vec![0.0f32; cols];
            f(b * REDUCE_ROWS..((b + 1) * REDUCE_ROWS).min(rows), &mut acc);
            acc
        })
        .collect();
    let mut out = vec![0.0f64; cols];
    for p in partial {
        for (o, v) in out.iter_mut().zip(p) {
            *o += v as f64;
        }
    }
    out
}

/// Adds the column sums of the row-major `[rows, cols]` matrix `data` into `out`.
pub fn column_sums_into(data: &[f32], cols: usize, out: &mut [f32]) {
    let sums = column_reduce(data.len() / cols.max(1), cols, |range, acc| {
        for row in data[range.start * cols..range.end * cols].chunks_exact(cols) {
            for (a, v) in acc.iter_mut().zip(row) {
                *a += v;
            }
        }
    });
    for (o, s) in out.iter_mut().zip(sums) {
        *o += s as f32;
    }
}

#[cfg(test)]
pub(crate) mod testutil;
