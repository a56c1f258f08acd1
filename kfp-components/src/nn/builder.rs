//! A fluent builder for sequential and residual networks, producing a [`ModelSpec`].
//!
//! Layers with weights are named automatically: convolutions (depthwise included) `conv1`,
//! `conv2`, ..., BatchNorms `bn1`, `bn2`, ..., dense layers `fc`, `fc2`, `fc3`, ... in the
//! order they are added (residual bodies before shortcuts). [`ModelBuilder::build`] checks the
//! whole spec ([`ModelSpec::infer_shapes`]) and takes `num_classes` from the last dense layer.
//!
//! ```
//! use kfp_components::nn::builder::ModelBuilder;
//!
//! let spec = ModelBuilder::new("my-net", [32, 32, 3])
//!     .conv_bn_relu(16, 3, 1)
//!     .max_pool(2)
//!     .residual(|b| b.conv_bn_relu(16, 3, 1).conv(16, 3, 1).batch_norm())
//!     .relu()
//!     .global_avg_pool()
//!     .dropout(0.3)
//!     .dense(10)
//!     .build()
//!     .unwrap();
//! assert_eq!(spec.num_classes, 10);
//! assert_eq!(spec.param_shapes().unwrap()[0].0, "conv1.weight");
//! ```
use super::error::NnError;
use super::spec::{LayerSpec, ModelSpec, Padding, Shape};

#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    conv: usize,
    bn: usize,
    fc: usize,
}

/// Builds a [`ModelSpec`] layer by layer (see the module docs).
#[derive(Debug, Clone)]
#[must_use]
pub struct ModelBuilder {
    name: String,
    input: [usize; 3],
    start: Shape,
    layers: Vec<LayerSpec>,
    counters: Counters,
}

impl ModelBuilder {
    /// An empty network named `name` taking `[height, width, channels]` inputs.
    pub fn new(name: &str, input: [usize; 3]) -> ModelBuilder {
        ModelBuilder {
            name: name.to_string(),
            input,
            start: Shape::Image {
                height: input[0],
                width: input[1],
                channels: input[2],
            },
            layers: Vec::new(),
            counters: Counters::default(),
        }
    }

    /// The shape after the layers added so far (an error if they do not fit together).
    pub fn shape(&self) -> Result<Shape, NnError> {
        let mut s = self.start;
        for l in &self.layers {
            s = l.output_shape(s)?;
        }
        Ok(s)
    }

    /// Appends any layer as is (no automatic naming).
    pub fn layer(mut self, layer: LayerSpec) -> Self {
        self.layers.push(layer);
        self
    }

    fn conv_name(&mut self) -> String {
        self.counters.conv += 1;
        format!("conv{}", self.counters.conv)
    }

    /// A square convolution, SAME padding, no bias.
    pub fn conv(self, filters: usize, kernel: usize, stride: usize) -> Self {
        self.conv_padded(filters, kernel, stride, Padding::Same)
    }

    /// A square convolution with the given padding, no bias.
    pub fn conv_padded(
        mut self,
        filters: usize,
        kernel: usize,
        stride: usize,
        padding: Padding,
    ) -> Self {
        let name = self.conv_name();
        self.layer(LayerSpec::conv(&name, filters, kernel, stride, padding))
    }

    /// A square grouped convolution, SAME padding, no bias.
    pub fn grouped_conv(
        mut self,
        filters: usize,
        kernel: usize,
        stride: usize,
        groups: usize,
    ) -> Self {
        let name = self.conv_name();
        self.layer(LayerSpec::Conv2d {
            name,
            filters,
            kernel: [kernel, kernel],
            stride: [stride, stride],
            padding: Padding::Same,
            groups,
            bias: false,
        })
    }

    /// A square depthwise convolution (multiplier 1) over the current channels, SAME padding.
    pub fn depthwise(mut self, kernel: usize, stride: usize) -> Self {
        let channels = match self.shape() {
            Ok(Shape::Image { channels, .. }) => channels,
            // build() reports the problem; a 0 here fails shape inference with the layer named.
            _ => 0,
        };
        let name = self.conv_name();
        self.layer(LayerSpec::depthwise(
            &name,
            channels,
            kernel,
            stride,
            Padding::Same,
        ))
    }

    /// BatchNorm with PyTorch's defaults.
    pub fn batch_norm(mut self) -> Self {
        self.counters.bn += 1;
        let name = format!("bn{}", self.counters.bn);
        self.layer(LayerSpec::batch_norm(&name))
    }

    /// ReLU.
    pub fn relu(self) -> Self {
        self.layer(LayerSpec::Relu)
    }

    /// ReLU6.
    pub fn relu6(self) -> Self {
        self.layer(LayerSpec::Relu6)
    }

    /// Convolution (SAME, no bias) + BatchNorm + ReLU.
    pub fn conv_bn_relu(self, filters: usize, kernel: usize, stride: usize) -> Self {
        self.conv(filters, kernel, stride).batch_norm().relu()
    }

    /// Convolution (SAME, no bias) + BatchNorm + ReLU6.
    pub fn conv_bn_relu6(self, filters: usize, kernel: usize, stride: usize) -> Self {
        self.conv(filters, kernel, stride).batch_norm().relu6()
    }

    /// A MobileNet block: depthwise 3x3 + BN + ReLU6, then pointwise 1x1 to `filters` + BN +
    /// ReLU6.
    pub fn separable(self, filters: usize, stride: usize) -> Self {
        self.depthwise(3, stride)
            .batch_norm()
            .relu6()
            .conv_bn_relu6(filters, 1, 1)
    }

    /// Max pooling with `size x size` windows and stride `size`.
    pub fn max_pool(self, size: usize) -> Self {
        self.layer(LayerSpec::MaxPool { size, stride: size })
    }

    /// Average pooling with `size x size` windows and stride `size`.
    pub fn avg_pool(self, size: usize) -> Self {
        self.layer(LayerSpec::AvgPool { size, stride: size })
    }

    /// Global average pooling.
    pub fn global_avg_pool(self) -> Self {
        self.layer(LayerSpec::GlobalAvgPool)
    }

    /// Flatten.
    pub fn flatten(self) -> Self {
        self.layer(LayerSpec::Flatten)
    }

    /// Dropout with drop probability `rate`.
    pub fn dropout(self, rate: f32) -> Self {
        self.layer(LayerSpec::Dropout { rate })
    }

    /// Dense layer with bias.
    pub fn dense(mut self, units: usize) -> Self {
        self.counters.fc += 1;
        let name = match self.counters.fc {
            1 => "fc".to_string(),
            k => format!("fc{k}"),
        };
        self.layer(LayerSpec::dense(&name, units))
    }

    fn branch(&mut self, f: impl FnOnce(ModelBuilder) -> ModelBuilder) -> Vec<LayerSpec> {
        let start = match self.shape() {
            Ok(s) => s,
            Err(_) => self.start,
        };
        let sub = ModelBuilder {
            name: self.name.clone(),
            input: self.input,
            start,
            layers: Vec::new(),
            counters: self.counters,
        };
        let sub = f(sub);
        self.counters = sub.counters;
        sub.layers
    }

    /// A residual block with an identity shortcut: `x + body(x)`.
    pub fn residual(self, body: impl FnOnce(ModelBuilder) -> ModelBuilder) -> Self {
        self.residual_with(body, |b| b)
    }

    /// A residual block `body(x) + shortcut(x)` (e.g. a strided 1x1 convolution + BN as the
    /// shortcut when the body changes the shape).
    pub fn residual_with(
        mut self,
        body: impl FnOnce(ModelBuilder) -> ModelBuilder,
        shortcut: impl FnOnce(ModelBuilder) -> ModelBuilder,
    ) -> Self {
        let body = self.branch(body);
        let shortcut = self.branch(shortcut);
        self.layer(LayerSpec::Residual { body, shortcut })
    }

    /// The layers added so far, unchecked.
    pub fn into_layers(self) -> Vec<LayerSpec> {
        self.layers
    }

    /// The checked spec; `num_classes` is the output size of the network.
    pub fn build(self) -> Result<ModelSpec, NnError> {
        let num_classes = match self.shape()? {
            Shape::Flat(n) => n,
            Shape::Image { .. } => {
                return Err(NnError::Spec {
                    layer: self.name.clone(),
                    message: "the network must end with flat logits (add global_avg_pool or flatten, then dense)".into(),
                });
            }
        };
        let spec = ModelSpec {
            name: self.name,
            input: self.input,
            num_classes,
            layers: self.layers,
        };
        spec.infer_shapes()?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_shapes_and_errors() {
        let spec = ModelBuilder::new("r", [8, 8, 3])
            .conv_bn_relu(4, 3, 1)
            .residual_with(
                |b| b.conv_bn_relu(8, 3, 2).conv(8, 3, 1).batch_norm(),
                |b| b.conv(8, 1, 2).batch_norm(),
            )
            .relu()
            .separable(16, 2)
            .global_avg_pool()
            .dense(7)
            .build()
            .unwrap();
        let names: Vec<String> = spec
            .param_shapes()
            .unwrap()
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert!(names.starts_with(&["conv1.weight".to_string(), "bn1.gamma".into()]));
        assert!(
            names.contains(&"conv4.weight".to_string()) && names.contains(&"bn4.gamma".to_string())
        );
        assert!(
            names.contains(&"conv5.weight".to_string()),
            "depthwise is conv5: {names:?}"
        );
        assert_eq!(names.last().unwrap(), "fc.bias");
        assert_eq!(spec.num_classes, 7);
        let e = ModelBuilder::new("bad", [8, 8, 3])
            .conv(4, 3, 1)
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("flat logits"), "{e}");
        let e = ModelBuilder::new("bad", [4, 4, 3])
            .max_pool(8)
            .global_avg_pool()
            .dense(2)
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_pool"), "{e}");
    }
}
