//! Write Kubeflow Pipelines / Argo Workflows pipelines in Rust.
//!
//! You write ordinary functions, mark them [`#[component]`](macro@component), and wire them
//! in a [`#[pipeline]`](macro@pipeline) function. You get:
//!
//! - wiring that rustc checks: a `Model` where a `Dataset` is expected, an `f64` where a
//!   `String` is expected, or a missing input does not compile;
//! - Argo Workflow YAML ([`argo`]): one container template per component, one DAG template
//!   per pipeline, parameters and artifacts passed through Argo;
//! - one binary ([`main!`]) that compiles its pipelines and, inside each step's container,
//!   runs one component (`BINARY component-exec NAME ...`, see [`executor`]).
//!
//! # A first pipeline
//!
//! A component is a function. Parameters (strings, numbers, booleans, lists, serde structs)
//! are plain arguments; artifacts are [`Input<K>`] and [`Output<K>`], which give the
//! function a local path, a name, a URI and metadata. The function stays an ordinary
//! function, so a unit test calls it directly.
//!
//! ```
//! use kfp_sdk::prelude::*;
//!
//! /// Writes `n` numbers, one per line.
//! #[component]
//! fn count_to(n: u32, numbers: Output<Dataset>) -> std::io::Result<()> {
//!     let text: String = (1..=n).map(|i| format!("{i}\n")).collect();
//!     std::fs::write(numbers.path(), text)?;
//!     numbers.set_metadata("rows", n);
//!     Ok(())
//! }
//!
//! /// Named outputs: one per field, like kfp's NamedTuple outputs.
//! #[derive(ComponentOutputs)]
//! struct Stats {
//!     sum: u64,
//!     mean: f64,
//! }
//!
//! /// Sums the numbers of a dataset.
//! #[component(memory_limit = "256Mi", retries = 2)]
//! fn stats(numbers: Input<Dataset>) -> Result<Stats, String> {
//!     let text = std::fs::read_to_string(numbers.path()).map_err(|e| e.to_string())?;
//!     let values: Vec<u64> = text.lines().map(|l| l.parse().map_err(|_| format!("bad line {l:?}"))).collect::<Result<_, _>>()?;
//!     let sum: u64 = values.iter().sum();
//!     Ok(Stats { sum, mean: sum as f64 / values.len().max(1) as f64 })
//! }
//!
//! /// Counts to `n`, then sums.
//! #[pipeline]
//! fn sum_numbers(#[default(10)] n: u32) -> ParamRef<u64> {
//!     let numbers = count_to::task(n);
//!     let stats = stats::task(&numbers.outputs.numbers).display_name("Statistics");
//!     stats.outputs.sum.clone()
//! }
//!
//! fn main() {
//!     // The functions are still plain Rust.
//!     let dir = std::env::temp_dir().join(format!("kfp-doc-{}", std::process::id()));
//!     std::fs::create_dir_all(&dir).unwrap();
//!     count_to(4, Output::new("numbers", dir.join("numbers.txt"))).unwrap();
//!     let stats_of_four = stats(Input::new("numbers", dir.join("numbers.txt"))).unwrap();
//!     assert_eq!(stats_of_four.sum, 10);
//!
//!     // The pipeline is a validated, backend-neutral graph...
//!     let graph = sum_numbers::graph().unwrap();
//!     assert_eq!(graph.tasks[1].name, "stats");
//!
//!     // ...that the Argo compiler turns into a Workflow.
//!     let options = kfp_sdk::argo::ArgoOptions::new("registry.example.com/sums:1", "/usr/local/bin/sums");
//!     let workflow = kfp_sdk::argo::compile(&graph, &options).unwrap();
//!     let yaml = kfp_sdk::argo::to_yaml(&workflow).unwrap();
//!     assert!(yaml.contains("from: \"{{tasks.count-to.outputs.artifacts.numbers}}\""));
//! #   std::fs::remove_dir_all(dir).ok();
//! }
//! ```
//!
//! In a binary, `kfp_sdk::main!();` adds the command line:
//! `cargo run -- compile -o sum.yaml --image registry.example.com/sums:1` writes the
//! workflow, and `argo submit sum.yaml -p n=100` runs it on a cluster whose image holds the
//! binary.
//!
//! # Tasks
//!
//! `#[component] fn stats(..)` keeps the function and adds a module `stats` with
//! `stats::task(..)`, which adds a task to the pipeline being built and takes one typed
//! argument per input: a constant (`3`, `"text"`), a pipeline parameter, or another task's
//! output handle. [`TaskRef`] methods configure the task: `.retries(n)`,
//! `.cpu_request("2")`, `.memory_limit("4Gi")`, `.gpus(1)`, `.env("K", "v")`,
//! `.caching(false)`, `.display_name(..)`, `.after(&other)`, `.name(..)`. Kubernetes
//! settings (Secrets as environment variables, volumes, node selectors, tolerations,
//! affinity, pod metadata, service account, memoization) are methods too; see
//! [`kubernetes`]. A `#[pipeline]` also has `pipeline::task(..)`, so a whole pipeline can be
//! one step of another.
//!
//! # Without macros
//!
//! The macros only generate calls to this crate's plain API: [`ComponentSpec`] describes a
//! component, [`dsl::PipelineBuilder`] and [`dsl::TaskBuilder`] build the
//! [`PipelineGraph`], [`validate`] checks it, and [`argo::compile`] emits it. See the
//! [`dsl`] module for the same kind of pipeline written by hand.
//!
//! # Layout
//!
//! [`ir`] is the backend-neutral graph (components, settings, control flow, validation);
//! [`dsl`] builds it with typed handles; [`runtime`] is what runs in a step (executor,
//! registry, file layout); [`argo`] and [`local`] are the two backends; [`cli`] is the
//! command line on top. `docs/architecture.md` draws the layers.
#![warn(missing_docs)]

extern crate self as kfp_sdk;

pub mod argo;
pub mod cli;
pub mod dsl;
pub mod ir;
pub mod local;
pub mod runtime;
#[cfg(test)]
mod test_fixtures;

// The modules of the graph, at the paths they have always had.
pub use ir::{component, config, control, graph, kubernetes, names, param};
// The run-time modules, at the paths they have always had.
pub use runtime::{outputs, registry};

/// Artifacts: their kinds ([`ir::artifact`]) and the run-time [`Input`] and [`Output`]
/// ([`runtime::artifacts`]), at the path they have always had.
pub mod artifact {
    pub use crate::ir::artifact::*;
    pub use crate::runtime::artifacts::*;
}

/// Running one component inside its container: [`runtime::executor`] (and
/// [`run_component`](runtime::registry::run_component)), at the path it has always had.
pub mod executor {
    pub use crate::runtime::executor::*;
    pub use crate::runtime::registry::run_component;
}

/// Validation of a pipeline graph: the backend-neutral rules ([`ir::validate`]) and Argo's
/// name limit ([`argo::validate`]), at the path they have always had.
pub mod validate {
    pub use crate::argo::validate::MAX_PIPELINE_NAME;
    pub use crate::ir::validate::*;
}

pub use artifact::{
    Artifact, ArtifactKind, ClassificationMetrics, Dataset, Html, Input, Markdown, Metadata,
    Metrics, Model, Output,
};
pub use component::{ComponentSpec, InputSpec, IoType, OutputSpec};
pub use config::{Resources, RetryPolicy, TaskConfig};
#[allow(deprecated)]
pub use dsl::Task;
pub use dsl::{ArtifactRef, ParamRef, TaskRef};
pub use graph::PipelineGraph;
pub use outputs::ComponentReturn;
pub use param::{ParamType, ParamValue};

/// Turns a function into a pipeline component.
///
/// The function keeps its signature and body. Each parameter is an input: a parameter value
/// (any [`ParamValue`]: `String`, `bool`, integers, `f32`/`f64`, `Vec<T>`, serde structs) or
/// an artifact ([`Input<K>`]); an [`Output<K>`] parameter is an artifact the function writes.
/// The return value is the parameter outputs: nothing, one value (named `output`), or a
/// struct deriving [`ComponentOutputs`]; any of them may be wrapped in a `Result` whose error
/// (anything `Display`) fails the step with its message.
///
/// A module of the same name is added beside the function: `name::task(..)` adds a task to
/// the pipeline being built, `name::spec()` returns the [`ComponentSpec`], and the component
/// registers itself so that `BINARY component-exec name` runs it in a container.
///
/// Arguments, all optional:
///
/// | key | meaning |
/// | --- | --- |
/// | `name = "..."` | the component's name (default: the function's) |
/// | `description = "..."` | default: the doc comment |
/// | `image = "..."` | the image to run in (default: the pipeline binary's image) |
/// | `cpu_request`, `cpu_limit`, `memory_request`, `memory_limit` `= "..."` | Kubernetes quantities |
/// | `gpus = N`, `accelerator = "nvidia.com/gpu"` | accelerators |
/// | `retries = N` | retry a failed task up to N times |
/// | `timeout_seconds = N` | kill a try that runs longer (it then fails, and may be retried) |
/// | `env(KEY = "value", ...)` | environment variables |
/// | `cache = false` | never reuse earlier results |
/// | `crate = "path"` | where `kfp_sdk` is, if renamed |
///
/// ```
/// use kfp_sdk::prelude::*;
///
/// /// Trains for a while.
/// #[component(cpu_request = "2", memory_limit = "4Gi", retries = 1, env(RUST_LOG = "info"))]
/// fn train(data: Input<Dataset>, model: Output<Model>, epochs: u32) -> Result<f64, std::io::Error> {
///     std::fs::write(model.path(), std::fs::read(data.path())?)?;
///     Ok(0.9 + f64::from(epochs) * 0.0)
/// }
///
/// fn main() {
///     let spec = train::spec();
///     assert_eq!(spec.inputs.len(), 2);
///     assert_eq!(spec.outputs[0].name, "model");
///     assert_eq!(spec.outputs[1].name, "output");
///     assert_eq!(spec.config.resources.memory_limit.as_deref(), Some("4Gi"));
///     assert_eq!(spec.description.as_deref(), Some("Trains for a while."));
/// }
/// ```
pub use kfp_macros::component;

/// Turns a function into a pipeline.
///
/// Each parameter becomes a pipeline parameter (`#[default(value)]` gives it a default) and,
/// inside the body, a typed handle ([`ParamRef<T>`], or [`ArtifactRef<K>`] for an
/// `Input<K>` parameter of a pipeline used as a step). The body wires tasks; it returns
/// `()`, or one handle, which becomes the pipeline's output `output`.
///
/// A module of the same name is added: `name::graph()` builds and validates the
/// [`PipelineGraph`], `name::task(..)` uses the pipeline as one step of another, and
/// `name::NAME` is its name (default: the function's name in kebab-case). The pipeline
/// registers itself for the binary's `compile` command.
///
/// Arguments: `name = "..."` (a DNS label), `description = "..."` (default: the doc
/// comment), `crate = "path"`.
///
/// ```
/// use kfp_sdk::prelude::*;
///
/// #[component]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// /// Quadruples a number in two steps.
/// #[pipeline(name = "quadruple")]
/// fn quadruple(#[default(3)] x: i64) -> ParamRef<i64> {
///     let once = double::task(x);
///     double::task(&once.outputs.output).outputs.output.clone()
/// }
///
/// /// Uses the pipeline above as one step.
/// #[pipeline]
/// fn outer(x: i64) -> ParamRef<i64> {
///     quadruple::task(x).outputs.output.clone()
/// }
///
/// fn main() {
///     let graph = outer::graph().unwrap();
///     assert_eq!(graph.tasks[0].name, "quadruple");
///     assert_eq!(quadruple::graph().unwrap().inputs[0].default, Some(3.into()));
/// }
/// ```
pub use kfp_macros::pipeline;

/// Derives [`ComponentReturn`] for a struct of named outputs: each field is one parameter
/// output of the component returning it, and a task's `outputs.field` is its handle.
///
/// ```
/// use kfp_sdk::prelude::*;
///
/// #[derive(ComponentOutputs)]
/// struct Evaluation {
///     accuracy: f64,
///     classes: Vec<String>,
/// }
///
/// #[component]
/// fn evaluate(model: Input<Model>) -> Evaluation {
///     Evaluation { accuracy: 0.5, classes: vec![model.name().to_owned()] }
/// }
///
/// #[component]
/// fn report(accuracy: f64) {}
///
/// /// Used as a step of a bigger pipeline, which passes the model in.
/// #[pipeline]
/// fn check(model: Input<Model>) {
///     let evaluation = evaluate::task(model);
///     report::task(&evaluation.outputs.accuracy);
/// }
///
/// fn main() {
///     assert_eq!(check::graph().unwrap().tasks.len(), 2);
///     let names: Vec<_> = evaluate::spec().outputs.iter().map(|o| o.name.clone()).collect();
///     assert_eq!(names, ["accuracy", "classes"]);
/// }
/// ```
pub use kfp_macros::ComponentOutputs;

/// Everything a pipeline author needs: `use kfp_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::artifact::{
        Artifact, ArtifactKind, ClassificationMetrics, Dataset, Html, Input, Markdown, Metrics,
        Model, Output,
    };
    #[allow(deprecated)]
    pub use crate::dsl::Task;
    pub use crate::dsl::{ArtifactRef, ParamRef, TaskRef};
    pub use crate::outputs::ComponentReturn;
    pub use crate::param::ParamValue;
    pub use kfp_macros::{ComponentOutputs, component, pipeline};
}

/// Used by the code `#[component]` and `#[pipeline]` generate; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
    pub use serde_json;
}
