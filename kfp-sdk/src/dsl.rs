//! Building a pipeline graph with typed handles: the API `#[pipeline]` expands to.
//!
//! A [`PipelineBuilder`] declares the pipeline's inputs and, inside [`PipelineBuilder::build`],
//! collects every task added by [`TaskBuilder::add`] (which is what the generated
//! `component::task(..)` functions call). Values are typed handles: a [`ParamRef<T>`] is a
//! parameter of Rust type `T`, an [`ArtifactRef<K>`] an artifact of kind `K`. A component
//! input accepts only a handle of its own type, so rustc checks the wiring.
//!
//! The same pipeline by hand, without macros:
//!
//! ```
//! use std::sync::Arc;
//! use kfp_sdk::dsl::{ParamRef, PipelineBuilder, TaskBuilder};
//! use kfp_sdk::{ComponentSpec, IoType, ParamType};
//!
//! let add = Arc::new(
//!     ComponentSpec::new("add")
//!         .input("x", IoType::Parameter(ParamType::Double))
//!         .input("y", IoType::Parameter(ParamType::Double))
//!         .output("sum", IoType::Parameter(ParamType::Double)),
//! );
//! let builder = PipelineBuilder::new("sum-three");
//! let a: ParamRef<f64> = builder.input_with_default("a", 1.0);
//! let graph = builder
//!     .build(|| {
//!         let first = TaskBuilder::new(add.clone()).param("x", a.clone()).param("y", 2.0).add();
//!         let sum: ParamRef<f64> = first.output("sum");
//!         let second = TaskBuilder::new(add.clone()).param("x", sum).param("y", a).add();
//!         second.output::<ParamRef<f64>>("sum")
//!     })
//!     .unwrap();
//! assert_eq!(graph.tasks[1].name, "add-2");
//! assert_eq!(graph.outputs[0].spec.name, "output");
//! ```
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::artifact::ArtifactKind;
use crate::component::{ComponentSpec, InputSpec, IoType, OutputSpec};
use crate::config::{RetryPolicy, TaskConfig};
use crate::graph::{Executable, PipelineGraph, PipelineOutput, Task as GraphTask, ValueSource};
use crate::names;
use crate::param::{ParamType, ParamValue};
use crate::validate::{ValidationErrors, validate};

mod flow;
pub use flow::{
    Branch, Collect, Comparable, Cond, ConditionOperand, IntoLoopItems, LoopReturn, ParallelFor,
    on_exit, parallel_for, when, workflow_status,
};

/// Why a pipeline could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Values were wired in a way the graph cannot express.
    #[error("pipeline '{pipeline}' is wired wrongly:\n  - {}", messages.join("\n  - "))]
    Wiring {
        /// The pipeline.
        pipeline: String,
        /// One message per problem.
        messages: Vec<String>,
    },
    /// The graph breaks a rule (names, missing inputs, cycles, ...).
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
}

/// Where a handle's value comes from, before task names are final.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    Constant(serde_json::Value),
    /// The item of the loop a group task repeats over.
    LoopItem,
    /// The status of the whole run.
    WorkflowStatus,
    PipelineInput {
        builder: u64,
        name: String,
    },
    TaskOutput {
        builder: u64,
        task: usize,
        output: String,
    },
    Invalid(String),
}

/// A parameter value of Rust type `T` inside a pipeline: a constant, a pipeline input or a
/// task output.
pub struct ParamRef<T> {
    source: Source,
    ty: PhantomData<fn() -> T>,
}

impl<T> Clone for ParamRef<T> {
    fn clone(&self) -> Self {
        ParamRef {
            source: self.source.clone(),
            ty: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for ParamRef<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ParamRef").field(&self.source).finish()
    }
}

impl<T: ParamValue> ParamRef<T> {
    /// A constant.
    pub fn constant(value: &T) -> Self {
        let source = match value.to_json() {
            Ok(json) if !(json.is_null() && T::TYPE == ParamType::Double) => Source::Constant(json),
            Ok(_) => {
                Source::Invalid("a float constant must be finite (JSON has no NaN or inf)".into())
            }
            Err(e) => Source::Invalid(format!("a constant could not be encoded: {e}")),
        };
        ParamRef {
            source,
            ty: PhantomData,
        }
    }
}

/// An artifact of kind `K` inside a pipeline: a pipeline input or a task output.
pub struct ArtifactRef<K> {
    source: Source,
    kind: PhantomData<fn() -> K>,
}

impl<K> Clone for ArtifactRef<K> {
    fn clone(&self) -> Self {
        ArtifactRef {
            source: self.source.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for ArtifactRef<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ArtifactRef").field(&self.source).finish()
    }
}

/// Values that can feed a parameter input of type `T`: a `ParamRef<T>`, a `T`, or a `&str`
/// for `String` inputs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot feed a parameter input of type `{T}`",
    label = "expected a `ParamRef<{T}>` or a `{T}` value here",
    note = "task inputs are type-checked: wire an output or pipeline parameter of type `{T}`, or pass a constant"
)]
pub trait IntoParamRef<T> {
    /// The handle.
    fn into_param_ref(self) -> ParamRef<T>;
}

impl<T> IntoParamRef<T> for ParamRef<T> {
    fn into_param_ref(self) -> ParamRef<T> {
        self
    }
}

impl<T> IntoParamRef<T> for &ParamRef<T> {
    fn into_param_ref(self) -> ParamRef<T> {
        self.clone()
    }
}

impl<T: ParamValue> IntoParamRef<T> for T {
    fn into_param_ref(self) -> ParamRef<T> {
        ParamRef::constant(&self)
    }
}

impl IntoParamRef<String> for &str {
    fn into_param_ref(self) -> ParamRef<String> {
        ParamRef::constant(&self.to_owned())
    }
}

/// Values that can feed an artifact input of kind `K`: an `ArtifactRef<K>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot feed an artifact input of kind `{K}`",
    label = "expected an `ArtifactRef<{K}>` here",
    note = "artifact inputs are type-checked: wire an output of the same artifact kind"
)]
pub trait IntoArtifactRef<K> {
    /// The handle.
    fn into_artifact_ref(self) -> ArtifactRef<K>;
}

impl<K> IntoArtifactRef<K> for ArtifactRef<K> {
    fn into_artifact_ref(self) -> ArtifactRef<K> {
        self
    }
}

impl<K> IntoArtifactRef<K> for &ArtifactRef<K> {
    fn into_artifact_ref(self) -> ArtifactRef<K> {
        self.clone()
    }
}

/// Values that can feed a list-of-artifacts input of kind `K` (a component's
/// `Vec<Input<K>>`): the collected output of a loop whose body returns an `ArtifactRef<K>`
/// (an `ArtifactRef<Vec<K>>`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot feed a list of artifacts of kind `{K}`",
    label = "expected an `ArtifactRef<Vec<{K}>>` here: the collected output of a loop",
    note = "a `Vec<Input<{K}>>` input takes every iteration's artifact: return an `ArtifactRef<{K}>` \
            from a `parallel_for(..).each(..)` body and pass what the loop returns"
)]
pub trait IntoArtifactList<K> {
    /// The handle.
    fn into_artifact_list(self) -> ArtifactRef<Vec<K>>;
}

impl<K> IntoArtifactList<K> for ArtifactRef<Vec<K>> {
    fn into_artifact_list(self) -> ArtifactRef<Vec<K>> {
        self
    }
}

impl<K> IntoArtifactList<K> for &ArtifactRef<Vec<K>> {
    fn into_artifact_list(self) -> ArtifactRef<Vec<K>> {
        self.clone()
    }
}

static NEXT_BUILDER_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct TaskState {
    explicit_name: Option<String>,
    executable: Executable,
    arguments: Vec<(String, Source)>,
    after: Vec<(u64, usize)>,
    config: TaskConfig,
    when: Option<flow::CondNode>,
    repeat: Option<flow::RepeatSpec>,
}

pub(crate) struct State {
    id: u64,
    name: String,
    description: Option<String>,
    inputs: Vec<InputSpec>,
    tasks: Vec<TaskState>,
    errors: Vec<String>,
    /// The pipeline this group belongs to (groups: conditions, loops, exit handlers).
    parent: Option<Rc<RefCell<State>>>,
    exit_handler: Option<TaskState>,
    /// Settings for every task of this pipeline, under the component's and the task's own.
    defaults: TaskConfig,
}

/// A value a group reads from an enclosing pipeline: it becomes an input of the group.
pub(crate) struct Capture {
    name: String,
    source: Source,
    ty: IoType,
}

thread_local! {
    static SCOPES: RefCell<Vec<Rc<RefCell<State>>>> = const { RefCell::new(Vec::new()) };
}

fn current_scope() -> Option<Rc<RefCell<State>>> {
    SCOPES.with(|s| s.borrow().last().cloned())
}

/// Sets defaults for every task of the pipeline being built (and of the groups and nested
/// pipelines built after this call): a component's own settings and a task's win over them.
/// Call it first in a `#[pipeline]` body.
///
/// ```
/// use kfp_sdk::prelude::*;
/// use kfp_sdk::config::TaskConfig;
/// use kfp_sdk::kubernetes::KubernetesConfig;
///
/// #[component]
/// fn step() {}
///
/// #[pipeline]
/// fn on_the_batch_pool() {
///     kfp_sdk::dsl::task_defaults(TaskConfig {
///         kubernetes: KubernetesConfig::new().node_selector("pool", "batch"),
///         ..TaskConfig::default()
///     });
///     step::task();
///     step::task().node_selector("pool", "fast");
/// }
///
/// fn main() {
///     let graph = on_the_batch_pool::graph().unwrap();
///     let pools: Vec<_> = graph.tasks.iter()
///         .map(|t| t.effective_config().kubernetes.node_selector["pool"].clone())
///         .collect();
///     assert_eq!(pools, ["batch", "fast"]);
/// }
/// ```
///
/// # Panics
/// Outside a pipeline.
pub fn task_defaults(defaults: TaskConfig) {
    let Some(state) = current_scope() else {
        panic!(
            "dsl::task_defaults was called outside a pipeline: call it inside a #[pipeline] function"
        );
    };
    let mut state = state.borrow_mut();
    state.defaults = defaults.merged_over(&state.defaults);
}

/// Declares a pipeline's inputs and collects its tasks.
pub struct PipelineBuilder {
    state: Rc<RefCell<State>>,
}

impl PipelineBuilder {
    /// A pipeline with this name (use a DNS label: lowercase letters, digits, `-`).
    pub fn new(name: impl Into<String>) -> Self {
        PipelineBuilder {
            state: Rc::new(RefCell::new(State {
                id: NEXT_BUILDER_ID.fetch_add(1, Ordering::Relaxed),
                name: name.into(),
                description: None,
                inputs: Vec::new(),
                tasks: Vec::new(),
                errors: Vec::new(),
                parent: None,
                exit_handler: None,
                // Groups and nested pipelines built inside a pipeline inherit its defaults.
                defaults: current_scope()
                    .map(|s| s.borrow().defaults.clone())
                    .unwrap_or_default(),
            })),
        }
    }

    /// Sets defaults for every task of this pipeline (and of the groups and nested
    /// pipelines built inside it): a component's own settings and a task's win over them.
    /// Inside a `#[pipeline]` body, use [`task_defaults`].
    pub fn task_defaults(self, defaults: TaskConfig) -> Self {
        {
            let mut state = self.state.borrow_mut();
            state.defaults = defaults.merged_over(&state.defaults);
        }
        self
    }

    /// Sets the description.
    pub fn description(self, text: impl Into<String>) -> Self {
        let text = text.into();
        self.state.borrow_mut().description = (!text.trim().is_empty()).then_some(text);
        self
    }

    fn declare(&self, name: &str, ty: IoType, default: Option<serde_json::Value>) -> Source {
        let mut state = self.state.borrow_mut();
        state.inputs.push(InputSpec {
            name: name.to_owned(),
            ty,
            default,
            description: None,
        });
        Source::PipelineInput {
            builder: state.id,
            name: name.to_owned(),
        }
    }

    /// Declares a required pipeline parameter.
    pub fn input<T: ParamValue>(&self, name: &str) -> ParamRef<T> {
        ParamRef {
            source: self.declare(name, IoType::Parameter(T::TYPE), None),
            ty: PhantomData,
        }
    }

    /// Declares a pipeline parameter with a default value.
    pub fn input_with_default<T: ParamValue>(
        &self,
        name: &str,
        default: impl IntoParamRef<T>,
    ) -> ParamRef<T> {
        let default = match default.into_param_ref().source {
            Source::Constant(value) => Some(value),
            Source::Invalid(message) => {
                self.state
                    .borrow_mut()
                    .errors
                    .push(format!("input '{name}': {message}"));
                None
            }
            _ => {
                self.state.borrow_mut().errors.push(format!(
                    "input '{name}': a default must be a constant, not another input or output"
                ));
                None
            }
        };
        ParamRef {
            source: self.declare(name, IoType::Parameter(T::TYPE), default),
            ty: PhantomData,
        }
    }

    /// Declares an artifact input (for pipelines used as a step of another pipeline).
    pub fn artifact_input<K: ArtifactKind>(&self, name: &str) -> ArtifactRef<K> {
        ArtifactRef {
            source: self.declare(name, IoType::artifact::<K>(), None),
            kind: PhantomData,
        }
    }

    /// Declares a list-of-artifacts input (for pipelines used as a step of another, which
    /// pass in the collected artifacts of a loop).
    pub fn artifact_list_input<K: ArtifactKind>(&self, name: &str) -> ArtifactRef<Vec<K>> {
        ArtifactRef {
            source: self.declare(name, IoType::artifact_list::<K>(), None),
            kind: PhantomData,
        }
    }

    /// Runs `body` with this pipeline as the current one.
    fn scoped<R>(&self, body: impl FnOnce() -> R) -> R {
        SCOPES.with(|s| s.borrow_mut().push(self.state.clone()));
        struct PopOnDrop;
        impl Drop for PopOnDrop {
            fn drop(&mut self) {
                SCOPES.with(|s| s.borrow_mut().pop());
            }
        }
        let _pop = PopOnDrop;
        body()
    }

    /// Runs `body` with this pipeline as the current one (tasks created by
    /// [`TaskBuilder::add`] join it), then makes and validates the graph. `body`'s result
    /// becomes the pipeline's outputs.
    pub fn build<R: PipelineReturn>(
        self,
        body: impl FnOnce() -> R,
    ) -> Result<PipelineGraph, BuildError> {
        let returned = self.scoped(body);
        let outputs = returned
            .into_sources()
            .into_iter()
            .map(|(spec, token)| (spec, token.0))
            .collect();
        self.finish(outputs).map(|(graph, _)| graph)
    }

    /// Makes and validates the graph; a group's graph also gets one input per value it
    /// reads from enclosing pipelines (the returned captures).
    fn finish(
        self,
        outputs: Vec<(OutputSpec, Source)>,
    ) -> Result<(PipelineGraph, Vec<Capture>), BuildError> {
        let state = self.state.borrow();
        // Explicit names first, so that generated ones avoid them.
        let mut taken = names::UniqueNames::default();
        let mut task_names: Vec<Option<String>> = state
            .tasks
            .iter()
            .map(|t| {
                t.explicit_name.as_ref().map(|n| {
                    taken.take(n);
                    n.clone()
                })
            })
            .collect();
        for (slot, task) in task_names.iter_mut().zip(&state.tasks) {
            if slot.is_none() {
                *slot = Some(taken.unique(&names::kebab(task.executable.name())));
            }
        }
        let task_names: Vec<String> = task_names.into_iter().flatten().collect();
        let mut ancestors = Vec::new();
        let mut parent = state.parent.clone();
        while let Some(p) = parent {
            ancestors.push(p.borrow().id);
            parent = p.borrow().parent.clone();
        }
        let mut capture_names = names::UniqueNames::default();
        for input in &state.inputs {
            capture_names.take(&input.name);
        }
        let mut resolver = Resolver {
            id: state.id,
            ancestors,
            task_names: &task_names,
            captures: Vec::new(),
            capture_names,
            errors: state.errors.clone(),
        };
        // Pipeline defaults go under the component's settings (folded into the task's).
        let with_defaults = |mut task: GraphTask| {
            if let Executable::Component(c) = &task.executable
                && state.defaults != TaskConfig::default()
            {
                task.config = task
                    .config
                    .merged_over(&c.config.merged_over(&state.defaults));
            }
            task
        };
        let mut tasks = Vec::with_capacity(state.tasks.len());
        for (index, task) in state.tasks.iter().enumerate() {
            let name = &task_names[index];
            tasks.push(with_defaults(resolver.task(task, name)));
        }
        let exit_handler = state
            .exit_handler
            .as_ref()
            .map(|task| Box::new(with_defaults(resolver.task(task, "exit-handler"))));
        let outputs = outputs
            .into_iter()
            .map(|(spec, source)| {
                let context = || format!("output '{}'", spec.name);
                let source = resolver.resolve(&source, Some(&spec.ty), &context);
                PipelineOutput { spec, source }
            })
            .collect();
        if !resolver.errors.is_empty() {
            return Err(BuildError::Wiring {
                pipeline: state.name.clone(),
                messages: resolver.errors,
            });
        }
        let mut inputs = state.inputs.clone();
        inputs.extend(resolver.captures.iter().map(|c| InputSpec {
            name: c.name.clone(),
            ty: c.ty.clone(),
            default: None,
            description: None,
        }));
        let graph = PipelineGraph {
            name: state.name.clone(),
            description: state.description.clone(),
            inputs,
            tasks,
            outputs,
            exit_handler,
        };
        if state.parent.is_none() {
            validate(&graph)?;
        }
        Ok((graph, resolver.captures))
    }
}

/// Turns a builder's sources into graph value sources, capturing values of enclosing
/// pipelines as inputs of a group.
pub(crate) struct Resolver<'a> {
    id: u64,
    ancestors: Vec<u64>,
    task_names: &'a [String],
    captures: Vec<Capture>,
    capture_names: names::UniqueNames,
    errors: Vec<String>,
}

impl Resolver<'_> {
    pub(crate) fn resolve(
        &mut self,
        source: &Source,
        expected: Option<&IoType>,
        context: &dyn Fn() -> String,
    ) -> ValueSource {
        let foreign = |builder: &u64| *builder != self.id;
        match source {
            Source::Constant(value) => ValueSource::Constant(value.clone()),
            Source::LoopItem => ValueSource::LoopItem,
            Source::WorkflowStatus => ValueSource::WorkflowStatus,
            Source::PipelineInput { builder, name } if !foreign(builder) => {
                ValueSource::PipelineInput(name.clone())
            }
            Source::TaskOutput {
                builder,
                task,
                output,
            } if !foreign(builder) => ValueSource::TaskOutput {
                task: self.task_names[*task].clone(),
                output: output.clone(),
            },
            Source::PipelineInput { builder, .. } | Source::TaskOutput { builder, .. }
                if self.ancestors.contains(builder) =>
            {
                if let Some(existing) = self.captures.iter().find(|c| &c.source == source) {
                    return ValueSource::PipelineInput(existing.name.clone());
                }
                let base = match source {
                    Source::PipelineInput { name, .. } => name.clone(),
                    Source::TaskOutput { output, .. } => format!("from-{output}"),
                    _ => "value".to_owned(),
                };
                let name = self.capture_names.unique(&base);
                let ty = expected
                    .cloned()
                    .unwrap_or(IoType::Parameter(ParamType::String));
                self.captures.push(Capture {
                    name: name.clone(),
                    source: source.clone(),
                    ty,
                });
                ValueSource::PipelineInput(name)
            }
            Source::Invalid(message) => {
                self.errors.push(format!("{}: {message}", context()));
                ValueSource::Constant(serde_json::Value::Null)
            }
            _ => {
                self.errors.push(format!(
                    "{}: the value belongs to another pipeline (pass it in as an input of this one)",
                    context()
                ));
                ValueSource::Constant(serde_json::Value::Null)
            }
        }
    }

    fn task(&mut self, task: &TaskState, name: &str) -> GraphTask {
        let inputs = task.executable.inputs();
        let arguments = task
            .arguments
            .iter()
            .map(|(input, source)| {
                let context = || format!("task '{name}', input '{input}'");
                let expected = inputs.iter().find(|i| &i.name == input).map(|i| &i.ty);
                (input.clone(), self.resolve(source, expected, &context))
            })
            .collect();
        let mut after = Vec::new();
        for &(builder, other) in &task.after {
            if builder == self.id {
                after.push(self.task_names[other].clone());
            } else {
                self.errors.push(format!(
                    "task '{name}', after: the task it waits for belongs to another pipeline"
                ));
            }
        }
        let when = task.when.as_ref().map(|c| c.resolve(self, name));
        let repeat = task.repeat.as_ref().map(|r| r.resolve(self, name));
        GraphTask {
            name: name.to_owned(),
            executable: task.executable.clone(),
            arguments,
            after,
            config: task.config.clone(),
            when,
            repeat,
        }
    }
}

/// Adds one task to the current pipeline: set its inputs by name, then [`TaskBuilder::add`].
///
/// Generated `component::task(..)` functions use this with typed arguments; by hand, the
/// input names and types are checked when the pipeline is built.
pub struct TaskBuilder {
    executable: Executable,
    arguments: Vec<(String, Source)>,
    error: Option<String>,
}

impl TaskBuilder {
    /// A task running this component.
    pub fn new(component: Arc<ComponentSpec>) -> Self {
        TaskBuilder {
            executable: Executable::Component(component),
            arguments: Vec::new(),
            error: None,
        }
    }

    /// A task running a whole pipeline as one step.
    pub fn pipeline(graph: Arc<PipelineGraph>) -> Self {
        TaskBuilder {
            executable: Executable::Pipeline(graph),
            arguments: Vec::new(),
            error: None,
        }
    }

    /// A task running the pipeline that `built` holds; if building it failed, the error is
    /// reported when the outer pipeline is built.
    pub fn nested(built: Result<PipelineGraph, BuildError>) -> Self {
        match built {
            Ok(graph) => TaskBuilder::pipeline(Arc::new(graph)),
            Err(error) => {
                let mut builder = TaskBuilder::pipeline(Arc::new(PipelineGraph::new("invalid")));
                builder.error = Some(format!("a nested pipeline is invalid: {error}"));
                builder
            }
        }
    }

    /// Sets a parameter input.
    pub fn param<T>(mut self, input: &str, value: impl IntoParamRef<T>) -> Self {
        self.arguments
            .push((input.to_owned(), value.into_param_ref().source));
        self
    }

    /// Sets an artifact input.
    pub fn artifact<K>(mut self, input: &str, value: impl IntoArtifactRef<K>) -> Self {
        self.arguments
            .push((input.to_owned(), value.into_artifact_ref().source));
        self
    }

    /// Sets a list-of-artifacts input (a `Vec<Input<K>>`): the collected artifacts of a loop.
    pub fn artifact_list<K>(mut self, input: &str, value: impl IntoArtifactList<K>) -> Self {
        self.arguments
            .push((input.to_owned(), value.into_artifact_list().source));
        self
    }

    /// Adds the task to the current pipeline.
    ///
    /// # Panics
    /// Outside [`PipelineBuilder::build`] (for example when a generated `component::task`
    /// function is called outside a `#[pipeline]` function), since there is no pipeline to
    /// add the task to.
    pub fn add(self) -> TaskHandle {
        let Some(state) = current_scope() else {
            panic!(
                "task '{}' was created outside a pipeline: call `{0}::task(..)` inside a \
                 #[pipeline] function or PipelineBuilder::build",
                self.executable.name()
            );
        };
        let index = {
            let mut s = state.borrow_mut();
            if let Some(error) = self.error {
                s.errors.push(error);
            }
            s.tasks.push(TaskState {
                explicit_name: None,
                executable: self.executable,
                arguments: self.arguments,
                after: Vec::new(),
                config: TaskConfig::default(),
                when: None,
                repeat: None,
            });
            s.tasks.len() - 1
        };
        TaskHandle { state, index }
    }
}

/// A task in a pipeline being built: read its outputs, change its settings.
#[derive(Clone)]
pub struct TaskHandle {
    state: Rc<RefCell<State>>,
    index: usize,
}

impl std::fmt::Debug for TaskHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("TaskHandle")
            .field("pipeline", &state.name)
            .field("component", &state.tasks[self.index].executable.name())
            .field("index", &self.index)
            .finish()
    }
}

/// Something an output handle can be made from: `ParamRef<T>` or `ArtifactRef<K>`.
pub trait OutputRef: Sized {
    /// The handle of `task`'s output `name`.
    fn of_task(task: &TaskHandle, name: &str) -> Self;
    /// The output's type in the graph.
    fn io_type() -> IoType;
    #[doc(hidden)]
    fn into_source(self) -> SourceToken;
}

/// An opaque value source, used by generated code.
#[doc(hidden)]
pub struct SourceToken(Source);

impl<T: ParamValue> OutputRef for ParamRef<T> {
    fn of_task(task: &TaskHandle, name: &str) -> Self {
        ParamRef {
            source: task.source(name),
            ty: PhantomData,
        }
    }
    fn io_type() -> IoType {
        IoType::Parameter(T::TYPE)
    }
    fn into_source(self) -> SourceToken {
        SourceToken(self.source)
    }
}

impl<K: ArtifactKind> OutputRef for ArtifactRef<K> {
    fn of_task(task: &TaskHandle, name: &str) -> Self {
        ArtifactRef {
            source: task.source(name),
            kind: PhantomData,
        }
    }
    fn io_type() -> IoType {
        IoType::artifact::<K>()
    }
    fn into_source(self) -> SourceToken {
        SourceToken(self.source)
    }
}

impl TaskHandle {
    fn source(&self, output: &str) -> Source {
        Source::TaskOutput {
            builder: self.state.borrow().id,
            task: self.index,
            output: output.to_owned(),
        }
    }

    /// The handle of one of the task's outputs, by name (checked when the pipeline is built).
    pub fn output<R: OutputRef>(&self, name: &str) -> R {
        R::of_task(self, name)
    }

    pub(crate) fn edit(&self, f: impl FnOnce(&mut TaskState)) {
        f(&mut self.state.borrow_mut().tasks[self.index]);
    }

    pub(crate) fn config(&self, f: impl FnOnce(&mut TaskConfig)) {
        self.edit(|t| f(&mut t.config));
    }
}

/// A task with typed output handles, as the generated `component::task(..)` returns it.
///
/// The configuration methods take and return the task, so they chain:
/// `train::task(data, 10).retries(2).cpu_request("2").memory_limit("4Gi")`.
#[derive(Debug, Clone)]
pub struct Task<O> {
    /// The task's outputs, one typed handle per output (`task.outputs.model`).
    pub outputs: O,
    handle: TaskHandle,
}

impl<O> Task<O> {
    /// Wraps a handle and its typed outputs (used by generated code).
    pub fn new(handle: TaskHandle, outputs: O) -> Self {
        Task { outputs, handle }
    }

    /// The untyped handle.
    pub fn handle(&self) -> &TaskHandle {
        &self.handle
    }

    /// Names the task (by default: the component's name, made unique with `-2`, `-3`, ...).
    pub fn name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.handle.edit(|t| t.explicit_name = Some(name));
        self
    }

    /// The name UIs show for the task.
    pub fn display_name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.handle.config(|c| c.display_name = Some(name));
        self
    }

    /// Runs this task only after `other` has finished, although no value flows between them.
    pub fn after<P>(self, other: &Task<P>) -> Self {
        let target = (other.handle.state.borrow().id, other.handle.index);
        self.handle.edit(|t| t.after.push(target));
        self
    }

    /// Requests CPU (`"500m"`, `"2"`).
    pub fn cpu_request(self, quantity: impl Into<String>) -> Self {
        let q = quantity.into();
        self.handle.config(|c| c.resources.cpu_request = Some(q));
        self
    }

    /// Limits CPU.
    pub fn cpu_limit(self, quantity: impl Into<String>) -> Self {
        let q = quantity.into();
        self.handle.config(|c| c.resources.cpu_limit = Some(q));
        self
    }

    /// Requests memory (`"512Mi"`, `"4Gi"`).
    pub fn memory_request(self, quantity: impl Into<String>) -> Self {
        let q = quantity.into();
        self.handle.config(|c| c.resources.memory_request = Some(q));
        self
    }

    /// Limits memory.
    pub fn memory_limit(self, quantity: impl Into<String>) -> Self {
        let q = quantity.into();
        self.handle.config(|c| c.resources.memory_limit = Some(q));
        self
    }

    /// Asks for `count` GPUs (`nvidia.com/gpu` unless [`Task::accelerator`] says otherwise).
    pub fn gpus(self, count: u32) -> Self {
        self.handle.config(|c| c.resources.gpus = Some(count));
        self
    }

    /// The accelerator's Kubernetes resource name (`nvidia.com/gpu`, `amd.com/gpu`, ...).
    pub fn accelerator(self, resource: impl Into<String>) -> Self {
        let r = resource.into();
        self.handle.config(|c| c.resources.accelerator = Some(r));
        self
    }

    /// Retries the task up to `limit` times after a failure.
    pub fn retries(self, limit: u32) -> Self {
        self.handle
            .config(|c| c.retry = Some(RetryPolicy::new(limit)));
        self
    }

    /// Retries with exponential backoff: wait `duration` (`"10s"`), then `factor` times longer.
    pub fn retries_with_backoff(self, limit: u32, duration: &str, factor: u32) -> Self {
        let policy = RetryPolicy::new(limit).with_backoff(duration, factor);
        self.handle.config(|c| c.retry = Some(policy));
        self
    }

    /// Sets an environment variable.
    pub fn env(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (n, v) = (name.into(), value.into());
        self.handle.config(|c| {
            c.env.insert(n, v);
        });
        self
    }

    /// Turns reuse of earlier results on or off for this task.
    pub fn caching(self, enabled: bool) -> Self {
        self.handle.config(|c| c.caching = Some(enabled));
        self
    }

    /// Kills a try of this task that runs longer than `seconds` (it then counts as failed,
    /// and is retried if the task has retries).
    pub fn timeout_seconds(self, seconds: u64) -> Self {
        self.handle.config(|c| c.timeout_seconds = Some(seconds));
        self
    }

    /// Runs this task in another image.
    pub fn image(self, image: impl Into<String>) -> Self {
        let i = image.into();
        self.handle.config(|c| c.image = Some(i));
        self
    }
}

/// What a pipeline function (or a group, such as a loop body) may return: nothing, one
/// handle, or a tuple of two or three handles (outputs `output-0`, `output-1`, ...).
pub trait PipelineReturn {
    /// The handles a parent pipeline gets for a task running this pipeline.
    type Refs;
    /// The pipeline's outputs.
    fn output_specs() -> Vec<OutputSpec>;
    /// The handles of `task`'s outputs.
    fn refs(task: &TaskHandle) -> Self::Refs;
    #[doc(hidden)]
    fn into_sources(self) -> Vec<(OutputSpec, SourceToken)>;
}

/// No outputs.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoOutputs;

/// One output, named `output`.
#[derive(Debug, Clone)]
pub struct SingleOutput<R> {
    /// The output's handle.
    pub output: R,
}

/// The name of a single returned value, as kfp names it.
pub const SINGLE_OUTPUT: &str = "output";

impl PipelineReturn for () {
    type Refs = NoOutputs;
    fn output_specs() -> Vec<OutputSpec> {
        Vec::new()
    }
    fn refs(_: &TaskHandle) -> NoOutputs {
        NoOutputs
    }
    fn into_sources(self) -> Vec<(OutputSpec, SourceToken)> {
        Vec::new()
    }
}

impl<R: OutputRef> PipelineReturn for R {
    type Refs = SingleOutput<R>;
    fn output_specs() -> Vec<OutputSpec> {
        vec![OutputSpec::new(SINGLE_OUTPUT, R::io_type())]
    }
    fn refs(task: &TaskHandle) -> SingleOutput<R> {
        SingleOutput {
            output: task.output(SINGLE_OUTPUT),
        }
    }
    fn into_sources(self) -> Vec<(OutputSpec, SourceToken)> {
        vec![(
            OutputSpec::new(SINGLE_OUTPUT, R::io_type()),
            self.into_source(),
        )]
    }
}

/// The name of element `index` of a returned tuple: `output-0`, `output-1`, ...
pub fn tuple_output(index: usize) -> String {
    format!("{SINGLE_OUTPUT}-{index}")
}

macro_rules! tuple_returns {
    ($(($($t:ident $i:tt),+))*) => {$(
        /// Several outputs, named `output-0`, `output-1`, ... (see [`tuple_output`]).
        impl<$($t: OutputRef),+> PipelineReturn for ($($t,)+) {
            type Refs = ($($t,)+);
            fn output_specs() -> Vec<OutputSpec> {
                vec![$(OutputSpec::new(tuple_output($i), $t::io_type())),+]
            }
            fn refs(task: &TaskHandle) -> Self::Refs {
                ($(task.output::<$t>(&tuple_output($i)),)+)
            }
            fn into_sources(self) -> Vec<(OutputSpec, SourceToken)> {
                vec![$((OutputSpec::new(tuple_output($i), $t::io_type()), self.$i.into_source())),+]
            }
        }
    )*};
}

tuple_returns! {
    (A 0, B 1)
    (A 0, B 1, C 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::ParamType;

    fn add() -> Arc<ComponentSpec> {
        let d = || IoType::Parameter(ParamType::Double);
        Arc::new(
            ComponentSpec::new("add")
                .input("x", d())
                .input("y", d())
                .output("sum", d()),
        )
    }

    #[test]
    fn explicit_names_win_and_generated_ones_avoid_them() {
        let graph = PipelineBuilder::new("p")
            .build(|| {
                let first = TaskBuilder::new(add())
                    .param("x", 1.0)
                    .param("y", 2.0)
                    .add();
                Task::new(first.clone(), ()).name("add-2");
                TaskBuilder::new(add())
                    .param("x", first.output::<ParamRef<f64>>("sum"))
                    .param("y", 2.0)
                    .add();
            })
            .unwrap();
        let names: Vec<&str> = graph.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["add-2", "add"]);
        assert_eq!(
            graph.tasks[1].argument("x"),
            Some(&ValueSource::TaskOutput {
                task: "add-2".into(),
                output: "sum".into()
            })
        );
    }

    #[test]
    fn values_from_another_pipeline_are_rejected() {
        let other = PipelineBuilder::new("other");
        let foreign: ParamRef<f64> = other.input("x");
        let err = PipelineBuilder::new("p")
            .build(|| {
                TaskBuilder::new(add())
                    .param("x", foreign)
                    .param("y", 2.0)
                    .add();
            })
            .unwrap_err();
        assert!(
            err.to_string().contains("belongs to another pipeline"),
            "{err}"
        );
    }

    #[test]
    fn non_finite_constants_are_rejected() {
        let err = PipelineBuilder::new("p")
            .build(|| {
                TaskBuilder::new(add())
                    .param("x", f64::NAN)
                    .param("y", 2.0)
                    .add();
            })
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("task 'add', input 'x': a float constant must be finite"),
            "{err}"
        );
    }

    #[test]
    fn tuples_of_handles_are_outputs_named_by_position() {
        let train = Arc::new(
            ComponentSpec::new("train")
                .output("model", IoType::artifact::<crate::Model>())
                .output("score", IoType::Parameter(ParamType::Double)),
        );
        let inner = Arc::new(
            PipelineBuilder::new("inner")
                .build(|| {
                    let task = TaskBuilder::new(train.clone()).add();
                    (
                        task.output::<ParamRef<f64>>("score"),
                        task.output::<ArtifactRef<crate::Model>>("model"),
                    )
                })
                .unwrap(),
        );
        let names: Vec<&str> = inner.outputs.iter().map(|o| o.spec.name.as_str()).collect();
        assert_eq!(names, ["output-0", "output-1"]);
        assert_eq!(inner.outputs[1].spec.ty, IoType::artifact::<crate::Model>());
        let outer = PipelineBuilder::new("outer")
            .build(|| {
                let step = TaskBuilder::pipeline(inner.clone()).add();
                let (score, model) = <(ParamRef<f64>, ArtifactRef<crate::Model>)>::refs(&step);
                let _ = score;
                model
            })
            .unwrap();
        assert_eq!(
            outer.outputs[0].source,
            ValueSource::TaskOutput {
                task: "inner".into(),
                output: "output-1".into()
            }
        );
    }

    #[test]
    #[should_panic(expected = "created outside a pipeline")]
    fn tasks_need_a_pipeline() {
        TaskBuilder::new(add()).add();
    }
}
