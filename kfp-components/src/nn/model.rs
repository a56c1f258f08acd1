//! A model: the layers of a [`ModelSpec`] with their weights, run forward and backward.
//!
//! ```
//! use kfp_components::nn::model::{Mode, Model};
//! use kfp_components::nn::loss::softmax_cross_entropy;
//! use kfp_components::nn::zoo;
//! use ndarray::Array4;
//!
//! let spec = zoo::caltech_s(16, 5);
//! let mut model = Model::new(spec, 0).unwrap();
//! let x = Array4::<f32>::ones((2, 16, 16, 3));
//! let logits = model.forward(x.view(), Mode::Train).unwrap();
//! assert_eq!(logits.dim(), (2, 5));
//! let (loss, grad) = softmax_cross_entropy(logits.view(), &[1, 3], 0.0).unwrap();
//! assert!(loss > 0.0);
//! model.zero_grad();
//! model.backward(grad.view()).unwrap();
//! assert!(model.params().iter().any(|p| p.grad.iter().any(|g| *g != 0.0)));
//! ```
//!
//! ## Initialisation
//!
//! [`Model::new`] draws every weight from one random stream seeded by `seed`, in the order of
//! [`ModelSpec::param_shapes`]: convolution kernels from He/Kaiming normal with the fan-out
//! (`std = sqrt(2 / (kh * kw * filters / groups))`, torchvision's choice for ResNet and
//! MobileNet), convolution biases 0, dense kernels and biases uniform in
//! `+-1 / sqrt(inputs)` (PyTorch's `nn.Linear` default), BatchNorm gamma 1, beta 0, running
//! mean 0, running variance 1.
//!
//! ## Randomness during training
//!
//! Dropout masks are drawn from the *dropout seed*: each [`Mode::Train`] forward pass uses the
//! current seed, then replaces it by a hash of itself. [`Model::dropout_seed`] reads the seed
//! the next training pass will use and [`Model::set_dropout_seed`] sets it, so saving it with
//! a checkpoint and restoring it on resume reproduces exactly the masks an uninterrupted run
//! would have drawn (nothing else in the model is random). A new model's dropout seed is
//! derived from `seed`.
//!
//! ## Threads and determinism
//!
//! The model runs on the rayon pool it is called from. Every parallel reduction sums fixed
//! blocks in a fixed order, so the same inputs give bit-identical outputs and gradients for a
//! given thread count (and in practice for any thread count, since no block boundary depends
//! on it).
use std::collections::BTreeMap;

use ndarray::{Array2, Array4, ArrayD, ArrayView2, ArrayView4};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, Normal};

use super::error::NnError;
use super::layers::{self, Act, BufferPool, Ctx, Layer, dropout::mix};
use super::param::Param;
use super::spec::ModelSpec;

/// Whether a forward pass trains or evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Batch statistics in BatchNorm (running statistics updated), dropout on, and everything
    /// backward needs is kept.
    Train,
    /// Running statistics, no dropout, nothing kept.
    Eval,
}

/// A model built from a [`ModelSpec`]: layers, weights and the buffers of the last training
/// pass.
#[derive(Debug)]
pub struct Model {
    spec: ModelSpec,
    layers: Vec<Layer>,
    pool: BufferPool,
    dropout_seed: u64,
    /// Batch size of the last training forward pass whose backward has not run yet.
    pending: Option<usize>,
    profile: Option<Vec<(String, f64)>>,
}

impl Model {
    /// A model with freshly initialised weights (see the module docs), reproducible from
    /// `seed`.
    pub fn new(spec: ModelSpec, seed: u64) -> Result<Model, NnError> {
        let mut model = Model::build(spec, mix(seed ^ 0xD50F))?;
        let mut rng = StdRng::seed_from_u64(seed);
        for layer in &mut model.layers {
            init_layer(layer, &mut rng)?;
        }
        Ok(model)
    }

    /// A model with the given weights: every tensor of [`ModelSpec::param_shapes`] must be
    /// present with exactly that shape, and no other tensor may be.
    pub fn from_weights(
        spec: ModelSpec,
        weights: &BTreeMap<String, ArrayD<f32>>,
    ) -> Result<Model, NnError> {
        let mut model = Model::build(spec, 0)?;
        let mut used = 0;
        for p in model.params_mut() {
            let Some(v) = weights.get(&p.name) else {
                return Err(NnError::option(
                    "weights",
                    format!(
                        "tensor `{}` is missing (shape {:?})",
                        p.name,
                        p.value.shape()
                    ),
                ));
            };
            if v.shape() != p.value.shape() {
                return Err(NnError::Shape {
                    what: format!("weights: tensor `{}`", p.name),
                    expected: p.value.shape().to_vec(),
                    got: v.shape().to_vec(),
                });
            }
            p.value.assign(v);
            used += 1;
        }
        if used != weights.len() {
            let known: std::collections::BTreeSet<String> =
                model.params().iter().map(|p| p.name.clone()).collect();
            let extra: Vec<&String> = weights.keys().filter(|k| !known.contains(*k)).collect();
            return Err(NnError::option(
                "weights",
                format!(
                    "tensors {extra:?} do not belong to model `{}`",
                    model.spec.name
                ),
            ));
        }
        Ok(model)
    }

    fn build(spec: ModelSpec, dropout_seed: u64) -> Result<Model, NnError> {
        spec.param_shapes()?;
        let mut index = 0;
        let (layers, _) = layers::build(&spec.layers, spec.input_shape(), &mut index)?;
        Ok(Model {
            spec,
            layers,
            pool: BufferPool::default(),
            dropout_seed,
            pending: None,
            profile: None,
        })
    }

    /// The architecture.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn input_act(&mut self, x: ArrayView4<'_, f32>) -> Result<Act, NnError> {
        let (n, h, w, c) = x.dim();
        if [h, w, c] != self.spec.input || n == 0 {
            return Err(NnError::Shape {
                what: format!("input of model `{}` (NHWC)", self.spec.name),
                expected: vec![
                    0,
                    self.spec.input[0],
                    self.spec.input[1],
                    self.spec.input[2],
                ],
                got: vec![n, h, w, c],
            });
        }
        let mut buf = self.pool.take(x.len());
        match x.as_slice() {
            Some(s) => buf.copy_from_slice(s),
            None => {
                for (d, v) in buf.iter_mut().zip(x.iter()) {
                    *d = *v;
                }
            }
        }
        Act::new(buf, n, h, w, c)
    }

    /// Runs the model on a batch `x` (NHWC, `[n, height, width, channels]` with the spec's
    /// input size) and returns the logits `[n, num_classes]`.
    ///
    /// [`Mode::Train`] uses batch statistics (and updates the running ones), applies dropout
    /// and keeps what [`Model::backward`] needs; [`Mode::Eval`] frees any such state.
    pub fn forward(&mut self, x: ArrayView4<'_, f32>, mode: Mode) -> Result<Array2<f32>, NnError> {
        let input = self.input_act(x)?;
        let train = mode == Mode::Train;
        self.pending = None;
        if !train {
            for l in &mut self.layers {
                l.release(&mut self.pool);
            }
        }
        let mut ctx = Ctx {
            train,
            dropout_seed: self.dropout_seed,
            pool: &mut self.pool,
            profile: self.profile.as_mut(),
        };
        let out = layers::forward_chain(&mut self.layers, input, &mut ctx)?;
        if train {
            self.dropout_seed = mix(self.dropout_seed);
            self.pending = Some(out.n);
        }
        let (n, k) = (out.n, out.per_example());
        Array2::from_shape_vec((n, k), out.data).map_err(|e| NnError::Shape {
            what: format!("logits of model `{}`: {e}", self.spec.name),
            expected: vec![n, k],
            got: vec![],
        })
    }

    fn grad_act(&mut self, grad: ArrayView2<'_, f32>) -> Result<Act, NnError> {
        let (n, k) = grad.dim();
        let Some(batch) = self.pending.take() else {
            return Err(NnError::option(
                "backward",
                format!(
                    "model `{}`: backward needs a forward pass in Mode::Train first",
                    self.spec.name
                ),
            ));
        };
        if n != batch || k != self.spec.num_classes {
            return Err(NnError::Shape {
                what: format!("gradient of the logits of model `{}`", self.spec.name),
                expected: vec![batch, self.spec.num_classes],
                got: vec![n, k],
            });
        }
        let mut buf = self.pool.take(n * k);
        for (d, v) in buf.iter_mut().zip(grad.iter()) {
            *d = *v;
        }
        Act::new(buf, n, 1, 1, k)
    }

    fn run_backward(
        &mut self,
        grad: ArrayView2<'_, f32>,
        need_dx: bool,
    ) -> Result<Option<Act>, NnError> {
        let dy = self.grad_act(grad)?;
        let mut ctx = Ctx {
            train: true,
            dropout_seed: self.dropout_seed,
            pool: &mut self.pool,
            profile: self.profile.as_mut(),
        };
        layers::backward_chain(&mut self.layers, dy, need_dx, &mut ctx)
    }

    /// Backpropagates `grad_logits` (d loss / d logits of the last [`Mode::Train`] forward
    /// pass) and ADDS the gradients into every trainable [`Param::grad`] (call
    /// [`Model::zero_grad`] between steps). Errors without a preceding training forward pass.
    pub fn backward(&mut self, grad_logits: ArrayView2<'_, f32>) -> Result<(), NnError> {
        if let Some(dx) = self.run_backward(grad_logits, false)? {
            self.pool.give(dx.data);
        }
        Ok(())
    }

    /// Like [`Model::backward`], and also returns the gradient with respect to the input
    /// (NHWC), e.g. for saliency maps or gradient checks.
    pub fn backward_with_input_grad(
        &mut self,
        grad_logits: ArrayView2<'_, f32>,
    ) -> Result<Array4<f32>, NnError> {
        let dx = self
            .run_backward(grad_logits, true)?
            .ok_or_else(|| NnError::option("backward", "no input gradient"))?;
        let shape = (dx.n, dx.h, dx.w, dx.c);
        Array4::from_shape_vec(shape, dx.data).map_err(|e| NnError::Shape {
            what: format!("input gradient: {e}"),
            expected: vec![],
            got: vec![],
        })
    }

    /// Logits for `x` in [`Mode::Eval`], `batch_size` examples at a time.
    pub fn predict(
        &mut self,
        x: ArrayView4<'_, f32>,
        batch_size: usize,
    ) -> Result<Array2<f32>, NnError> {
        if batch_size == 0 {
            return Err(NnError::option("batch_size", "must be at least 1"));
        }
        let n = x.dim().0;
        let mut out = Array2::zeros((n, self.spec.num_classes));
        let mut start = 0;
        while start < n {
            let end = (start + batch_size).min(n);
            let logits = self.forward(x.slice(ndarray::s![start..end, .., .., ..]), Mode::Eval)?;
            out.slice_mut(ndarray::s![start..end, ..]).assign(&logits);
            start = end;
        }
        Ok(out)
    }

    /// Sets every gradient to zero.
    pub fn zero_grad(&mut self) {
        for p in self.params_mut() {
            p.grad.fill(0.0);
        }
    }

    /// Every tensor (trainable or not), in the order of [`ModelSpec::param_shapes`].
    pub fn params(&self) -> Vec<&Param> {
        let mut out = Vec::new();
        for l in &self.layers {
            l.params(&mut out);
        }
        out
    }

    /// Mutable access to every tensor, same order as [`Model::params`].
    pub fn params_mut(&mut self) -> Vec<&mut Param> {
        let mut out = Vec::new();
        for l in &mut self.layers {
            l.params_mut(&mut out);
        }
        out
    }

    /// A copy of every tensor by name, running statistics included.
    pub fn weights(&self) -> BTreeMap<String, ArrayD<f32>> {
        self.params()
            .into_iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect()
    }

    /// The seed the next [`Mode::Train`] forward pass draws its dropout masks from (see the
    /// module docs).
    pub fn dropout_seed(&self) -> u64 {
        self.dropout_seed
    }

    /// Sets the seed of the next training pass's dropout masks (restore it on resume).
    pub fn set_dropout_seed(&mut self, seed: u64) {
        self.dropout_seed = seed;
    }

    /// The number of trainable values (BatchNorm running statistics are not counted, as in
    /// PyTorch's `parameters()`).
    pub fn num_parameters(&self) -> usize {
        self.params()
            .iter()
            .filter(|p| p.trainable())
            .map(|p| p.value.len())
            .sum()
    }

    /// Frees the buffers kept for backward and the recycled buffer pool (memory returns to
    /// the allocator).
    pub fn release_buffers(&mut self) {
        for l in &mut self.layers {
            l.release(&mut self.pool);
        }
        self.pending = None;
        self.pool.clear();
    }

    /// Turns per-layer timing on or off (on: every forward and backward pass appends
    /// `("<layer kind> fwd|bwd", seconds)` entries; read them with [`Model::take_profile`]).
    pub fn set_profiling(&mut self, on: bool) {
        self.profile = on.then(Vec::new);
    }

    /// The timings collected since the last call (see [`Model::set_profiling`]).
    pub fn take_profile(&mut self) -> Vec<(String, f64)> {
        match &mut self.profile {
            Some(p) => std::mem::take(p),
            None => Vec::new(),
        }
    }
}

fn init_layer(layer: &mut Layer, rng: &mut StdRng) -> Result<(), NnError> {
    match layer {
        Layer::Conv(conv) => {
            let g = conv.geometry();
            let filters = conv.weight.value.shape()[3];
            let fan_out = (g.kh * g.kw * filters / conv.groups().max(1)).max(1);
            let normal = Normal::new(0.0f32, (2.0 / fan_out as f32).sqrt())
                .map_err(|e| NnError::option("init", format!("{}: {e}", conv.weight.name)))?;
            for v in conv.weight.value.iter_mut() {
                *v = normal.sample(rng);
            }
        }
        Layer::Dense(dense) => {
            let bound = 1.0 / (dense.weight.value.shape()[0].max(1) as f32).sqrt();
            for v in dense.weight.value.iter_mut() {
                *v = rng.random_range(-bound..=bound);
            }
            if let Some(b) = &mut dense.bias {
                for v in b.value.iter_mut() {
                    *v = rng.random_range(-bound..=bound);
                }
            }
        }
        Layer::Residual { body, shortcut } => {
            for l in body.iter_mut().chain(shortcut.iter_mut()) {
                init_layer(l, rng)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::builder::ModelBuilder;
    use crate::nn::loss::softmax_cross_entropy;
    use crate::nn::spec::Padding;
    use ndarray::Array4;

    fn small_residual_net() -> ModelSpec {
        ModelBuilder::new("tiny-res", [6, 5, 3])
            .conv_bn_relu(4, 3, 1)
            .residual(|b| b.conv_bn_relu(4, 3, 1).conv(4, 3, 1).batch_norm())
            .relu()
            .residual_with(
                |b| b.conv(6, 3, 2).batch_norm(),
                |b| b.conv_padded(6, 1, 2, Padding::Same),
            )
            .depthwise(3, 1)
            .batch_norm()
            .relu6()
            .avg_pool(2)
            .flatten()
            .dense(3)
            .build()
            .unwrap()
    }

    fn input(n: usize, spec: &ModelSpec, seed: u64) -> Array4<f32> {
        let v = crate::nn::layers::testutil::randn(n * spec.input.iter().product::<usize>(), seed);
        Array4::from_shape_vec((n, spec.input[0], spec.input[1], spec.input[2]), v).unwrap()
    }

    #[test]
    fn input_gradient_of_a_residual_model_matches_finite_differences() {
        let spec = small_residual_net();
        let mut model = Model::new(spec.clone(), 3).unwrap();
        let x = input(3, &spec, 4);
        let labels = [0, 2, 1];
        let logits = model.forward(x.view(), Mode::Train).unwrap();
        let (_, g) = softmax_cross_entropy(logits.view(), &labels, 0.1).unwrap();
        let dx = model.backward_with_input_grad(g.view()).unwrap();
        let h = 1e-2f32;
        let mut loss_at = |x: &Array4<f32>| {
            let logits = model.forward(x.view(), Mode::Train).unwrap();
            // Recompute the loss in f64 from the f32 logits.
            let mut total = 0.0f64;
            for (row, &y) in logits.outer_iter().zip(&labels) {
                let m = row.iter().fold(f32::MIN, |a, &b| a.max(b)) as f64;
                let lse = m + row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
                let k = row.len() as f64;
                total += row
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| -(0.1 / k + if j == y { 0.9 } else { 0.0 }) * (v as f64 - lse))
                    .sum::<f64>();
            }
            total / labels.len() as f64
        };
        let flat = x.as_slice().unwrap().len();
        let mut checked = 0;
        for i in (0..flat).step_by(7) {
            let mut xp = x.clone();
            xp.as_slice_mut().unwrap()[i] += h;
            let lp = loss_at(&xp);
            xp.as_slice_mut().unwrap()[i] -= 2.0 * h;
            let lm = loss_at(&xp);
            let fd = (lp - lm) / (2.0 * h as f64);
            let an = dx.as_slice().unwrap()[i] as f64;
            assert!(
                (fd - an).abs() <= 2e-4 + 2e-2 * fd.abs().max(an.abs()),
                "dx[{i}]: fd {fd} analytic {an}"
            );
            checked += 1;
        }
        assert!(checked > 10);
        assert!(
            dx.iter().any(|v| v.abs() > 1e-3),
            "gradient is not trivially zero"
        );
    }

    fn train_steps(threads: usize, seed: u64) -> BTreeMap<String, ArrayD<f32>> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let spec = crate::nn::zoo::caltech_s(16, 5);
            let mut model = Model::new(spec.clone(), seed).unwrap();
            for step in 0..3 {
                let x = input(4, &spec, 100 + step);
                let logits = model.forward(x.view(), Mode::Train).unwrap();
                let (_, g) = softmax_cross_entropy(logits.view(), &[0, 1, 2, 3], 0.0).unwrap();
                model.zero_grad();
                model.backward(g.view()).unwrap();
                for p in model.params_mut() {
                    if p.trainable() {
                        let grad = p.grad.clone();
                        p.value.scaled_add(-0.1, &grad);
                    }
                }
            }
            model.weights()
        })
    }

    #[test]
    fn same_seed_and_threads_give_bit_identical_weights() {
        let a = train_steps(2, 7);
        assert_eq!(a, train_steps(2, 7));
        assert_ne!(a, train_steps(2, 8));
        assert_eq!(a, train_steps(1, 7), "also identical across thread counts");
    }

    #[test]
    fn weights_are_checked_and_parameters_counted() {
        let spec = crate::nn::zoo::caltech_s(16, 5);
        let model = Model::new(spec.clone(), 1).unwrap();
        // 3*3*(3*32 + 32*64 + 64*128 + 128*256) conv + 2*(32+64+128+256) BN + 256*5+5 dense.
        assert_eq!(
            model.num_parameters(),
            9 * (96 + 2048 + 8192 + 32768) + 2 * 480 + 256 * 5 + 5
        );
        let names: Vec<String> = model.params().iter().map(|p| p.name.clone()).collect();
        let want: Vec<String> = spec
            .param_shapes()
            .unwrap()
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(names, want);
        let mut w = model.weights();
        let back = Model::from_weights(spec.clone(), &w).unwrap();
        assert_eq!(back.weights(), w);
        w.insert("conv2.weight".into(), ArrayD::zeros(vec![3, 3, 32, 65]));
        let e = Model::from_weights(spec.clone(), &w)
            .unwrap_err()
            .to_string();
        assert!(e.contains("conv2.weight") && e.contains("65"), "{e}");
        w.remove("conv2.weight");
        let e = Model::from_weights(spec.clone(), &w)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`conv2.weight` is missing"), "{e}");
        let mut w = model.weights();
        w.insert("extra".into(), ArrayD::zeros(vec![1]));
        assert!(
            Model::from_weights(spec, &w)
                .unwrap_err()
                .to_string()
                .contains("extra")
        );
    }

    #[test]
    fn misuse_is_an_error() {
        let spec = crate::nn::zoo::caltech_s(16, 5);
        let mut model = Model::new(spec.clone(), 1).unwrap();
        let g = Array2::<f32>::zeros((2, 5));
        assert!(
            model
                .backward(g.view())
                .unwrap_err()
                .to_string()
                .contains("Mode::Train")
        );
        let bad = Array4::<f32>::zeros((2, 15, 16, 3));
        assert!(
            model
                .forward(bad.view(), Mode::Eval)
                .unwrap_err()
                .to_string()
                .contains("15")
        );
        model
            .forward(input(2, &spec, 1).view(), Mode::Train)
            .unwrap();
        let g3 = Array2::<f32>::zeros((3, 5));
        assert!(model.backward(g3.view()).is_err());
        assert!(model.predict(input(2, &spec, 1).view(), 0).is_err());
    }

    #[test]
    fn predict_in_batches_equals_one_eval_pass_and_dropout_seed_advances() {
        let spec = crate::nn::zoo::caltech_s(16, 5);
        let mut model = Model::new(spec.clone(), 1).unwrap();
        let x = input(5, &spec, 2);
        let one = model.forward(x.view(), Mode::Eval).unwrap();
        let batched = model.predict(x.view(), 2).unwrap();
        for (a, b) in one.iter().zip(batched.iter()) {
            assert!((a - b).abs() < 1e-5);
        }
        let s0 = model.dropout_seed();
        let a = model.forward(x.view(), Mode::Train).unwrap();
        assert_ne!(model.dropout_seed(), s0);
        model.set_dropout_seed(s0);
        // Same seed, same masks; the BN running stats changed but train mode ignores them.
        let b = model.forward(x.view(), Mode::Train).unwrap();
        assert_eq!(a, b);
    }
}
