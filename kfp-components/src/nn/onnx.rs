//! Export of a trained model as a standard ONNX graph (float32, opset 13).
//!
//! [`export`] writes `model.onnx` from a [`ModelSpec`] and its named weights (the same
//! `BTreeMap` the engine's `Model::weights` gives and safetensors holds); [`build`] gives the
//! message in memory and [`to_bytes`] its encoding.
//!
//! # The graph
//!
//! - **Input** `input`, float32 `[batch, height, width, channels]`: NHWC, our layout, with a
//!   symbolic batch dimension (`batch`). **Output** `logits`, `[batch, num_classes]`; with
//!   [`ExportOptions::softmax`] also `probabilities` (a `Softmax` over the classes).
//! - ONNX's `Conv`, pools and `BatchNormalization` are NCHW, so the graph transposes the input
//!   once to NCHW and keeps images NCHW from there on. The only other `Transpose` is the one
//!   back to NHWC in front of a [`LayerSpec::Flatten`], which must flatten in our (TFLite's)
//!   NHWC order so that the dense kernel that follows means the same thing.
//! - Layers map one to one: `Conv2d` to `Conv` (HWIO kernel transposed to OIHW, `group`,
//!   `strides`, explicit `pads`), `BatchNorm` folded (see below) or `BatchNormalization`,
//!   `Relu` to `Relu`, `Relu6` to `Clip(x, 0, 6)`, pools to `MaxPool`/`AveragePool` without
//!   padding, `GlobalAvgPool` to `GlobalAveragePool` + `Flatten`, `Dense` to `Gemm` (our
//!   `[in, out]` kernel is Gemm's `B` as is), a residual block to its two branches and `Add`.
//!   `Dropout` is the identity at inference and is left out.
//! - Padding: our `same` is TensorFlow's rule with the extra pixel of an odd total at the end
//!   (bottom/right). The graph writes it as explicit `pads` `[top, left, bottom, right]`
//!   computed by [`Padding::resolve`], never as `auto_pad`: `SAME_UPPER` also puts the extra
//!   pixel at the end, but consumers have disagreed on it (and on `auto_pad` with strides)
//!   over the years, while explicit pads mean one thing everywhere.
//! - Names come from ours: a layer named `conv1` becomes node `conv1` with initializers
//!   `conv1.weight` and `conv1.bias`; layers without a name become `<kind>_<index>` (inside a
//!   residual block, prefixed with the block's path, e.g. `residual_5/body/relu_1`).
//!
//! # BatchNorm
//!
//! By default ([`ExportOptions::fold_batch_norm`]) a BatchNorm that directly follows a
//! convolution or dense layer is folded into it: with `s = gamma / sqrt(running_var + eps)`
//! the kernel becomes `kernel * s` (per output channel) and the bias
//! `(bias - running_mean) * s + beta` (computed in f64, stored as f32). That is what TFLite converters and the Edge
//! TPU expect and it saves one node per block. A BatchNorm that follows anything else (an
//! activation, a pool, the block input) cannot be folded and stays a `BatchNormalization` node;
//! [`ExportReport`] lists which were folded where. With folding off every BatchNorm is a
//! node, which keeps the running statistics visible in the file.
//!
//! # Opset 13
//!
//! Opset 13 is the oldest opset the issue allows, and every operator used here has the
//! semantics we need there: `Clip` takes its bounds as inputs (since 11), `Softmax` normalises
//! along one axis (13; before it flattened everything after `axis`), `Conv`/`Gemm` take an
//! optional bias. Later opsets change nothing we use (`BatchNormalization` 14/15 only add
//! training outputs and type constraints), and the oldest sufficient opset is the one most
//! consumers read: onnxruntime, tract and the ONNX-to-TFLite converters. The file declares IR
//! version 7, the IR version that introduced opset 13.
//!
//! # Checks
//!
//! The export first checks the spec ([`ModelSpec::param_shapes`]) and then every tensor: each
//! must be present, have the right shape and hold only finite values (running variances must
//! not be negative), and no extra tensor may be present (a sign of weights from another
//! model). Errors name the tensor. The file is written atomically (a temporary file in the same
//! folder, renamed over the target).
//!
//! The oracle tests (`tests/onnx_oracle.rs`) check the files with `onnx.checker.check_model(..,
//! full_check=True)`, and compare onnxruntime's and tract's outputs with the engine's forward
//! pass; see `docs/onnx.md`.
//!
//! ```
//! use std::collections::BTreeMap;
//! use kfp_components::nn::onnx::{self, ExportOptions};
//! use kfp_components::nn::{LayerSpec, ModelSpec, Padding};
//! use ndarray::ArrayD;
//!
//! let spec = ModelSpec {
//!     name: "tiny".into(),
//!     input: [8, 8, 3],
//!     num_classes: 4,
//!     layers: vec![
//!         LayerSpec::conv("conv1", 6, 3, 2, Padding::Same),
//!         LayerSpec::batch_norm("bn1"),
//!         LayerSpec::Relu6,
//!         LayerSpec::GlobalAvgPool,
//!         LayerSpec::dense("fc", 4),
//!     ],
//! };
//! let mut weights = BTreeMap::new();
//! for (name, shape) in spec.param_shapes()? {
//!     let fill = if name.ends_with("running_var") || name.ends_with("gamma") { 1.0 } else { 0.1 };
//!     weights.insert(name, ArrayD::from_elem(shape, fill));
//! }
//! let exported = onnx::build(&spec, &weights, &ExportOptions::default())?;
//! let ops: Vec<&str> = exported.model.graph.as_ref().unwrap().node.iter()
//!     .map(|n| n.op_type.as_str()).collect();
//! assert_eq!(ops, ["Transpose", "Conv", "Clip", "GlobalAveragePool", "Flatten", "Gemm"]);
//! assert_eq!(exported.report.folded, [("bn1".to_string(), "conv1".to_string())]);
//!
//! let dir = tempfile::tempdir()?;
//! let report = onnx::export(&spec, &weights, &dir.path().join("model.onnx"), &ExportOptions::default())?;
//! assert!(report.bytes > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, Axis, IxDyn};
use prost::Message;
/// The ONNX protobuf messages (tract-onnx's prost types), re-exported so that callers can name
/// and decode them (`pb::ModelProto::decode` with [`prost::Message`]) without depending on
/// tract-onnx themselves.
pub use tract_onnx::pb;

use super::error::NnError;
use super::spec::{LayerSpec, ModelSpec, Padding, Shape};

/// The ONNX operator set the graph uses (see the module docs for why 13).
pub const OPSET: i64 = 13;
/// The ONNX IR version written in the file (7: the version that introduced opset 13).
pub const IR_VERSION: i64 = 7;
/// The name of the graph's input.
pub const INPUT: &str = "input";
/// The name of the graph's logits output.
pub const LOGITS: &str = "logits";
/// The name of the optional softmax output.
pub const PROBABILITIES: &str = "probabilities";
/// The symbolic name of the batch dimension of the input and outputs.
pub const BATCH_DIM: &str = "batch";
/// The metadata key holding the architecture as JSON (a [`ModelSpec`]).
pub const META_ARCHITECTURE: &str = "kfp_rs.architecture";
/// The metadata key holding the number of classes.
pub const META_NUM_CLASSES: &str = "kfp_rs.num_classes";
/// The metadata key holding the input layout (`NHWC`).
pub const META_INPUT_LAYOUT: &str = "kfp_rs.input_layout";
/// The metadata key telling whether BatchNorm was folded (`folded`) or kept (`nodes`).
pub const META_BATCH_NORM: &str = "kfp_rs.batch_norm";

/// The largest encoded model protobuf parsers accept (2 GiB - 1).
const MAX_BYTES: usize = i32::MAX as usize;

/// How to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// Fold each BatchNorm that directly follows a convolution or dense layer into it
    /// (default `true`); otherwise every BatchNorm becomes a `BatchNormalization` node.
    pub fold_batch_norm: bool,
    /// Also output `probabilities`, the softmax of the logits (default `false`).
    pub softmax: bool,
    /// Extra `metadata_props` entries (e.g. class names). Keys starting with `kfp_rs.` are
    /// reserved for the ones the exporter writes.
    pub metadata: BTreeMap<String, String>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            fold_batch_norm: true,
            softmax: false,
            metadata: BTreeMap::new(),
        }
    }
}

/// What was exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// The file written ([`export`] only).
    pub path: Option<PathBuf>,
    /// The size of the encoded model in bytes.
    pub bytes: usize,
    /// The opset of the graph ([`OPSET`]).
    pub opset: i64,
    /// The number of nodes of the graph.
    pub nodes: usize,
    /// The number of initializers (weight tensors and constants).
    pub initializers: usize,
    /// The number of float values in the initializers.
    pub parameters: usize,
    /// The BatchNorm layers folded into a preceding layer: `(batch norm, conv or dense)`.
    pub folded: Vec<(String, String)>,
    /// The BatchNorm layers written as `BatchNormalization` nodes.
    pub batch_norm_nodes: Vec<String>,
    /// The graph's outputs, in order (`logits`, then `probabilities` if asked for).
    pub outputs: Vec<String>,
}

/// An exported model in memory: the ONNX message and what it holds.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The `ModelProto` (tract-onnx's prost types).
    pub model: pb::ModelProto,
    /// The summary ([`ExportReport::path`] is `None`; [`ExportReport::bytes`] is the size of
    /// [`Exported::to_bytes`]).
    pub report: ExportReport,
}

impl Exported {
    /// The protobuf encoding of the model, what a `.onnx` file holds.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.model.encode_to_vec()
    }
}

/// Builds the ONNX model of `spec` with `weights` (see the module docs for the graph).
///
/// Errors: the spec is inconsistent ([`NnError::Spec`]); a tensor is missing, extra or not
/// finite ([`NnError::Weight`]) or has the wrong shape ([`NnError::Shape`]); a metadata key
/// is reserved ([`NnError::Option`]).
pub fn build(
    spec: &ModelSpec,
    weights: &BTreeMap<String, ArrayD<f32>>,
    options: &ExportOptions,
) -> Result<Exported, NnError> {
    check_weights(spec, weights)?;
    for key in options.metadata.keys() {
        if key.starts_with("kfp_rs.") {
            return Err(NnError::option(
                "metadata",
                format!(
                    "the key `{key}` is reserved for the exporter (keys starting with `kfp_rs.`)"
                ),
            ));
        }
    }
    let architecture = serde_json::to_string(spec).map_err(|e| NnError::Spec {
        layer: spec.name.clone(),
        message: format!("cannot be written as JSON: {e}"),
    })?;

    let mut graph = GraphBuilder::new(weights, options.fold_batch_norm);
    let input = Value {
        name: INPUT.to_string(),
        layout: Layout::Nhwc,
        shape: spec.input_shape(),
    };
    let out = graph.layers(&spec.layers, input, "")?;
    // The spec checks passed, so the model ends in `num_classes` flat features; the value is
    // the output of the last node. Rename it to `logits` everywhere.
    if out.layout != Layout::Flat || out.name == INPUT {
        return Err(NnError::Spec {
            layer: spec.name.clone(),
            message: "the model does not end in flat logits".into(),
        });
    }
    graph.rename(&out.name, LOGITS);
    let mut outputs = vec![LOGITS.to_string()];
    if options.softmax {
        graph.node(
            "Softmax",
            PROBABILITIES,
            vec![LOGITS.to_string()],
            PROBABILITIES,
            vec![int_attr("axis", 1)],
        );
        outputs.push(PROBABILITIES.to_string());
    }

    let batch = || pb::tensor_shape_proto::Dimension {
        denotation: String::new(),
        value: Some(pb::tensor_shape_proto::dimension::Value::DimParam(
            BATCH_DIM.to_string(),
        )),
    };
    let dim = |n: usize| pb::tensor_shape_proto::Dimension {
        denotation: String::new(),
        value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(n as i64)),
    };
    let value_info = |name: &str, dims: Vec<pb::tensor_shape_proto::Dimension>, doc: String| {
        pb::ValueInfoProto {
            name: name.to_string(),
            r#type: Some(pb::TypeProto {
                denotation: String::new(),
                value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                    elem_type: pb::tensor_proto::DataType::Float as i32,
                    shape: Some(pb::TensorShapeProto { dim: dims }),
                })),
            }),
            doc_string: doc,
        }
    };
    let [h, w, c] = spec.input;
    let graph_inputs = vec![value_info(
        INPUT,
        vec![batch(), dim(h), dim(w), dim(c)],
        format!("float32 images, NHWC [batch, {h}, {w}, {c}], normalised as in training"),
    )];
    let graph_outputs = outputs
        .iter()
        .map(|name| {
            let doc = if name == LOGITS {
                format!("unnormalised class scores [batch, {}]", spec.num_classes)
            } else {
                format!("softmax of the logits [batch, {}]", spec.num_classes)
            };
            value_info(name, vec![batch(), dim(spec.num_classes)], doc)
        })
        .collect();

    let parameters = graph.initializers.iter().map(|t| t.float_data.len()).sum();
    let report = ExportReport {
        path: None,
        bytes: 0,
        opset: OPSET,
        nodes: graph.nodes.len(),
        initializers: graph.initializers.len(),
        parameters,
        folded: graph.folded,
        batch_norm_nodes: graph.batch_norm_nodes,
        outputs,
    };
    let bn_mode = if options.fold_batch_norm {
        "folded"
    } else {
        "nodes"
    };
    let mut metadata = vec![
        (META_ARCHITECTURE.to_string(), architecture),
        (META_NUM_CLASSES.to_string(), spec.num_classes.to_string()),
        (META_INPUT_LAYOUT.to_string(), "NHWC".to_string()),
        (META_BATCH_NORM.to_string(), bn_mode.to_string()),
    ];
    metadata.extend(options.metadata.clone());
    let model = pb::ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "kfp-rs".to_string(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        doc_string: format!(
            "{}: a {}-class image classifier exported by kfp-rs. Input `{INPUT}` is float32 NHWC \
             [batch, {h}, {w}, {c}]; output `{LOGITS}` [batch, {}]. BatchNorm {}.",
            spec.name,
            spec.num_classes,
            spec.num_classes,
            if options.fold_batch_norm {
                "folded into the preceding convolution or dense layer where there is one"
            } else {
                "kept as BatchNormalization nodes"
            }
        ),
        graph: Some(pb::GraphProto {
            node: graph.nodes,
            name: spec.name.clone(),
            initializer: graph.initializers,
            doc_string: format!("{} ({} layers)", spec.name, spec.layers.len()),
            input: graph_inputs,
            output: graph_outputs,
            ..Default::default()
        }),
        metadata_props: metadata
            .into_iter()
            .map(|(key, value)| pb::StringStringEntryProto { key, value })
            .collect(),
        ..Default::default()
    };
    let mut exported = Exported { model, report };
    exported.report.bytes = exported.model.encoded_len();
    // protobuf (and so every ONNX reader) cannot parse a message of 2 GiB or more; bigger
    // models would need ONNX's external data files, which this exporter does not write.
    if exported.report.bytes > MAX_BYTES {
        return Err(NnError::Spec {
            layer: spec.name.clone(),
            message: format!(
                "the ONNX file would take {} bytes, over protobuf's 2 GiB limit ({} parameters)",
                exported.report.bytes, exported.report.parameters
            ),
        });
    }
    Ok(exported)
}

/// The encoded ONNX model of `spec` with `weights`, what [`export`] writes.
pub fn to_bytes(
    spec: &ModelSpec,
    weights: &BTreeMap<String, ArrayD<f32>>,
    options: &ExportOptions,
) -> Result<Vec<u8>, NnError> {
    Ok(build(spec, weights, options)?.to_bytes())
}

/// Writes the ONNX model of `spec` with `weights` to `path`, atomically (a temporary file in
/// the same folder renamed over `path`). Errors as [`build`], plus [`NnError::Io`].
pub fn export(
    spec: &ModelSpec,
    weights: &BTreeMap<String, ArrayD<f32>>,
    path: &Path,
    options: &ExportOptions,
) -> Result<ExportReport, NnError> {
    let exported = build(spec, weights, options)?;
    let bytes = exported.to_bytes();
    write_atomically(path, &bytes)?;
    Ok(ExportReport {
        path: Some(path.to_path_buf()),
        bytes: bytes.len(),
        ..exported.report
    })
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), NnError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| NnError::io(path, e))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| NnError::io(path, e))?;
    temp.persist(path).map_err(|e| NnError::io(path, e.error))?;
    Ok(())
}

/// Checks that `weights` holds exactly the tensors of `spec`, with the right shapes and finite
/// values.
fn check_weights(spec: &ModelSpec, weights: &BTreeMap<String, ArrayD<f32>>) -> Result<(), NnError> {
    let wanted = spec.param_shapes()?;
    let names: BTreeSet<&str> = wanted.iter().map(|(n, _)| n.as_str()).collect();
    if let Some(extra) = weights.keys().find(|k| !names.contains(k.as_str())) {
        return Err(NnError::Weight {
            name: extra.clone(),
            message: format!(
                "the model `{}` has no such tensor (weights of another model?)",
                spec.name
            ),
        });
    }
    for (name, shape) in &wanted {
        let value = weights.get(name).ok_or_else(|| NnError::Weight {
            name: name.clone(),
            message: "missing from the weights".into(),
        })?;
        if value.shape() != shape.as_slice() {
            return Err(NnError::Shape {
                what: format!("weight `{name}`"),
                expected: shape.clone(),
                got: value.shape().to_vec(),
            });
        }
        if let Some(bad) = value.iter().find(|v| !v.is_finite()) {
            return Err(NnError::Weight {
                name: name.clone(),
                message: format!("holds a non-finite value ({bad})"),
            });
        }
        if name.ends_with(".running_var") && value.iter().any(|v| *v < 0.0) {
            return Err(NnError::Weight {
                name: name.clone(),
                message: "a running variance is negative".into(),
            });
        }
    }
    Ok(())
}

/// Where a tensor's channels are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `[batch, height, width, channels]`: the graph input and what `Flatten` needs.
    Nhwc,
    /// `[batch, channels, height, width]`: what ONNX's image operators need.
    Nchw,
    /// `[batch, features]`.
    Flat,
}

/// A tensor of the graph being built.
#[derive(Debug, Clone)]
struct Value {
    name: String,
    layout: Layout,
    shape: Shape,
}

struct GraphBuilder<'a> {
    weights: &'a BTreeMap<String, ArrayD<f32>>,
    fold: bool,
    nodes: Vec<pb::NodeProto>,
    initializers: Vec<pb::TensorProto>,
    names: BTreeSet<String>,
    folded: Vec<(String, String)>,
    batch_norm_nodes: Vec<String>,
    relu6_bounds: Option<(String, String)>,
}

impl<'a> GraphBuilder<'a> {
    fn new(weights: &'a BTreeMap<String, ArrayD<f32>>, fold: bool) -> Self {
        GraphBuilder {
            weights,
            fold,
            nodes: Vec::new(),
            initializers: Vec::new(),
            names: [INPUT, LOGITS, PROBABILITIES]
                .into_iter()
                .map(String::from)
                .collect(),
            folded: Vec::new(),
            batch_norm_nodes: Vec::new(),
            relu6_bounds: None,
        }
    }

    /// A name not used yet, `base` if possible.
    fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut i = 1;
        while self.names.contains(&name) {
            name = format!("{base}_{i}");
            i += 1;
        }
        self.names.insert(name.clone());
        name
    }

    /// Adds a node with one output, named `output` (already reserved or a graph output).
    fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: Vec<String>,
        output: &str,
        attribute: Vec<pb::AttributeProto>,
    ) {
        self.nodes.push(pb::NodeProto {
            input: inputs,
            output: vec![output.to_string()],
            name: name.to_string(),
            op_type: op.to_string(),
            attribute,
            ..Default::default()
        });
    }

    /// Adds a node whose name and output tensor are a fresh name from `base`.
    fn simple(
        &mut self,
        op: &str,
        base: &str,
        inputs: Vec<String>,
        attribute: Vec<pb::AttributeProto>,
    ) -> String {
        let name = self.fresh(base);
        self.node(op, &name, inputs, &name, attribute);
        name
    }

    /// Adds an initializer named (a fresh name from) `base` and returns its name.
    fn initializer(&mut self, base: &str, dims: &[usize], data: Vec<f32>, doc: &str) -> String {
        let name = self.fresh(base);
        self.initializers.push(pb::TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: pb::tensor_proto::DataType::Float as i32,
            float_data: data,
            name: name.clone(),
            doc_string: doc.to_string(),
            ..Default::default()
        });
        name
    }

    /// Renames a tensor in every node (inputs and outputs).
    fn rename(&mut self, from: &str, to: &str) {
        for node in &mut self.nodes {
            for name in node.input.iter_mut().chain(node.output.iter_mut()) {
                if name == from {
                    *name = to.to_string();
                }
            }
        }
    }

    fn weight(&self, name: &str) -> Result<&'a ArrayD<f32>, NnError> {
        self.weights.get(name).ok_or_else(|| NnError::Weight {
            name: name.to_string(),
            message: "missing from the weights".into(),
        })
    }

    /// `value` in `layout` (Nhwc or Nchw), adding a `Transpose` if needed.
    fn in_layout(&mut self, value: Value, layout: Layout, at: &str) -> Value {
        if value.layout == layout || value.layout == Layout::Flat {
            return value;
        }
        let (perm, suffix) = match layout {
            Layout::Nchw => ([0, 3, 1, 2], "to_nchw"),
            _ => ([0, 2, 3, 1], "to_nhwc"),
        };
        let name = self.simple(
            "Transpose",
            &format!("{at}/{suffix}"),
            vec![value.name],
            vec![ints_attr("perm", &perm)],
        );
        Value {
            name,
            layout,
            shape: value.shape,
        }
    }

    /// Adds `layers` applied to `value`; `path` prefixes the names of unnamed layers.
    fn layers(
        &mut self,
        layers: &[LayerSpec],
        mut value: Value,
        path: &str,
    ) -> Result<Value, NnError> {
        let mut i = 0;
        while i < layers.len() {
            let layer = &layers[i];
            let base = match layer.name() {
                Some(name) => name.to_string(),
                None => format!("{path}{}_{i}", layer.kind()),
            };
            // A BatchNorm right after this layer, to fold into it.
            let bn_next = match layers.get(i + 1) {
                Some(LayerSpec::BatchNorm { name, eps, .. }) if self.fold => {
                    Some((name.as_str(), *eps))
                }
                _ => None,
            };
            let out_shape = layer.output_shape(value.shape)?;
            let mut consumed = 1;
            value = match layer {
                LayerSpec::Conv2d {
                    name,
                    filters: _,
                    kernel,
                    stride,
                    padding,
                    groups,
                    bias,
                } => {
                    let x = self.in_layout(value, Layout::Nchw, &base);
                    let Shape::Image { height, width, .. } = x.shape else {
                        return Err(spec_err(name, "a convolution needs an image input"));
                    };
                    let pads = conv_pads(name, *padding, [height, width], *kernel, *stride)?;
                    let hwio = self.weight(&format!("{name}.weight"))?;
                    // HWIO -> OIHW.
                    let oihw = hwio.view().permuted_axes(IxDyn(&[3, 2, 0, 1])).to_owned();
                    let (params, folded) = self.kernel_and_bias(
                        name,
                        oihw,
                        0,
                        *bias,
                        bn_next,
                        format!("{name}: HWIO kernel transposed to OIHW"),
                    )?;
                    if folded {
                        consumed = 2;
                    }
                    let mut inputs = vec![x.name];
                    inputs.extend(params);
                    let node = self.simple(
                        "Conv",
                        &base,
                        inputs,
                        vec![
                            ints_attr("kernel_shape", &[kernel[0] as i64, kernel[1] as i64]),
                            ints_attr("strides", &[stride[0] as i64, stride[1] as i64]),
                            ints_attr("pads", &pads),
                            ints_attr("dilations", &[1, 1]),
                            int_attr("group", *groups as i64),
                        ],
                    );
                    Value {
                        name: node,
                        layout: Layout::Nchw,
                        shape: out_shape,
                    }
                }
                LayerSpec::Dense { name, bias, .. } => {
                    if value.layout != Layout::Flat {
                        return Err(spec_err(name, "a dense layer needs flat input"));
                    }
                    let kernel = self.weight(&format!("{name}.weight"))?.clone();
                    let (params, folded) = self.kernel_and_bias(
                        name,
                        kernel,
                        1,
                        *bias,
                        bn_next,
                        format!("{name}: [in, out] kernel, Gemm's B"),
                    )?;
                    if folded {
                        consumed = 2;
                    }
                    let mut inputs = vec![value.name];
                    inputs.extend(params);
                    let node = self.simple("Gemm", &base, inputs, Vec::new());
                    Value {
                        name: node,
                        layout: Layout::Flat,
                        shape: out_shape,
                    }
                }
                LayerSpec::BatchNorm { name, eps, .. } => {
                    let x = self.in_layout(value, Layout::Nchw, &base);
                    let mut inputs = vec![x.name];
                    for role in ["gamma", "beta", "running_mean", "running_var"] {
                        let tensor = format!("{name}.{role}");
                        let data = self.weight(&tensor)?.iter().copied().collect::<Vec<f32>>();
                        let n = data.len();
                        inputs.push(self.initializer(&tensor, &[n], data, name));
                    }
                    self.batch_norm_nodes.push(name.clone());
                    let node = self.simple(
                        "BatchNormalization",
                        &base,
                        inputs,
                        vec![float_attr("epsilon", *eps)],
                    );
                    Value {
                        name: node,
                        layout: x.layout,
                        shape: out_shape,
                    }
                }
                LayerSpec::Relu => {
                    let node = self.simple("Relu", &base, vec![value.name], Vec::new());
                    Value {
                        name: node,
                        ..value
                    }
                }
                LayerSpec::Relu6 => {
                    let (lo, hi) = match &self.relu6_bounds {
                        Some(bounds) => bounds.clone(),
                        None => {
                            let lo =
                                self.initializer("relu6.min", &[], vec![0.0], "ReLU6 lower bound");
                            let hi =
                                self.initializer("relu6.max", &[], vec![6.0], "ReLU6 upper bound");
                            self.relu6_bounds = Some((lo.clone(), hi.clone()));
                            (lo, hi)
                        }
                    };
                    let node =
                        self.simple("Clip", &base, vec![value.name.clone(), lo, hi], Vec::new());
                    Value {
                        name: node,
                        ..value
                    }
                }
                LayerSpec::MaxPool { size, stride } | LayerSpec::AvgPool { size, stride } => {
                    let x = self.in_layout(value, Layout::Nchw, &base);
                    let op = if matches!(layer, LayerSpec::MaxPool { .. }) {
                        "MaxPool"
                    } else {
                        "AveragePool"
                    };
                    let (s, t) = (*size as i64, *stride as i64);
                    let node = self.simple(
                        op,
                        &base,
                        vec![x.name],
                        vec![
                            ints_attr("kernel_shape", &[s, s]),
                            ints_attr("strides", &[t, t]),
                            ints_attr("pads", &[0, 0, 0, 0]),
                        ],
                    );
                    Value {
                        name: node,
                        layout: Layout::Nchw,
                        shape: out_shape,
                    }
                }
                LayerSpec::GlobalAvgPool => {
                    let x = self.in_layout(value, Layout::Nchw, &base);
                    let pooled = self.simple("GlobalAveragePool", &base, vec![x.name], Vec::new());
                    let node = self.simple(
                        "Flatten",
                        &format!("{base}/flatten"),
                        vec![pooled],
                        vec![int_attr("axis", 1)],
                    );
                    Value {
                        name: node,
                        layout: Layout::Flat,
                        shape: out_shape,
                    }
                }
                LayerSpec::Flatten => {
                    if value.layout == Layout::Flat {
                        value
                    } else {
                        let x = self.in_layout(value, Layout::Nhwc, &base);
                        let node =
                            self.simple("Flatten", &base, vec![x.name], vec![int_attr("axis", 1)]);
                        Value {
                            name: node,
                            layout: Layout::Flat,
                            shape: out_shape,
                        }
                    }
                }
                LayerSpec::Dropout { .. } => value,
                LayerSpec::Residual { body, shortcut } => {
                    // Both branches start from the same NCHW tensor, so that neither adds its
                    // own transpose of the block input.
                    let x = self.in_layout(value, Layout::Nchw, &base);
                    let main = self.layers(body, x.clone(), &format!("{base}/body/"))?;
                    let side = self.layers(shortcut, x, &format!("{base}/shortcut/"))?;
                    let side = self.in_layout(side, main.layout, &format!("{base}/shortcut"));
                    let main = self.in_layout(main, side.layout, &format!("{base}/body"));
                    let node = self.simple("Add", &base, vec![main.name, side.name], Vec::new());
                    Value {
                        name: node,
                        layout: main.layout,
                        shape: out_shape,
                    }
                }
            };
            i += consumed;
        }
        Ok(value)
    }

    /// BatchNorm `name` as `y = x * scale + shift` per channel (f64).
    /// The kernel (in ONNX's layout, output channels along `out_axis`) and the bias of the
    /// convolution or dense layer `name` as initializers, with the BatchNorm `bn_next` (name,
    /// eps) folded in when given: the initializer names, and whether a BatchNorm was folded.
    fn kernel_and_bias(
        &mut self,
        name: &str,
        mut kernel: ArrayD<f32>,
        out_axis: usize,
        bias: bool,
        bn_next: Option<(&str, f32)>,
        mut doc: String,
    ) -> Result<(Vec<String>, bool), NnError> {
        let mut b = if bias {
            let values = self.weight(&format!("{name}.bias"))?;
            Some(values.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>())
        } else {
            None
        };
        let folded = bn_next.is_some();
        if let Some((bn, eps)) = bn_next {
            let (scale, shift) = self.bn_affine(bn, eps)?;
            scale_channels(&mut kernel, &scale, out_axis);
            b = Some(fold_bias(b, &scale, &shift));
            doc.push_str(&format!("; BatchNorm `{bn}` folded in"));
            self.folded.push((bn.to_string(), name.to_string()));
        }
        let outputs = kernel.shape()[out_axis];
        let dims = kernel.shape().to_vec();
        let mut names = vec![self.initializer(
            &format!("{name}.weight"),
            &dims,
            kernel.iter().copied().collect(),
            &doc,
        )];
        if let Some(b) = b {
            let data = b.iter().map(|&v| v as f32).collect();
            names.push(self.initializer(&format!("{name}.bias"), &[outputs], data, &doc));
        }
        Ok((names, folded))
    }

    fn bn_affine(&self, name: &str, eps: f32) -> Result<(Vec<f64>, Vec<f64>), NnError> {
        let get = |role: &str| -> Result<Vec<f64>, NnError> {
            Ok(self
                .weight(&format!("{name}.{role}"))?
                .iter()
                .map(|&v| f64::from(v))
                .collect())
        };
        let (gamma, beta, mean, var) = (
            get("gamma")?,
            get("beta")?,
            get("running_mean")?,
            get("running_var")?,
        );
        let scale: Vec<f64> = gamma
            .iter()
            .zip(&var)
            .map(|(g, v)| g / (v + f64::from(eps)).sqrt())
            .collect();
        let shift = beta
            .iter()
            .zip(&mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        Ok((scale, shift))
    }
}

/// Multiplies the slices of `a` along `axis` by `scale` (one factor per index).
fn scale_channels(a: &mut ArrayD<f32>, scale: &[f64], axis: usize) {
    for (mut lane, &s) in a.axis_iter_mut(Axis(axis)).zip(scale) {
        lane.mapv_inplace(|v| (f64::from(v) * s) as f32);
    }
}

/// The bias after folding a BatchNorm `scale`/`shift` into a layer with bias `bias`.
fn fold_bias(bias: Option<Vec<f64>>, scale: &[f64], shift: &[f64]) -> Vec<f64> {
    scale
        .iter()
        .zip(shift)
        .enumerate()
        .map(|(o, (s, t))| bias.as_ref().map_or(0.0, |b| b[o]) * s + t)
        .collect()
}

/// ONNX `pads` `[top, left, bottom, right]` of a convolution, from our padding rule.
fn conv_pads(
    layer: &str,
    padding: Padding,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
) -> Result<[i64; 4], NnError> {
    let axis = |i: usize| {
        padding
            .resolve(input[i], kernel[i], stride[i])
            .ok_or_else(|| {
                spec_err(
                    layer,
                    &format!("kernel {kernel:?} / stride {stride:?} do not fit a {input:?} input"),
                )
            })
    };
    let ((_, top, bottom), (_, left, right)) = (axis(0)?, axis(1)?);
    Ok([top as i64, left as i64, bottom as i64, right as i64])
}

fn spec_err(layer: &str, message: &str) -> NnError {
    NnError::Spec {
        layer: layer.to_string(),
        message: message.to_string(),
    }
}

fn int_attr(name: &str, value: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_string(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i: value,
        ..Default::default()
    }
}

fn ints_attr(name: &str, values: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_string(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: values.to_vec(),
        ..Default::default()
    }
}

fn float_attr(name: &str, value: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_string(),
        r#type: pb::attribute_proto::AttributeType::Float as i32,
        f: value,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng, rngs::StdRng};
    use tract_onnx::prelude::{Framework, InferenceFact, InferenceModelExt, Tensor, tvec};

    /// Random weights for `spec`; BatchNorm statistics far from the identity (mean != 0,
    /// var != 1, gamma != 1, beta != 0) so that a wrong fold shows.
    fn random_weights(spec: &ModelSpec, seed: u64) -> BTreeMap<String, ArrayD<f32>> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut weights = BTreeMap::new();
        for (name, shape) in spec.param_shapes().unwrap() {
            let n: usize = shape.iter().product();
            let (lo, hi) = if name.ends_with("running_var") {
                (0.2, 3.0)
            } else if name.ends_with("gamma") {
                (0.5, 2.0)
            } else if name.ends_with("weight") {
                let fan_in = n / shape.last().unwrap();
                let r = (3.0 / fan_in as f32).sqrt();
                (-r, r)
            } else {
                (-1.0, 1.0)
            };
            let data = (0..n).map(|_| rng.random_range(lo..hi)).collect();
            weights.insert(name, ArrayD::from_shape_vec(shape, data).unwrap());
        }
        weights
    }

    /// Runs the ONNX bytes with tract on NHWC `x` (shape `[n, h, w, c]`).
    fn run_tract(bytes: &[u8], x: &[f32], shape: [usize; 4]) -> (Vec<f32>, Vec<usize>) {
        let model = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .unwrap()
            .with_input_fact(0, InferenceFact::dt_shape(f32::datum_type(), shape))
            .unwrap()
            .into_optimized()
            .unwrap()
            .into_runnable()
            .unwrap();
        let input = Tensor::from_shape::<f32>(&shape, x).unwrap();
        let out = model.run(tvec!(input.into())).unwrap();
        (
            out[0].as_slice::<f32>().unwrap().to_vec(),
            out[0].shape().to_vec(),
        )
    }

    fn graph(e: &Exported) -> &pb::GraphProto {
        e.model.graph.as_ref().unwrap()
    }

    fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> &'a pb::AttributeProto {
        node.attribute.iter().find(|a| a.name == name).unwrap()
    }

    fn conv_model(input: [usize; 3], layers: Vec<LayerSpec>, classes: usize) -> ModelSpec {
        ModelSpec {
            name: "t".into(),
            input,
            num_classes: classes,
            layers,
        }
    }

    use tract_onnx::prelude::Datum;

    #[test]
    fn pads_follow_tensorflow_same_with_the_extra_pixel_at_the_end() {
        // TF SAME: out = ceil(in / s), total = max((out - 1) * s + k - in, 0), before =
        // total / 2. 7 -> 4 with k3 s2: total 2, (1, 1); 8 -> 4: total 1, (0, 1);
        // 9 with k4 s1: total 3, (1, 2); 5 with k1 s2: none.
        assert_eq!(
            conv_pads("c", Padding::Same, [7, 8], [3, 3], [2, 2]).unwrap(),
            [1, 0, 1, 1]
        );
        assert_eq!(
            conv_pads("c", Padding::Same, [9, 5], [4, 1], [1, 2]).unwrap(),
            [1, 0, 2, 0]
        );
        assert_eq!(
            conv_pads("c", Padding::Valid, [9, 9], [3, 3], [2, 2]).unwrap(),
            [0; 4]
        );
        let spec = conv_model(
            [7, 8, 2],
            vec![
                LayerSpec::conv("c", 3, 3, 2, Padding::Same),
                LayerSpec::Flatten,
                LayerSpec::dense("fc", 2),
            ],
            2,
        );
        let e = build(&spec, &random_weights(&spec, 1), &ExportOptions::default()).unwrap();
        let conv = graph(&e).node.iter().find(|n| n.op_type == "Conv").unwrap();
        assert_eq!(attr(conv, "pads").ints, [1, 0, 1, 1]);
        assert!(conv.attribute.iter().all(|a| a.name != "auto_pad"));
    }

    /// Direct NHWC convolution from the definitions (f64), TF SAME/VALID padding, HWIO kernel.
    fn naive_conv(
        x: &[f32],
        [n, h, w, c]: [usize; 4],
        k: &ArrayD<f32>,
        stride: usize,
        padding: Padding,
        groups: usize,
    ) -> (Vec<f64>, [usize; 4]) {
        let (kh, kw, cin_g, f) = (k.shape()[0], k.shape()[1], k.shape()[2], k.shape()[3]);
        let (oh, top) = match padding {
            Padding::Same => {
                let o = h.div_ceil(stride);
                (o, ((o - 1) * stride + kh).saturating_sub(h) / 2)
            }
            Padding::Valid => ((h - kh) / stride + 1, 0),
        };
        let (ow, left) = match padding {
            Padding::Same => {
                let o = w.div_ceil(stride);
                (o, ((o - 1) * stride + kw).saturating_sub(w) / 2)
            }
            Padding::Valid => ((w - kw) / stride + 1, 0),
        };
        let f_g = f / groups;
        let mut out = vec![0.0; n * oh * ow * f];
        for b in 0..n {
            for y in 0..oh {
                for xo in 0..ow {
                    for o in 0..f {
                        let g = o / f_g;
                        let mut s = 0.0f64;
                        for i in 0..kh {
                            for j in 0..kw {
                                let (iy, ix) = (
                                    (y * stride + i) as isize - top as isize,
                                    (xo * stride + j) as isize - left as isize,
                                );
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                for ci in 0..cin_g {
                                    let xv = x[((b * h + iy as usize) * w + ix as usize) * c
                                        + g * cin_g
                                        + ci];
                                    s += f64::from(xv) * f64::from(k[[i, j, ci, o]]);
                                }
                            }
                        }
                        out[((b * oh + y) * ow + xo) * f + o] = s;
                    }
                }
            }
        }
        (out, [n, oh, ow, f])
    }

    #[test]
    fn tract_runs_convolutions_as_the_definition_says() {
        // Each case: input [h, w, c], filters, kernel, stride, padding, groups.
        let cases = [
            ([7, 9, 3], 4, 3, 2, Padding::Same, 1),
            ([8, 8, 4], 4, 3, 1, Padding::Same, 4),
            ([6, 5, 2], 6, 3, 2, Padding::Same, 2),
            ([9, 9, 3], 5, 4, 1, Padding::Same, 1),
            ([9, 7, 2], 3, 3, 2, Padding::Valid, 1),
        ];
        let mut rng = StdRng::seed_from_u64(7);
        for (input, filters, kernel, stride, padding, groups) in cases {
            let layer = LayerSpec::Conv2d {
                name: "c".into(),
                filters,
                kernel: [kernel, kernel],
                stride: [stride, stride],
                padding,
                groups,
                bias: false,
            };
            let out = layer
                .output_shape(Shape::Image {
                    height: input[0],
                    width: input[1],
                    channels: input[2],
                })
                .unwrap();
            // Flatten + a dense identity-like layer keep the conv output visible in NHWC order.
            let spec = conv_model(
                input,
                vec![
                    layer,
                    LayerSpec::Flatten,
                    LayerSpec::Dense {
                        name: "fc".into(),
                        units: out.len(),
                        bias: false,
                    },
                ],
                out.len(),
            );
            let mut weights = random_weights(&spec, 3);
            let eye = ArrayD::from_shape_fn(vec![out.len(), out.len()], |ix| {
                if ix[0] == ix[1] { 1.0 } else { 0.0 }
            });
            weights.insert("fc.weight".into(), eye);
            let shape = [2, input[0], input[1], input[2]];
            let x: Vec<f32> = (0..shape.iter().product())
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            let bytes = to_bytes(&spec, &weights, &ExportOptions::default()).unwrap();
            let (got, got_shape) = run_tract(&bytes, &x, shape);
            let (want, _) = naive_conv(&x, shape, &weights["c.weight"], stride, padding, groups);
            assert_eq!(got_shape, [2, out.len()]);
            let max_abs = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (f64::from(*g) - w).abs() <= 1e-5 * max_abs.max(1.0),
                    "{input:?} {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn folded_and_unfolded_batch_norm_agree_in_tract() {
        let spec = conv_model(
            [9, 9, 3],
            vec![
                LayerSpec::conv("c1", 8, 3, 2, Padding::Same),
                LayerSpec::batch_norm("bn1"),
                LayerSpec::Relu6,
                LayerSpec::Residual {
                    body: vec![
                        LayerSpec::depthwise("dw", 8, 3, 1, Padding::Same),
                        LayerSpec::batch_norm("bn2"),
                        LayerSpec::Relu,
                    ],
                    shortcut: vec![],
                },
                LayerSpec::batch_norm("bn3"),
                LayerSpec::AvgPool { size: 2, stride: 2 },
                LayerSpec::Flatten,
                LayerSpec::Dense {
                    name: "fc".into(),
                    units: 5,
                    bias: false,
                },
                LayerSpec::batch_norm("bn4"),
            ],
            5,
        );
        let weights = random_weights(&spec, 11);
        let folded = build(&spec, &weights, &ExportOptions::default()).unwrap();
        let kept = build(
            &spec,
            &weights,
            &ExportOptions {
                fold_batch_norm: false,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            folded.report.folded,
            [
                ("bn1".into(), "c1".into()),
                ("bn2".into(), "dw".into()),
                ("bn4".into(), "fc".into())
            ]
        );
        // bn3 follows a residual block: nothing to fold it into.
        assert_eq!(folded.report.batch_norm_nodes, ["bn3"]);
        assert_eq!(kept.report.batch_norm_nodes, ["bn1", "bn2", "bn3", "bn4"]);
        let mut rng = StdRng::seed_from_u64(5);
        let shape = [3, 9, 9, 3];
        let x: Vec<f32> = (0..shape.iter().product())
            .map(|_| rng.random_range(-2.0..2.0))
            .collect();
        let (a, sa) = run_tract(&folded.to_bytes(), &x, shape);
        let (b, sb) = run_tract(&kept.to_bytes(), &x, shape);
        assert_eq!((sa, sb), (vec![3, 5], vec![3, 5]));
        let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.1);
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() <= 1e-4 * scale, "{p} vs {q}");
        }
    }

    #[test]
    fn graph_layout_names_and_metadata() {
        let spec = conv_model(
            [8, 8, 3],
            vec![
                LayerSpec::conv("conv1", 4, 3, 1, Padding::Same),
                LayerSpec::Relu,
                LayerSpec::MaxPool { size: 2, stride: 2 },
                LayerSpec::Dropout { rate: 0.5 },
                LayerSpec::Flatten,
                LayerSpec::dense("fc", 3),
            ],
            3,
        );
        let mut options = ExportOptions {
            softmax: true,
            ..Default::default()
        };
        options.metadata.insert("classes".into(), "a,b,c".into());
        let e = build(&spec, &spec_weights(&spec), &options).unwrap();
        let g = graph(&e);
        let ops: Vec<(&str, &str)> = g
            .node
            .iter()
            .map(|n| (n.op_type.as_str(), n.name.as_str()))
            .collect();
        assert_eq!(
            ops,
            [
                ("Transpose", "conv1/to_nchw"),
                ("Conv", "conv1"),
                ("Relu", "relu_1"),
                ("MaxPool", "max_pool_2"),
                ("Transpose", "flatten_4/to_nhwc"),
                ("Flatten", "flatten_4"),
                ("Gemm", "fc"),
                ("Softmax", "probabilities"),
            ]
        );
        assert_eq!(g.node[6].output, ["logits"]);
        assert_eq!(g.node[7].input, ["logits"]);
        assert_eq!(e.report.outputs, ["logits", "probabilities"]);
        let inits: Vec<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(inits, ["conv1.weight", "fc.weight", "fc.bias"]);
        // OIHW kernel, Gemm B as [in, out].
        assert_eq!(g.initializer[0].dims, [4, 3, 3, 3]);
        assert_eq!(g.initializer[1].dims, [64, 3]);
        assert_eq!(e.report.parameters, 4 * 27 + 64 * 3 + 3);
        let meta: BTreeMap<&str, &str> = e
            .model
            .metadata_props
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str()))
            .collect();
        let back: ModelSpec = serde_json::from_str(meta[META_ARCHITECTURE]).unwrap();
        assert_eq!(back, spec);
        assert_eq!(meta[META_NUM_CLASSES], "3");
        assert_eq!(meta["classes"], "a,b,c");
        assert_eq!(e.model.producer_name, "kfp-rs");
        assert_eq!(e.model.opset_import[0].version, 13);
        let input = &g.input[0];
        let Some(pb::type_proto::Value::TensorType(t)) = &input.r#type.as_ref().unwrap().value
        else {
            panic!("input type")
        };
        let dims: Vec<_> = t
            .shape
            .as_ref()
            .unwrap()
            .dim
            .iter()
            .map(|d| d.value.clone().unwrap())
            .collect();
        use pb::tensor_shape_proto::dimension::Value::{DimParam, DimValue};
        assert_eq!(
            dims,
            [
                DimParam("batch".into()),
                DimValue(8),
                DimValue(8),
                DimValue(3)
            ]
        );
        // A reserved metadata key is refused.
        options
            .metadata
            .insert("kfp_rs.num_classes".into(), "7".into());
        let err = build(&spec, &spec_weights(&spec), &options)
            .unwrap_err()
            .to_string();
        assert!(err.contains("kfp_rs.num_classes"), "{err}");
    }

    fn spec_weights(spec: &ModelSpec) -> BTreeMap<String, ArrayD<f32>> {
        random_weights(spec, 2)
    }

    #[test]
    fn weight_errors_name_the_tensor() {
        let spec = conv_model(
            [6, 6, 2],
            vec![
                LayerSpec::conv("conv1", 4, 3, 1, Padding::Same),
                LayerSpec::batch_norm("bn1"),
                LayerSpec::GlobalAvgPool,
                LayerSpec::dense("fc", 3),
            ],
            3,
        );
        let good = random_weights(&spec, 4);
        let opts = ExportOptions::default();
        let err =
            |w: &BTreeMap<String, ArrayD<f32>>| build(&spec, w, &opts).unwrap_err().to_string();

        let mut w = good.clone();
        w.remove("bn1.running_mean");
        let e = err(&w);
        assert!(
            e.contains("`bn1.running_mean`") && e.contains("missing"),
            "{e}"
        );

        let mut w = good.clone();
        w.insert("fc.weight".into(), ArrayD::zeros(vec![3, 4]));
        let e = err(&w);
        assert!(e.contains("`fc.weight`") && e.contains("[4, 3]"), "{e}");

        let mut w = good.clone();
        w.insert("conv2.weight".into(), ArrayD::zeros(vec![1]));
        let e = err(&w);
        assert!(
            e.contains("`conv2.weight`") && e.contains("no such tensor"),
            "{e}"
        );

        let mut w = good.clone();
        w.get_mut("conv1.weight").unwrap()[[0, 1, 1, 2]] = f32::NAN;
        let e = err(&w);
        assert!(
            e.contains("`conv1.weight`") && e.contains("non-finite"),
            "{e}"
        );

        let mut w = good.clone();
        w.get_mut("bn1.running_var").unwrap()[[1]] = -0.5;
        let e = err(&w);
        assert!(
            e.contains("`bn1.running_var`") && e.contains("negative"),
            "{e}"
        );

        let mut bad = spec.clone();
        bad.num_classes = 4;
        assert!(
            build(&bad, &good, &opts)
                .unwrap_err()
                .to_string()
                .contains("4 logits")
        );
    }

    #[test]
    fn export_writes_atomically_and_replaces_the_file() {
        let spec = conv_model(
            [4, 4, 1],
            vec![LayerSpec::Flatten, LayerSpec::dense("fc", 2)],
            2,
        );
        let weights = random_weights(&spec, 9);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.onnx");
        std::fs::write(&path, b"old").unwrap();
        let report = export(&spec, &weights, &path, &ExportOptions::default()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            bytes,
            to_bytes(&spec, &weights, &ExportOptions::default()).unwrap()
        );
        assert_eq!(report.bytes, bytes.len());
        assert_eq!(report.path.as_deref(), Some(path.as_path()));
        let decoded = pb::ModelProto::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded.graph.unwrap().node.len(), report.nodes);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["model.onnx"]);
        // A folder that does not exist: an I/O error naming the file, nothing written.
        let missing = dir.path().join("no/such/model.onnx");
        let e = export(&spec, &weights, &missing, &ExportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no/such/model.onnx"), "{e}");
    }
}
