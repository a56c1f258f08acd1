//! A small, exact CNN engine: layers with forward and backward passes in NHWC layout, models
//! described by a serialisable [`ModelSpec`], training, evaluation and export.
//!
//! The architecture of a model is plain data ([`spec::ModelSpec`]): every later step of the
//! flagship pipeline (pruning, int8 quantization, ONNX and TFLite export) reads the same
//! description and the same named weights, so nothing is hidden inside layer objects.
//!
//! Conventions shared by every module here:
//!
//! - Activations are `f32`, NHWC (`[batch, height, width, channels]`), TFLite's and the Edge
//!   TPU's layout. After [`spec::LayerSpec::Flatten`] or [`spec::LayerSpec::GlobalAvgPool`] a
//!   tensor is `[batch, features]`.
//! - Weights are named `<layer>.<role>` (see [`spec::ParamRole`]); their shapes are given by
//!   [`spec::ModelSpec::param_shapes`]. Convolution kernels are HWIO
//!   (`[kh, kw, in_channels / groups, filters]`), dense kernels `[in, out]`.
//!
//! # A tour
//!
//! Describe a network with the builder (or take a built-in from [`zoo`]), make it, run it,
//! and train it by hand; [`train::train`] does all of this (batches, augmentation, schedules,
//! checkpoints, early stopping) for a Dataset artifact, and [`onnx::export`] writes the result
//! for other runtimes.
//!
//! ```
//! use kfp_components::nn::builder::ModelBuilder;
//! use kfp_components::nn::loss::softmax_cross_entropy;
//! use kfp_components::nn::model::{Mode, Model};
//! use kfp_components::nn::optim::{Optimizer, OptimizerConfig};
//! use ndarray::Array4;
//!
//! let spec = ModelBuilder::new("tiny", [8, 8, 3])
//!     .conv_bn_relu(8, 3, 1)
//!     .max_pool(2)
//!     .residual(|b| b.conv_bn_relu(8, 3, 1))
//!     .global_avg_pool()
//!     .dense(2)
//!     .build()?;
//! let mut model = Model::new(spec, 0)?;
//! let mut optimizer = Optimizer::new(OptimizerConfig::default());
//! // Two images: all dark (class 0) and all bright (class 1).
//! let mut x = Array4::<f32>::zeros((2, 8, 8, 3));
//! x.index_axis_mut(ndarray::Axis(0), 1).fill(1.0);
//! let labels = [0, 1];
//! let mut losses = Vec::new();
//! for _ in 0..20 {
//!     model.zero_grad();
//!     let logits = model.forward(x.view(), Mode::Train)?;
//!     let (loss, grad) = softmax_cross_entropy(logits.view(), &labels, 0.0)?;
//!     model.backward(grad.view())?;
//!     optimizer.step(&mut model.params_mut(), 0.05)?;
//!     losses.push(loss);
//! }
//! assert!(losses[19] < losses[0]);
//! # Ok::<(), kfp_components::nn::NnError>(())
//! ```
//!
//! The modules, in the order data flows through them: [`data`] (a Dataset artifact as
//! index lists and pixels), [`augment`] (crops, flips, normalisation), [`spec`] and
//! [`builder`] (architectures), [`zoo`] (built-in architectures), [`layers`] and [`gemm`]
//! (forward and backward passes, the one matrix multiply), [`model`] (a spec made runnable),
//! [`loss`], [`optim`], [`schedule`], [`train`] (the loop), [`metrics`], [`plot`], [`io`]
//! (safetensors + `model.json`), [`onnx`] (export) and [`component`] (the pipeline steps
//! `train_cnn` and `evaluate`).
pub mod augment;
pub mod builder;
pub mod component;
pub mod data;
pub mod error;
pub mod gemm;
pub mod io;
pub mod layers;
pub mod loss;
pub mod metrics;
pub mod model;
pub mod onnx;
pub mod optim;
pub mod param;
pub mod plot;
pub mod schedule;
pub mod spec;
pub mod train;
pub mod zoo;

pub use error::NnError;
pub use param::Param;
pub use spec::{LayerSpec, ModelSpec, Padding, ParamRole, Shape};
