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
pub mod error;
pub mod param;
pub mod spec;

pub use error::NnError;
pub use param::Param;
pub use spec::{LayerSpec, ModelSpec, Padding, ParamRole, Shape};
