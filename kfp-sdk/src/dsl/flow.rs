//! Control flow while building a pipeline: conditions, loops and the exit handler.
//!
//! Each construct runs a closure that adds tasks to a *group*, a nested pipeline that becomes
//! one task of the enclosing pipeline, with a condition ([`when`]), a loop
//! ([`parallel_for`]) or as the pipeline's exit handler ([`on_exit`]). Values the closure
//! reads from the enclosing pipeline become inputs of the group automatically.
//!
//! ```
//! use kfp_sdk::prelude::*;
//! use kfp_sdk::dsl::{on_exit, parallel_for, when, workflow_status};
//!
//! #[component]
//! fn flip() -> String { "heads".into() }
//! #[component]
//! fn say(text: String) {}
//! #[component]
//! fn square(x: f64) -> f64 { x * x }
//! #[component]
//! fn total(values: Vec<f64>) -> f64 { values.iter().sum() }
//!
//! #[pipeline]
//! fn demo(#[default(vec![1.0, 2.0, 3.0])] xs: Vec<f64>) -> ParamRef<f64> {
//!     let coin = flip::task();
//!     when(coin.outputs.output.eq("heads"), || { say::task("it was heads"); })
//!         .otherwise(|| { say::task("it was tails"); });
//!     let squares = parallel_for(&xs).parallelism(2).each(|x| square::task(x).outputs.output.clone());
//!     on_exit(|| { say::task(workflow_status()); });
//!     total::task(squares).outputs.output.clone()
//! }
//!
//! fn main() {
//!     let graph = demo::graph().unwrap();
//!     let names: Vec<&str> = graph.tasks.iter().map(|t| t.name.as_str()).collect();
//!     assert_eq!(names, ["flip", "condition", "condition-2", "for-each", "total"]);
//!     assert!(graph.exit_handler.is_some());
//! }
//! ```
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use super::{
    ArtifactRef, BuildError, Capture, IntoParamRef, OutputRef, ParamRef, PipelineBuilder,
    PipelineReturn, SINGLE_OUTPUT, Source, State, TaskHandle, TaskRef, TaskState, current_scope,
};
use crate::ir::artifact::ArtifactKind;
use crate::ir::component::IoType;
use crate::ir::config::TaskConfig;
use crate::ir::control::{CompareOp, Condition, Loop, LoopItems, Operand};
use crate::ir::graph::{Executable, PipelineGraph};
use crate::ir::param::{ParamType, ParamValue};

/// Parameter types that conditions can compare: strings, numbers and booleans.
pub trait Comparable: ParamValue {}
impl Comparable for String {}
impl Comparable for bool {}
macro_rules! comparable {
    ($($t:ty),*) => {$(impl Comparable for $t {})*};
}
comparable!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);

#[derive(Debug, Clone)]
pub(crate) enum CondNode {
    Compare {
        left: (Source, ParamType),
        op: CompareOp,
        right: (Source, ParamType),
    },
    And(Box<CondNode>, Box<CondNode>),
    Or(Box<CondNode>, Box<CondNode>),
    Not(Box<CondNode>),
}

impl CondNode {
    pub(crate) fn resolve(&self, resolver: &mut super::Resolver<'_>, task: &str) -> Condition {
        let context = || format!("task '{task}', condition");
        match self {
            CondNode::Compare { left, op, right } => {
                let mut operand = |(source, ty): &(Source, ParamType)| Operand {
                    source: resolver.resolve(source, Some(&IoType::Parameter(*ty)), &context),
                    ty: *ty,
                };
                Condition::Compare {
                    left: operand(left),
                    op: *op,
                    right: operand(right),
                }
            }
            CondNode::And(a, b) => Condition::And(
                Box::new(a.resolve(resolver, task)),
                Box::new(b.resolve(resolver, task)),
            ),
            CondNode::Or(a, b) => Condition::Or(
                Box::new(a.resolve(resolver, task)),
                Box::new(b.resolve(resolver, task)),
            ),
            CondNode::Not(c) => Condition::Not(Box::new(c.resolve(resolver, task))),
        }
    }
}

/// A condition over parameter values, made by comparing handles (`flip.outputs.output.eq("heads")`,
/// `accuracy.gt(0.9)`) and combined with [`Cond::and`], [`Cond::or`] and `!`.
#[derive(Debug, Clone)]
pub struct Cond(pub(crate) CondNode);

impl Cond {
    /// Both hold.
    pub fn and(self, other: Cond) -> Cond {
        Cond(CondNode::And(Box::new(self.0), Box::new(other.0)))
    }

    /// Either holds.
    pub fn or(self, other: Cond) -> Cond {
        Cond(CondNode::Or(Box::new(self.0), Box::new(other.0)))
    }
}

impl std::ops::Not for Cond {
    type Output = Cond;
    fn not(self) -> Cond {
        Cond(CondNode::Not(Box::new(self.0)))
    }
}

macro_rules! comparisons {
    ($($(#[$doc:meta])* $name:ident => $op:ident,)*) => {
        impl<T: Comparable> ParamRef<T> {
            $(
                $(#[$doc])*
                pub fn $name(&self, other: impl IntoParamRef<T>) -> Cond {
                    Cond(CondNode::Compare {
                        left: (self.source.clone(), T::TYPE),
                        op: CompareOp::$op,
                        right: (other.into_param_ref().source, T::TYPE),
                    })
                }
            )*
        }
    };
}

comparisons! {
    /// Holds when this value equals `other`.
    eq => Eq,
    /// Holds when this value differs from `other`.
    ne => Ne,
    /// Holds when this value is less than `other`.
    lt => Lt,
    /// Holds when this value is at most `other`.
    le => Le,
    /// Holds when this value is greater than `other`.
    gt => Gt,
    /// Holds when this value is at least `other`.
    ge => Ge,
}

/// Only parameters can be compared in a condition; artifacts have the same comparison
/// methods so that a mistake gets this explanation instead of an unrelated error.
#[diagnostic::on_unimplemented(
    message = "conditions compare parameters, and `{Self}` is an artifact",
    label = "an artifact cannot be compared",
    note = "compare a parameter the task outputs instead (for example a metric it returns)"
)]
pub trait ConditionOperand {}

macro_rules! no_artifact_comparisons {
    ($($name:ident),*) => {
        impl<K> super::ArtifactRef<K> {
            $(
                /// Not available: conditions compare parameters only.
                pub fn $name<V>(&self, _other: V) -> Cond
                where
                    Self: ConditionOperand,
                {
                    unreachable!("ConditionOperand has no implementations")
                }
            )*
        }
    };
}

no_artifact_comparisons!(eq, ne, lt, le, gt, ge);

/// What a loop iterates over, before the pipeline is built.
#[derive(Debug, Clone)]
pub(crate) enum ItemsSpec {
    Static(Vec<serde_json::Value>),
    Range(i64, i64),
    Param(Source),
}

#[derive(Debug, Clone)]
pub(crate) struct RepeatSpec {
    items: ItemsSpec,
    parallelism: Option<u32>,
}

impl RepeatSpec {
    pub(crate) fn resolve(&self, resolver: &mut super::Resolver<'_>, task: &str) -> Loop {
        let context = || format!("task '{task}', loop items");
        let items = match &self.items {
            ItemsSpec::Static(values) => LoopItems::Static(values.clone()),
            ItemsSpec::Range(start, end) => LoopItems::Range {
                start: *start,
                end: *end,
            },
            ItemsSpec::Param(source) => LoopItems::Param(resolver.resolve(
                source,
                Some(&IoType::Parameter(ParamType::List)),
                &context,
            )),
        };
        Loop {
            items,
            parallelism: self.parallelism,
        }
    }
}

/// Things a loop can go over with items of type `T`: a `Vec<T>` written into the pipeline,
/// a `ParamRef<Vec<T>>` (a list parameter or a task's list output, known at run time), or a
/// range of `i64`.
#[diagnostic::on_unimplemented(
    message = "cannot loop over `{Self}`",
    label = "expected a list",
    note = "loop over a `Vec<T>`, a `ParamRef<Vec<T>>` (a list parameter or list output), or a range of `i64`"
)]
pub trait IntoLoopItems<T> {
    #[doc(hidden)]
    fn into_items(self) -> Result<ItemsToken, String>;
}

/// Loop items, as generated code and [`IntoLoopItems`] pass them.
#[doc(hidden)]
pub struct ItemsToken(ItemsSpec);

impl<T: ParamValue> IntoLoopItems<T> for Vec<T> {
    fn into_items(self) -> Result<ItemsToken, String> {
        let values = self
            .iter()
            .map(|v| v.to_json().map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        Ok(ItemsToken(ItemsSpec::Static(values)))
    }
}

impl<T: ParamValue> IntoLoopItems<T> for ParamRef<Vec<T>> {
    fn into_items(self) -> Result<ItemsToken, String> {
        Ok(ItemsToken(ItemsSpec::Param(self.source)))
    }
}

impl<T: ParamValue> IntoLoopItems<T> for &ParamRef<Vec<T>> {
    fn into_items(self) -> Result<ItemsToken, String> {
        Ok(ItemsToken(ItemsSpec::Param(self.source.clone())))
    }
}

impl IntoLoopItems<i64> for std::ops::Range<i64> {
    fn into_items(self) -> Result<ItemsToken, String> {
        Ok(ItemsToken(ItemsSpec::Range(self.start, self.end)))
    }
}

/// What a loop body may return: nothing, one handle, or a tuple of two or three handles.
/// The loop collects each over all iterations (fan-in): a parameter's values into a list
/// (`ParamRef<T>` gives `ParamRef<Vec<T>>`), an artifact into a list of artifacts
/// (`ArtifactRef<K>` gives `ArtifactRef<Vec<K>>`, which only a `Vec<Input<K>>` input takes).
pub trait LoopReturn: PipelineReturn {
    /// What the loop returns: `()`, the collected handle, or a tuple of them.
    type Collected;
    /// The collected outputs of the loop task.
    fn collected(task: &TaskHandle) -> Self::Collected;
}

/// One value a loop body may return, alone or in a tuple: a parameter or an artifact handle.
#[diagnostic::on_unimplemented(
    message = "a loop body cannot return `{Self}`",
    label = "not a handle a loop can collect",
    note = "return a `ParamRef<T>` or an `ArtifactRef<K>` (or a tuple of two or three of them)"
)]
pub trait Collect: OutputRef {
    /// The handle of every iteration's values: `ParamRef<Vec<T>>` or `ArtifactRef<Vec<K>>`.
    type Collected;
    /// The collected handle of the loop task's output `name`.
    fn collected(task: &TaskHandle, name: &str) -> Self::Collected;
}

impl<T: ParamValue> Collect for ParamRef<T> {
    type Collected = ParamRef<Vec<T>>;
    fn collected(task: &TaskHandle, name: &str) -> ParamRef<Vec<T>> {
        task.output(name)
    }
}

impl<K: ArtifactKind> Collect for ArtifactRef<K> {
    type Collected = ArtifactRef<Vec<K>>;
    fn collected(task: &TaskHandle, name: &str) -> ArtifactRef<Vec<K>> {
        ArtifactRef {
            source: task.source(name),
            kind: PhantomData,
        }
    }
}

impl LoopReturn for () {
    type Collected = ();
    fn collected(_: &TaskHandle) {}
}

impl<R: Collect> LoopReturn for R {
    type Collected = R::Collected;
    fn collected(task: &TaskHandle) -> R::Collected {
        R::collected(task, SINGLE_OUTPUT)
    }
}

impl<A: Collect, B: Collect> LoopReturn for (A, B) {
    type Collected = (A::Collected, B::Collected);
    fn collected(task: &TaskHandle) -> Self::Collected {
        (
            A::collected(task, &super::tuple_output(0)),
            B::collected(task, &super::tuple_output(1)),
        )
    }
}

impl<A: Collect, B: Collect, C: Collect> LoopReturn for (A, B, C) {
    type Collected = (A::Collected, B::Collected, C::Collected);
    fn collected(task: &TaskHandle) -> Self::Collected {
        (
            A::collected(task, &super::tuple_output(0)),
            B::collected(task, &super::tuple_output(1)),
            C::collected(task, &super::tuple_output(2)),
        )
    }
}

fn enclosing(construct: &str) -> Rc<RefCell<State>> {
    current_scope().unwrap_or_else(|| {
        panic!(
            "dsl::{construct} was called outside a pipeline: call it inside a #[pipeline] function"
        )
    })
}

/// Builds a group: runs `body` in a new builder nested in `parent`.
fn build_group<D, R: PipelineReturn>(
    parent: &Rc<RefCell<State>>,
    name: &str,
    declare: impl FnOnce(&PipelineBuilder) -> D,
    body: impl FnOnce(D) -> R,
) -> Result<(PipelineGraph, Vec<Capture>), BuildError> {
    let builder = PipelineBuilder::new(name);
    builder.state.borrow_mut().parent = Some(parent.clone());
    let declared = declare(&builder);
    let returned = builder.scoped(|| body(declared));
    let outputs = returned
        .into_sources()
        .into_iter()
        .map(|(spec, token)| (spec, token.0))
        .collect();
    builder.finish(outputs)
}

/// Adds a group task to `parent` (or, when the group could not be built, records why).
fn add_group(
    parent: &Rc<RefCell<State>>,
    built: Result<(PipelineGraph, Vec<Capture>), BuildError>,
    extra_arguments: Vec<(String, Source)>,
    when: Option<CondNode>,
    repeat: Option<RepeatSpec>,
) -> TaskHandle {
    let (graph, captures) = built.unwrap_or_else(|error| {
        parent.borrow_mut().errors.push(error.to_string());
        (PipelineGraph::new("invalid"), Vec::new())
    });
    let mut arguments: Vec<(String, Source)> =
        captures.into_iter().map(|c| (c.name, c.source)).collect();
    arguments.extend(extra_arguments);
    let index = {
        let mut state = parent.borrow_mut();
        state.tasks.push(TaskState {
            explicit_name: None,
            executable: Executable::Pipeline(Arc::new(graph)),
            arguments,
            after: Vec::new(),
            config: TaskConfig::default(),
            when,
            repeat,
        });
        state.tasks.len() - 1
    };
    TaskHandle {
        state: parent.clone(),
        index,
    }
}

/// The groups of an if / else-if / else chain.
#[derive(Debug, Clone)]
pub struct Branch {
    /// The condition that any branch so far holds.
    taken: CondNode,
    tasks: Vec<TaskRef<()>>,
}

/// Runs the tasks `body` adds only when `condition` holds (Argo `when`); otherwise they are
/// skipped, and tasks that wait for them (with `after`) still run.
///
/// # Panics
/// Outside a pipeline being built.
pub fn when(condition: Cond, body: impl FnOnce()) -> Branch {
    let parent = enclosing("when");
    let built = build_group(&parent, "condition", |_| {}, |()| body());
    let handle = add_group(&parent, built, Vec::new(), Some(condition.0.clone()), None);
    Branch {
        taken: condition.0,
        tasks: vec![TaskRef::new(handle, ())],
    }
}

impl Branch {
    /// Else-if: runs `body`'s tasks when no earlier branch ran and `condition` holds.
    pub fn elif(mut self, condition: Cond, body: impl FnOnce()) -> Branch {
        let parent = enclosing("when(..).elif");
        let guard = CondNode::And(
            Box::new(CondNode::Not(Box::new(self.taken.clone()))),
            Box::new(condition.0.clone()),
        );
        let built = build_group(&parent, "condition", |_| {}, |()| body());
        let handle = add_group(&parent, built, Vec::new(), Some(guard), None);
        self.taken = CondNode::Or(Box::new(self.taken), Box::new(condition.0));
        self.tasks.push(TaskRef::new(handle, ()));
        self
    }

    /// Else: runs `body`'s tasks when no earlier branch ran.
    pub fn otherwise(mut self, body: impl FnOnce()) -> Branch {
        let parent = enclosing("when(..).otherwise");
        let guard = CondNode::Not(Box::new(self.taken.clone()));
        let built = build_group(&parent, "condition", |_| {}, |()| body());
        let handle = add_group(&parent, built, Vec::new(), Some(guard), None);
        self.tasks.push(TaskRef::new(handle, ()));
        self
    }

    /// The group task of each branch, in order (for `task.after(..)`).
    pub fn tasks(&self) -> &[TaskRef<()>] {
        &self.tasks
    }
}

/// A loop being set up: see [`parallel_for`].
pub struct ParallelFor<T> {
    items: Result<ItemsToken, String>,
    parallelism: Option<u32>,
    item: PhantomData<fn() -> T>,
}

/// Repeats a group of tasks once per item (Argo `withItems`, `withParam` or `withSequence`
/// on one reused template, so the YAML does not grow with the number of iterations unless
/// the items are written into it).
///
/// ```text
/// let scores = parallel_for(learning_rates).parallelism(4).each(|lr| train::task(&data, lr).outputs.score.clone());
/// pick_best::task(scores);      // scores: ParamRef<Vec<f64>>, every iteration's score
/// ```
///
/// A body returning an artifact collects the artifacts (fan-in) for a `Vec<Input<K>>` input:
///
/// ```
/// use kfp_sdk::prelude::*;
/// use kfp_sdk::dsl::parallel_for;
///
/// #[component]
/// fn train(lr: f64, model: Output<Model>) -> Result<(), String> {
///     std::fs::write(model.path(), lr.to_string()).map_err(|e| e.to_string())?;
///     model.set_metadata("lr", lr);
///     Ok(())
/// }
/// #[component]
/// fn count(models: Vec<Input<Model>>) -> u32 { models.len() as u32 }
///
/// #[pipeline]
/// fn sweep(#[default(vec![0.1, 0.01])] rates: Vec<f64>) -> ParamRef<u32> {
///     let models = parallel_for(&rates).each(|lr| train::task(lr).outputs.model.clone());
///     count::task(models).outputs.output.clone()   // models: ArtifactRef<Vec<Model>>
/// }
///
/// fn main() {
///     let graph = sweep::graph().unwrap();
///     assert_eq!(
///         graph.tasks[0].output_type("output"),
///         Some(kfp_sdk::IoType::artifact_list::<Model>())
///     );
/// }
/// ```
pub fn parallel_for<T: ParamValue>(items: impl IntoLoopItems<T>) -> ParallelFor<T> {
    ParallelFor {
        items: items.into_items(),
        parallelism: None,
        item: PhantomData,
    }
}

impl<T: ParamValue> ParallelFor<T> {
    /// Runs at most `n` iterations at once.
    pub fn parallelism(mut self, n: u32) -> Self {
        self.parallelism = Some(n.max(1));
        self
    }

    /// Builds the loop body: `body` gets the item and adds tasks; what it returns is
    /// collected over all iterations.
    ///
    /// The body is `Fn`, not `FnMut`, so a handle from inside the loop cannot escape it by
    /// assignment: reading an iteration's output outside the loop only works through the
    /// collected list.
    ///
    /// # Panics
    /// Outside a pipeline being built.
    pub fn each<R: LoopReturn>(self, body: impl Fn(ParamRef<T>) -> R) -> R::Collected {
        let parent = enclosing("parallel_for");
        let items = match self.items {
            Ok(ItemsToken(items)) => items,
            Err(message) => {
                parent
                    .borrow_mut()
                    .errors
                    .push(format!("loop items: {message}"));
                ItemsSpec::Static(Vec::new())
            }
        };
        let built = build_group(
            &parent,
            "for-each",
            |builder| builder.input::<T>("item"),
            body,
        );
        let repeat = RepeatSpec {
            items,
            parallelism: self.parallelism,
        };
        let handle = add_group(
            &parent,
            built,
            vec![("item".to_owned(), Source::LoopItem)],
            None,
            Some(repeat),
        );
        R::collected(&handle)
    }
}

/// Runs the tasks `body` adds when the pipeline has finished, whatever the outcome (Argo's
/// exit hook). They may read [`workflow_status`] and the pipeline's parameters, not task
/// outputs (those may not exist).
///
/// # Panics
/// Outside a pipeline being built.
pub fn on_exit(body: impl FnOnce()) {
    let parent = enclosing("on_exit");
    if parent.borrow().parent.is_some() {
        parent
            .borrow_mut()
            .errors
            .push("on_exit: an exit handler belongs to the whole pipeline, not to a group".into());
        return;
    }
    if parent.borrow().exit_handler.is_some() {
        parent
            .borrow_mut()
            .errors
            .push("on_exit: the pipeline already has an exit handler".into());
        return;
    }
    let built = build_group(&parent, "exit-handler", |_| {}, |()| body());
    let (graph, captures) = match built {
        Ok(built) => built,
        Err(error) => {
            parent.borrow_mut().errors.push(error.to_string());
            return;
        }
    };
    if captures
        .iter()
        .any(|c| matches!(c.source, Source::TaskOutput { .. }))
    {
        parent.borrow_mut().errors.push(
            "on_exit: an exit handler runs whatever happened, so it cannot read task outputs \
             (only pipeline parameters and workflow_status())"
                .into(),
        );
        return;
    }
    let arguments = captures.into_iter().map(|c| (c.name, c.source)).collect();
    parent.borrow_mut().exit_handler = Some(TaskState {
        explicit_name: Some("exit-handler".into()),
        executable: Executable::Pipeline(Arc::new(graph)),
        arguments,
        after: Vec::new(),
        config: TaskConfig::default(),
        when: None,
        repeat: None,
    });
}

/// The status of the whole run (`Succeeded`, `Failed` or `Error`), for exit handlers.
pub fn workflow_status() -> ParamRef<String> {
    ParamRef {
        source: Source::WorkflowStatus,
        ty: PhantomData,
    }
}
