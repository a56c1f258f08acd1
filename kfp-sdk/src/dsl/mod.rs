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
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ir::artifact::ArtifactKind;
use crate::ir::component::{ComponentSpec, InputSpec, IoType, OutputSpec};
use crate::ir::config::TaskConfig;
use crate::ir::graph::{Executable, PipelineGraph, PipelineOutput, Task as GraphTask, ValueSource};
use crate::ir::names;
use crate::ir::param::{ParamType, ParamValue};
use crate::ir::validate::{ValidationErrors, validate};
use std::marker::PhantomData;

mod flow;
mod handles;
mod returns;
mod setters;
mod task;

pub use flow::{
    Branch, Collect, Comparable, Cond, ConditionOperand, IntoLoopItems, LoopReturn, ParallelFor,
    on_exit, parallel_for, when, workflow_status,
};
pub(crate) use handles::Source;
pub use handles::{
    ArtifactRef, IntoArtifactList, IntoArtifactRef, IntoParamRef, OutputRef, ParamRef, SourceToken,
};
pub(crate) use returns::tuple_output;
pub use returns::{NoOutputs, PipelineReturn, SINGLE_OUTPUT, SingleOutput};
#[allow(deprecated)]
pub use task::Task;
pub use task::TaskRef;

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

#[cfg(test)]
mod tests;
