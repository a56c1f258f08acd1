//! The architecture of a model as plain, serialisable data.
//!
//! A [`ModelSpec`] is what `model.json` holds beside the safetensors weights, and what the
//! engine, the pruner, the quantizer and the exporters all read. [`ModelSpec::infer_shapes`]
//! checks it and gives the shape after every layer; [`ModelSpec::param_shapes`] lists every
//! named tensor the weights file must hold, in the fixed order the optimizer uses.
//!
//! ```
//! use kfp_components::nn::{LayerSpec, ModelSpec, Padding, Shape};
//!
//! let spec = ModelSpec {
//!     name: "tiny".into(),
//!     input: [8, 8, 3],
//!     num_classes: 4,
//!     layers: vec![
//!         LayerSpec::conv("conv1", 16, 3, 1, Padding::Same),
//!         LayerSpec::batch_norm("bn1"),
//!         LayerSpec::Relu,
//!         LayerSpec::MaxPool { size: 2, stride: 2 },
//!         LayerSpec::GlobalAvgPool,
//!         LayerSpec::dense("fc", 4),
//!     ],
//! };
//! let shapes = spec.infer_shapes().unwrap();
//! assert_eq!(shapes[3], Shape::Image { height: 4, width: 4, channels: 16 });
//! assert_eq!(*shapes.last().unwrap(), Shape::Flat(4));
//! assert_eq!(spec.param_shapes().unwrap()[0], ("conv1.weight".to_string(), vec![3, 3, 3, 16]));
//! ```
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::error::NnError;

/// A whole model: its input, its layers in order, and the number of classes it predicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// The architecture's name (e.g. `caltech-s`).
    pub name: String,
    /// Input `[height, width, channels]` (NHWC without the batch).
    pub input: [usize; 3],
    /// The number of classes; the last layer must output this many logits.
    pub num_classes: usize,
    /// The layers, applied in order.
    pub layers: Vec<LayerSpec>,
}

/// How a convolution or pool pads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// TensorFlow's `SAME`: output size `ceil(input / stride)`; the total padding
    /// `max((out - 1) * stride + kernel - input, 0)` is split with the extra pixel at the end
    /// (bottom/right), as TFLite does.
    Same,
    /// No padding: output size `(input - kernel) / stride + 1`.
    Valid,
}

impl Padding {
    /// The output size and the padding before/after along one axis.
    pub fn resolve(
        self,
        input: usize,
        kernel: usize,
        stride: usize,
    ) -> Option<(usize, usize, usize)> {
        if stride == 0 || kernel == 0 || input == 0 {
            return None;
        }
        match self {
            Padding::Same => {
                let out = input.div_ceil(stride);
                let total = ((out - 1) * stride + kernel).saturating_sub(input);
                Some((out, total / 2, total - total / 2))
            }
            Padding::Valid => {
                if kernel > input {
                    return None;
                }
                Some(((input - kernel) / stride + 1, 0, 0))
            }
        }
    }
}

/// One layer. Layers with weights carry a `name`, unique in the model, that prefixes their
/// tensors' names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerSpec {
    /// 2-D convolution. Kernel HWIO `[kernel[0], kernel[1], in / groups, filters]`.
    /// `groups == in == filters / k` is a depthwise convolution with multiplier `k`.
    Conv2d {
        /// Prefix of the layer's tensors.
        name: String,
        /// Output channels.
        filters: usize,
        /// `[height, width]` of the kernel.
        kernel: [usize; 2],
        /// `[height, width]` stride.
        stride: [usize; 2],
        /// Padding mode.
        padding: Padding,
        /// Channel groups (1: ordinary convolution).
        #[serde(default = "one")]
        groups: usize,
        /// Whether the layer adds a bias per filter.
        #[serde(default)]
        bias: bool,
    },
    /// Batch normalisation over the channels (the last axis). Training uses the batch's
    /// statistics and updates the running ones (`running = (1 - momentum) * running +
    /// momentum * batch`, unbiased variance, as PyTorch); evaluation uses the running ones.
    BatchNorm {
        /// Prefix of the layer's tensors.
        name: String,
        /// Added to the variance.
        #[serde(default = "default_eps")]
        eps: f32,
        /// Weight of the batch in the running statistics.
        #[serde(default = "default_momentum")]
        momentum: f32,
    },
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// Max pooling, `size x size` windows, VALID padding.
    MaxPool {
        /// Window side.
        size: usize,
        /// Step between windows.
        stride: usize,
    },
    /// Average pooling, `size x size` windows, VALID padding.
    AvgPool {
        /// Window side.
        size: usize,
        /// Step between windows.
        stride: usize,
    },
    /// Mean over height and width: `[n, h, w, c]` to `[n, c]`.
    GlobalAvgPool,
    /// `[n, h, w, c]` to `[n, h * w * c]` in NHWC order (TFLite's `RESHAPE`).
    Flatten,
    /// Fully connected: `[n, in]` to `[n, units]`, kernel `[in, units]`.
    Dense {
        /// Prefix of the layer's tensors.
        name: String,
        /// Output features.
        units: usize,
        /// Whether the layer adds a bias.
        #[serde(default = "yes")]
        bias: bool,
    },
    /// Zeroes each value with probability `rate` in training and scales the rest by
    /// `1 / (1 - rate)`; the identity in evaluation.
    Dropout {
        /// Drop probability in `[0, 1)`.
        rate: f32,
    },
    /// `body(x) + shortcut(x)`; an empty shortcut is the identity. Both branches must give
    /// the same shape.
    Residual {
        /// The main branch.
        body: Vec<LayerSpec>,
        /// The shortcut branch (empty: identity).
        #[serde(default)]
        shortcut: Vec<LayerSpec>,
    },
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn default_eps() -> f32 {
    1e-5
}
fn default_momentum() -> f32 {
    0.1
}

/// The shape of one example's activation (the batch axis left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shape {
    /// An image-like `[height, width, channels]` tensor.
    Image {
        /// Rows.
        height: usize,
        /// Columns.
        width: usize,
        /// Channels.
        channels: usize,
    },
    /// A vector of features.
    Flat(usize),
}

impl Shape {
    /// The number of values in one example.
    pub fn len(&self) -> usize {
        match *self {
            Shape::Image {
                height,
                width,
                channels,
            } => height * width * channels,
            Shape::Flat(n) => n,
        }
    }

    /// Whether the shape holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dimensions without the batch axis.
    pub fn dims(&self) -> Vec<usize> {
        match *self {
            Shape::Image {
                height,
                width,
                channels,
            } => vec![height, width, channels],
            Shape::Flat(n) => vec![n],
        }
    }
}

/// What a named tensor of a layer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamRole {
    /// A convolution or dense kernel (`<layer>.weight`).
    Weight,
    /// A convolution or dense bias (`<layer>.bias`).
    Bias,
    /// BatchNorm scale, gamma (`<layer>.gamma`).
    Gamma,
    /// BatchNorm shift, beta (`<layer>.beta`).
    Beta,
    /// BatchNorm running mean (`<layer>.running_mean`), not trained.
    RunningMean,
    /// BatchNorm running variance (`<layer>.running_var`), not trained.
    RunningVar,
}

impl ParamRole {
    /// The suffix of the tensor's name.
    pub fn suffix(self) -> &'static str {
        match self {
            ParamRole::Weight => "weight",
            ParamRole::Bias => "bias",
            ParamRole::Gamma => "gamma",
            ParamRole::Beta => "beta",
            ParamRole::RunningMean => "running_mean",
            ParamRole::RunningVar => "running_var",
        }
    }

    /// Whether the optimizer updates tensors of this role.
    pub fn trainable(self) -> bool {
        !matches!(self, ParamRole::RunningMean | ParamRole::RunningVar)
    }
}

impl LayerSpec {
    /// A square convolution without bias, one group.
    pub fn conv(
        name: &str,
        filters: usize,
        kernel: usize,
        stride: usize,
        padding: Padding,
    ) -> Self {
        LayerSpec::Conv2d {
            name: name.to_string(),
            filters,
            kernel: [kernel, kernel],
            stride: [stride, stride],
            padding,
            groups: 1,
            bias: false,
        }
    }

    /// A square depthwise convolution (multiplier 1, no bias) over `channels` channels.
    pub fn depthwise(
        name: &str,
        channels: usize,
        kernel: usize,
        stride: usize,
        padding: Padding,
    ) -> Self {
        LayerSpec::Conv2d {
            name: name.to_string(),
            filters: channels,
            kernel: [kernel, kernel],
            stride: [stride, stride],
            padding,
            groups: channels,
            bias: false,
        }
    }

    /// BatchNorm with PyTorch's defaults (eps 1e-5, momentum 0.1).
    pub fn batch_norm(name: &str) -> Self {
        LayerSpec::BatchNorm {
            name: name.to_string(),
            eps: default_eps(),
            momentum: default_momentum(),
        }
    }

    /// A dense layer with bias.
    pub fn dense(name: &str, units: usize) -> Self {
        LayerSpec::Dense {
            name: name.to_string(),
            units,
            bias: true,
        }
    }

    /// The layer's name, for layers with weights.
    pub fn name(&self) -> Option<&str> {
        match self {
            LayerSpec::Conv2d { name, .. }
            | LayerSpec::BatchNorm { name, .. }
            | LayerSpec::Dense { name, .. } => Some(name),
            _ => None,
        }
    }

    /// A short label for messages: the name, else the kind.
    pub fn label(&self) -> String {
        match self.name() {
            Some(name) => name.to_string(),
            None => self.kind().to_string(),
        }
    }

    /// The kind, as written in JSON (`conv2d`, `relu`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            LayerSpec::Conv2d { .. } => "conv2d",
            LayerSpec::BatchNorm { .. } => "batch_norm",
            LayerSpec::Relu => "relu",
            LayerSpec::Relu6 => "relu6",
            LayerSpec::MaxPool { .. } => "max_pool",
            LayerSpec::AvgPool { .. } => "avg_pool",
            LayerSpec::GlobalAvgPool => "global_avg_pool",
            LayerSpec::Flatten => "flatten",
            LayerSpec::Dense { .. } => "dense",
            LayerSpec::Dropout { .. } => "dropout",
            LayerSpec::Residual { .. } => "residual",
        }
    }

    /// The output shape for `input`, or why the layer cannot take it.
    pub fn output_shape(&self, input: Shape) -> Result<Shape, NnError> {
        let err = |message: String| NnError::Spec {
            layer: self.label(),
            message,
        };
        let image = |what: &str| match input {
            Shape::Image {
                height,
                width,
                channels,
            } => Ok((height, width, channels)),
            Shape::Flat(n) => Err(err(format!(
                "{what} needs an image-shaped input, got {n} flat features"
            ))),
        };
        match self {
            LayerSpec::Conv2d {
                filters,
                kernel,
                stride,
                padding,
                groups,
                ..
            } => {
                let (h, w, c) = image("a convolution")?;
                if *filters == 0 || *groups == 0 {
                    return Err(err("filters and groups must be at least 1".into()));
                }
                if c % groups != 0 || filters % groups != 0 {
                    return Err(err(format!(
                        "groups ({groups}) must divide the input channels ({c}) and the filters ({filters})"
                    )));
                }
                let (oh, _, _) = padding.resolve(h, kernel[0], stride[0]).ok_or_else(|| {
                    err(format!(
                        "kernel {kernel:?} / stride {stride:?} do not fit a {h}x{w} input"
                    ))
                })?;
                let (ow, _, _) = padding.resolve(w, kernel[1], stride[1]).ok_or_else(|| {
                    err(format!(
                        "kernel {kernel:?} / stride {stride:?} do not fit a {h}x{w} input"
                    ))
                })?;
                Ok(Shape::Image {
                    height: oh,
                    width: ow,
                    channels: *filters,
                })
            }
            LayerSpec::BatchNorm { eps, momentum, .. } => {
                if !eps.is_finite() || *eps <= 0.0 || !(0.0..=1.0).contains(momentum) {
                    return Err(err(format!(
                        "eps must be > 0 and momentum in [0, 1] (got {eps}, {momentum})"
                    )));
                }
                Ok(input)
            }
            LayerSpec::Relu | LayerSpec::Relu6 => Ok(input),
            LayerSpec::Dropout { rate } => {
                if !(0.0..1.0).contains(rate) {
                    return Err(err(format!("rate must be in [0, 1), got {rate}")));
                }
                Ok(input)
            }
            LayerSpec::MaxPool { size, stride } | LayerSpec::AvgPool { size, stride } => {
                let (h, w, c) = image("a pool")?;
                let fit = |n| Padding::Valid.resolve(n, *size, *stride).map(|r| r.0);
                match (fit(h), fit(w)) {
                    (Some(height), Some(width)) => Ok(Shape::Image {
                        height,
                        width,
                        channels: c,
                    }),
                    _ => Err(err(format!(
                        "a {size}x{size} window with stride {stride} does not fit a {h}x{w} input"
                    ))),
                }
            }
            LayerSpec::GlobalAvgPool => Ok(Shape::Flat(image("global average pooling")?.2)),
            LayerSpec::Flatten => Ok(Shape::Flat(input.len())),
            LayerSpec::Dense { units, .. } => match input {
                Shape::Flat(_) if *units > 0 => Ok(Shape::Flat(*units)),
                Shape::Flat(_) => Err(err("units must be at least 1".into())),
                Shape::Image { .. } => Err(err(
                    "a dense layer needs flat input: add flatten or global_avg_pool first".into(),
                )),
            },
            LayerSpec::Residual { body, shortcut } => {
                let main = chain_shape(body, input)?;
                let side = chain_shape(shortcut, input)?;
                if main != side {
                    return Err(err(format!(
                        "the body gives {main:?} but the shortcut gives {side:?}"
                    )));
                }
                Ok(main)
            }
        }
    }

    /// The tensors this layer owns, `(role, shape)`, for the given input shape.
    pub fn param_roles(&self, input: Shape) -> Vec<(ParamRole, Vec<usize>)> {
        match (self, input) {
            (
                LayerSpec::Conv2d {
                    filters,
                    kernel,
                    groups,
                    bias,
                    ..
                },
                Shape::Image { channels, .. },
            ) => {
                let mut v = vec![(
                    ParamRole::Weight,
                    vec![kernel[0], kernel[1], channels / groups.max(&1), *filters],
                )];
                if *bias {
                    v.push((ParamRole::Bias, vec![*filters]));
                }
                v
            }
            (LayerSpec::BatchNorm { .. }, shape) => {
                let c = match shape {
                    Shape::Image { channels, .. } => channels,
                    Shape::Flat(n) => n,
                };
                [
                    ParamRole::Gamma,
                    ParamRole::Beta,
                    ParamRole::RunningMean,
                    ParamRole::RunningVar,
                ]
                .into_iter()
                .map(|r| (r, vec![c]))
                .collect()
            }
            (LayerSpec::Dense { units, bias, .. }, Shape::Flat(n)) => {
                let mut v = vec![(ParamRole::Weight, vec![n, *units])];
                if *bias {
                    v.push((ParamRole::Bias, vec![*units]));
                }
                v
            }
            _ => Vec::new(),
        }
    }
}

fn chain_shape(layers: &[LayerSpec], mut shape: Shape) -> Result<Shape, NnError> {
    for layer in layers {
        shape = layer.output_shape(shape)?;
    }
    Ok(shape)
}

impl ModelSpec {
    /// The input shape.
    pub fn input_shape(&self) -> Shape {
        Shape::Image {
            height: self.input[0],
            width: self.input[1],
            channels: self.input[2],
        }
    }

    /// Checks the whole spec and returns the shape after each top-level layer (index `i` is
    /// the output of `layers[i]`). Errors name the layer: a shape that does not fit, a
    /// duplicate or empty name, or a last layer that does not give `num_classes` logits.
    pub fn infer_shapes(&self) -> Result<Vec<Shape>, NnError> {
        let model_err = |message: String| NnError::Spec {
            layer: self.name.clone(),
            message,
        };
        if self.input.contains(&0) {
            return Err(model_err(format!(
                "input {:?} has a zero dimension",
                self.input
            )));
        }
        if self.num_classes == 0 {
            return Err(model_err("num_classes must be at least 1".into()));
        }
        let mut names = BTreeSet::new();
        check_names(&self.layers, &mut names)?;
        let mut shape = self.input_shape();
        let mut shapes = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            shape = layer.output_shape(shape)?;
            shapes.push(shape);
        }
        if shape != Shape::Flat(self.num_classes) {
            return Err(model_err(format!(
                "the last layer gives {shape:?}, but the model must output {} logits",
                self.num_classes
            )));
        }
        Ok(shapes)
    }

    /// Every named tensor of the model with its shape, in a fixed order (layers in order,
    /// a residual's body before its shortcut; within a layer: weight, bias, gamma, beta,
    /// running_mean, running_var).
    pub fn param_shapes(&self) -> Result<Vec<(String, Vec<usize>)>, NnError> {
        self.infer_shapes()?;
        let mut out = Vec::new();
        collect_params(&self.layers, self.input_shape(), &mut out)?;
        Ok(out)
    }
}

fn check_names(layers: &[LayerSpec], names: &mut BTreeSet<String>) -> Result<(), NnError> {
    for (i, layer) in layers.iter().enumerate() {
        if let Some(name) = layer.name() {
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '/');
            if !ok {
                return Err(NnError::Spec {
                    layer: format!("#{i} ({})", layer.kind()),
                    message: format!(
                        "name {name:?} must be non-empty ASCII letters, digits, '_', '-' or '/'"
                    ),
                });
            }
            if !names.insert(name.to_string()) {
                return Err(NnError::Spec {
                    layer: name.to_string(),
                    message: "the name is used twice".into(),
                });
            }
        }
        if let LayerSpec::Residual { body, shortcut } = layer {
            check_names(body, names)?;
            check_names(shortcut, names)?;
        }
    }
    Ok(())
}

fn collect_params(
    layers: &[LayerSpec],
    mut shape: Shape,
    out: &mut Vec<(String, Vec<usize>)>,
) -> Result<Shape, NnError> {
    for layer in layers {
        if let LayerSpec::Residual { body, shortcut } = layer {
            collect_params(body, shape, out)?;
            collect_params(shortcut, shape, out)?;
        } else if let Some(name) = layer.name() {
            for (role, dims) in layer.param_roles(shape) {
                out.push((format!("{name}.{}", role.suffix()), dims));
            }
        }
        shape = layer.output_shape(shape)?;
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caltech_s_like() -> ModelSpec {
        let mut layers = Vec::new();
        for (i, f) in [32, 64, 128, 256].into_iter().enumerate() {
            layers.push(LayerSpec::conv(
                &format!("conv{}", i + 1),
                f,
                3,
                1,
                Padding::Same,
            ));
            layers.push(LayerSpec::batch_norm(&format!("bn{}", i + 1)));
            layers.push(LayerSpec::Relu);
            if i < 3 {
                layers.push(LayerSpec::MaxPool { size: 2, stride: 2 });
            }
        }
        layers.extend([
            LayerSpec::GlobalAvgPool,
            LayerSpec::Dropout { rate: 0.3 },
            LayerSpec::dense("fc", 101),
        ]);
        ModelSpec {
            name: "caltech-s".into(),
            input: [64, 64, 3],
            num_classes: 101,
            layers,
        }
    }

    #[test]
    fn same_padding_matches_tensorflow() {
        // TF: out = ceil(in / stride); pad total split with the extra at the end.
        assert_eq!(Padding::Same.resolve(64, 3, 1), Some((64, 1, 1)));
        assert_eq!(Padding::Same.resolve(64, 3, 2), Some((32, 0, 1)));
        assert_eq!(Padding::Same.resolve(7, 3, 2), Some((4, 1, 1)));
        assert_eq!(Padding::Same.resolve(5, 1, 2), Some((3, 0, 0)));
        assert_eq!(Padding::Valid.resolve(7, 3, 2), Some((3, 0, 0)));
        assert_eq!(Padding::Valid.resolve(2, 3, 1), None);
    }

    #[test]
    fn shapes_and_params_of_a_reference_cnn() {
        let spec = caltech_s_like();
        let shapes = spec.infer_shapes().unwrap();
        assert_eq!(
            shapes[3],
            Shape::Image {
                height: 32,
                width: 32,
                channels: 32
            }
        );
        let params = spec.param_shapes().unwrap();
        assert_eq!(params.len(), 4 * 5 + 2);
        assert_eq!(params[5], ("conv2.weight".into(), vec![3, 3, 32, 64]));
        assert_eq!(params[9], ("bn2.running_var".into(), vec![64]));
        assert_eq!(params[20], ("fc.weight".into(), vec![256, 101]));
        let json = serde_json::to_string(&spec).unwrap();
        let back: ModelSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn errors_name_the_layer() {
        let mut spec = caltech_s_like();
        spec.num_classes = 10;
        let e = spec.infer_shapes().unwrap_err().to_string();
        assert!(e.contains("10 logits"), "{e}");
        let mut spec = caltech_s_like();
        spec.layers.insert(0, LayerSpec::dense("early", 5));
        let e = spec.infer_shapes().unwrap_err().to_string();
        assert!(e.contains("`early`") && e.contains("flat input"), "{e}");
        let mut spec = caltech_s_like();
        spec.layers.push(LayerSpec::dense("conv1", 101));
        assert!(
            spec.infer_shapes()
                .unwrap_err()
                .to_string()
                .contains("used twice")
        );
        let mut spec = caltech_s_like();
        spec.layers[0] = LayerSpec::Conv2d {
            name: "conv1".into(),
            filters: 32,
            kernel: [3, 3],
            stride: [1, 1],
            padding: Padding::Same,
            groups: 2,
            bias: false,
        };
        assert!(
            spec.infer_shapes()
                .unwrap_err()
                .to_string()
                .contains("groups (2)")
        );
        let bad = r#"{"name":"x","input":[8,8,3],"num_classes":2,"layers":[{"type":"dense","name":"fc","units":2,"oops":1}]}"#;
        assert!(serde_json::from_str::<ModelSpec>(bad).is_err());
    }

    #[test]
    fn residual_branches_must_agree() {
        let block = LayerSpec::Residual {
            body: vec![LayerSpec::conv("a", 8, 3, 2, Padding::Same)],
            shortcut: vec![LayerSpec::conv("b", 8, 1, 2, Padding::Same)],
        };
        assert_eq!(
            block
                .output_shape(Shape::Image {
                    height: 8,
                    width: 8,
                    channels: 4
                })
                .unwrap(),
            Shape::Image {
                height: 4,
                width: 4,
                channels: 8
            }
        );
        let identity = LayerSpec::Residual {
            body: vec![LayerSpec::conv("c", 8, 3, 1, Padding::Same)],
            shortcut: vec![],
        };
        assert!(
            identity
                .output_shape(Shape::Image {
                    height: 8,
                    width: 8,
                    channels: 4
                })
                .is_err()
        );
        assert!(
            identity
                .output_shape(Shape::Image {
                    height: 8,
                    width: 8,
                    channels: 8
                })
                .is_ok()
        );
    }
}
