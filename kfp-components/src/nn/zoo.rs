//! Built-in architectures. Every one uses only operations the Edge TPU runs (convolution,
//! depthwise convolution, ReLU/ReLU6, max/average pooling, mean, fully connected, add; BatchNorm
//! folds into the convolutions and dropout disappears at export).
//!
//! - `caltech-s`: the reference CNN of the benchmark protocol (W2): four blocks
//!   conv3x3 (32, 64, 128, 256 filters, no bias) + BatchNorm + ReLU, 2x2 max-pool after each of
//!   the first three, global average pool, dropout 0.3, dense.
//! - `caltech-m`: `caltech-s` followed by two cheap depthwise-separable stages: a residual
//!   block at the last resolution (depthwise 3x3 + BN + ReLU, pointwise 256 + BN, added to its
//!   input, ReLU), a 2x2 max-pool, then depthwise 3x3 + BN + ReLU and pointwise 512 + BN +
//!   ReLU; global average pool, dropout 0.3, dense. About 11% more multiply-adds than
//!   `caltech-s` (6.4 M more at 64x64), twice the receptive field and the depth; our recipe
//!   for Caltech101 (docs/benchmarks.md, W3).
//! - `mobilenet-<width>`: MobileNet v1 (a 3x3 stride-2 convolution, then 13
//!   depthwise-separable blocks with ReLU6), with a width multiplier scaling every layer's
//!   channels (rounded to a multiple of 8, at least 8), global average pool, dropout 0.2,
//!   dense.
//!
//! ```
//! use kfp_components::nn::zoo;
//!
//! let spec = zoo::by_name("mobilenet-0.5", 64, 101).unwrap();
//! assert_eq!(spec.num_classes, 101);
//! assert!(zoo::by_name("resnet-9000", 64, 101).unwrap_err().to_string().contains("caltech-s"));
//! ```
use super::builder::ModelBuilder;
use super::error::NnError;
use super::spec::{LayerSpec, ModelSpec, Padding};

/// The names [`by_name`] knows.
pub fn names() -> &'static [&'static str] {
    &[
        "caltech-s",
        "caltech-m",
        "mobilenet-1.0",
        "mobilenet-0.75",
        "mobilenet-0.5",
        "mobilenet-0.25",
    ]
}

/// The reference CNN (`caltech-s`) for `input_size x input_size x 3` images.
pub fn caltech_s(input_size: usize, num_classes: usize) -> ModelSpec {
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
        LayerSpec::dense("fc", num_classes),
    ]);
    ModelSpec {
        name: "caltech-s".into(),
        input: [input_size, input_size, 3],
        num_classes,
        layers,
    }
}

/// `caltech-s` with two depthwise-separable stages added (see the module documentation), for
/// `input_size x input_size x 3` images (at least 16 pixels: four 2x2 pools).
pub fn caltech_m(input_size: usize, num_classes: usize) -> ModelSpec {
    let mut b = ModelBuilder::new("caltech-m", [input_size, input_size, 3]);
    for (i, f) in [32, 64, 128, 256].into_iter().enumerate() {
        b = b.conv_bn_relu(f, 3, 1);
        if i < 3 {
            b = b.max_pool(2);
        }
    }
    let b = b
        .residual(|r| {
            r.depthwise(3, 1)
                .batch_norm()
                .relu()
                .conv(256, 1, 1)
                .batch_norm()
        })
        .relu()
        .max_pool(2)
        .depthwise(3, 1)
        .batch_norm()
        .relu()
        .conv_bn_relu(512, 1, 1)
        .global_avg_pool()
        .dropout(0.3)
        .dense(num_classes);
    spec_or_layers(b, "caltech-m", input_size, num_classes)
}

/// The built spec, or (when the input is too small for the pools) the unchecked layers, for
/// `ModelSpec::infer_shapes` to name the layer that does not fit.
fn spec_or_layers(b: ModelBuilder, name: &str, input_size: usize, num_classes: usize) -> ModelSpec {
    match b.clone().build() {
        Ok(spec) => spec,
        Err(_) => ModelSpec {
            name: name.to_string(),
            input: [input_size, input_size, 3],
            num_classes,
            layers: b.into_layers(),
        },
    }
}

/// Channels scaled by `width`, rounded to the nearest multiple of 8 (at least 8, and never
/// more than 10% below the scaled value), as in the MobileNet reference code.
fn scaled(channels: usize, width: f32) -> usize {
    let v = channels as f32 * width;
    let r = (((v + 4.0) / 8.0).floor() as usize * 8).max(8);
    if (r as f32) < 0.9 * v { r + 8 } else { r }
}

/// MobileNet v1 with a width multiplier, for `input_size x input_size x 3` images.
pub fn mobilenet(input_size: usize, num_classes: usize, width: f32) -> ModelSpec {
    let mut b = ModelBuilder::new(&format!("mobilenet-{width}"), [input_size, input_size, 3])
        .conv_bn_relu6(scaled(32, width), 3, 2);
    let blocks: [(usize, usize); 13] = [
        (64, 1),
        (128, 2),
        (128, 1),
        (256, 2),
        (256, 1),
        (512, 2),
        (512, 1),
        (512, 1),
        (512, 1),
        (512, 1),
        (512, 1),
        (1024, 2),
        (1024, 1),
    ];
    for (c, s) in blocks {
        b = b.separable(scaled(c, width), s);
    }
    let b = b.global_avg_pool().dropout(0.2).dense(num_classes);
    // Inputs too small for five stride-2 stages still give a spec; `ModelSpec::infer_shapes`
    // (run by `by_name` and `Model::new`) then names the layer that does not fit.
    spec_or_layers(b, &format!("mobilenet-{width}"), input_size, num_classes)
}

/// The architecture called `name` (see [`names`]) for square inputs of `input_size` pixels
/// and `num_classes` classes; an unknown name is an error listing the known ones.
pub fn by_name(name: &str, input_size: usize, num_classes: usize) -> Result<ModelSpec, NnError> {
    let spec = match name {
        "caltech-s" => caltech_s(input_size, num_classes),
        "caltech-m" => caltech_m(input_size, num_classes),
        _ => match name
            .strip_prefix("mobilenet-")
            .and_then(|w| w.parse::<f32>().ok())
        {
            Some(w) if names().contains(&name) => mobilenet(input_size, num_classes, w),
            _ => {
                return Err(NnError::option(
                    "architecture",
                    format!(
                        "unknown architecture `{name}`; known: {}",
                        names().join(", ")
                    ),
                ));
            }
        },
    };
    spec.infer_shapes()?;
    Ok(spec)
}
