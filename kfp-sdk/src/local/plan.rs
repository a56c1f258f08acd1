//! The execution plan: a pipeline graph flattened into component steps.
//!
//! Nested pipelines dissolve into their component tasks (named `outer/inner`), pipeline
//! inputs become constants, and every task input points at a constant or at an output of
//! another step, so the scheduler only ever runs components.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::ir::component::{ComponentSpec, IoType};
use crate::ir::config::TaskConfig;
use crate::ir::control::{Condition, Loop, LoopItems};
use crate::ir::graph::{Executable, PipelineGraph, ValueSource};
use crate::ir::param::json_to_text;

/// Where a step's input comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// A parameter value, as text.
    Text(String),
    /// An output of another step.
    Output {
        /// The producing step's index in [`Plan::steps`].
        step: usize,
        /// The output's name.
        output: String,
    },
    /// The item of the loop being expanded (replaced by its value at expansion).
    Item,
    /// The run's status (exit handlers only; `Succeeded` or `Failed`).
    Status,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum StepKind {
    /// Runs a component.
    Component(Arc<ComponentSpec>),
    /// A group (a nested pipeline with a condition and/or a loop), expanded into steps at run
    /// time, once its condition and items can be known.
    Group {
        /// The group's pipeline.
        graph: Arc<PipelineGraph>,
        /// Run only if this holds; its operands' bindings, in [`Condition::operands`] order.
        when: Option<Box<(Condition, Vec<Binding>)>>,
        /// Repeat once per item.
        repeat: Option<Box<(Loop, Option<Binding>)>>,
    },
}

/// One step: a component run or a group.
#[derive(Debug, Clone)]
pub struct Step {
    /// The task's path: its name, prefixed by the names of enclosing tasks (`a/b`, `loop/0/b`).
    pub path: String,
    /// What it runs.
    pub kind: StepKind,
    /// The settings it runs with.
    pub config: TaskConfig,
    /// Where each input comes from.
    pub inputs: BTreeMap<String, Binding>,
    /// Steps to wait for (producers of inputs and `after`), each once, sorted.
    pub upstream: Vec<usize>,
}

impl Step {
    /// The component, for component steps.
    pub fn component(&self) -> Option<&Arc<ComponentSpec>> {
        match &self.kind {
            StepKind::Component(c) => Some(c),
            StepKind::Group { .. } => None,
        }
    }

    /// The component's name, or the group's.
    pub fn label(&self) -> &str {
        match &self.kind {
            StepKind::Component(c) => &c.name,
            StepKind::Group { graph, .. } => &graph.name,
        }
    }
}

/// A flattened pipeline.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The steps, in an order where each comes after its upstream steps (expanded groups
    /// append theirs).
    pub steps: Vec<Step>,
    /// The pipeline's outputs.
    pub outputs: BTreeMap<String, Binding>,
    /// The exit handler's group, to expand when the rest has finished.
    pub exit_handler: Option<Step>,
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A required pipeline parameter has no value.
    #[error("pipeline parameter '{0}' has no default; give it with -p {0}=VALUE")]
    MissingParameter(String),
    /// A parameter that the pipeline does not have.
    #[error("the pipeline has no parameter '{name}' (its parameters: {known})")]
    UnknownParameter {
        /// The name given.
        name: String,
        /// The names there are.
        known: String,
    },
    /// The pipeline takes an artifact input, which a run on its own cannot supply.
    #[error("pipeline input '{0}' is an artifact; only pipelines used as steps take artifacts")]
    ArtifactInput(String),
}

/// What a name means inside one (possibly nested) pipeline.
enum Scope {
    /// A component task or a group: its step index.
    Step(usize),
    /// A nested pipeline task: its output bindings and all its steps.
    Nested(BTreeMap<String, Binding>, Vec<usize>),
}

/// Flattens `graph` with these parameter values (JSON, keyed by name; missing ones take
/// their defaults).
pub fn plan(
    graph: &PipelineGraph,
    params: &BTreeMap<String, serde_json::Value>,
) -> Result<Plan, PlanError> {
    for name in params.keys() {
        if graph.input(name).is_none() {
            let known: Vec<&str> = graph.inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(PlanError::UnknownParameter {
                name: name.clone(),
                known: known.join(", "),
            });
        }
    }
    let mut inputs = BTreeMap::new();
    for input in &graph.inputs {
        if input.ty.is_artifact() || input.ty.is_artifact_list() {
            return Err(PlanError::ArtifactInput(input.name.clone()));
        }
        let value = params
            .get(&input.name)
            .or(input.default.as_ref())
            .ok_or_else(|| PlanError::MissingParameter(input.name.clone()))?;
        inputs.insert(input.name.clone(), Binding::Text(json_to_text(value)));
    }
    let mut steps = Vec::new();
    let (outputs, _) = flatten(graph, "", &inputs, &mut steps, 0);
    let exit_handler = graph.exit_handler.as_deref().map(|task| {
        let bound = task
            .arguments
            .iter()
            .map(|(name, source)| {
                let binding = match source {
                    ValueSource::PipelineInput(input) => inputs.get(input).cloned(),
                    ValueSource::Constant(value) => Some(Binding::Text(json_to_text(value))),
                    _ => None,
                };
                (
                    name.clone(),
                    binding.unwrap_or(Binding::Text(String::new())),
                )
            })
            .collect();
        let graph = match &task.executable {
            Executable::Pipeline(g) => g.clone(),
            Executable::Component(_) => Arc::new(PipelineGraph::new("exit-handler")),
        };
        Step {
            path: task.name.clone(),
            kind: StepKind::Group {
                graph,
                when: None,
                repeat: None,
            },
            config: TaskConfig::default(),
            inputs: bound,
            upstream: Vec::new(),
        }
    });
    Ok(Plan {
        steps,
        outputs,
        exit_handler,
    })
}

/// Appends the steps of `graph` (its inputs bound to `inputs`) to `steps`, naming them under
/// `prefix`; returns the graph's output bindings and the indices of the steps added. Step
/// indices are `base +` a step's position in `steps`: a group expanded at run time flattens
/// into a new list that will follow the `base` steps already there, while `inputs` may refer
/// to those by their own indices.
pub fn flatten(
    graph: &PipelineGraph,
    prefix: &str,
    inputs: &BTreeMap<String, Binding>,
    steps: &mut Vec<Step>,
    base: usize,
) -> (BTreeMap<String, Binding>, Vec<usize>) {
    let first = base + steps.len();
    let mut scope: HashMap<&str, Scope> = HashMap::new();
    let resolve = |source: &ValueSource, scope: &HashMap<&str, Scope>| -> Binding {
        match source {
            ValueSource::Constant(value) => Binding::Text(json_to_text(value)),
            ValueSource::PipelineInput(name) => inputs
                .get(name)
                .cloned()
                .unwrap_or_else(|| Binding::Text(String::new())),
            ValueSource::TaskOutput { task, output } => match scope.get(task.as_str()) {
                Some(Scope::Step(step)) => Binding::Output {
                    step: *step,
                    output: output.clone(),
                },
                Some(Scope::Nested(outputs, _)) => outputs
                    .get(output)
                    .cloned()
                    .unwrap_or_else(|| Binding::Text(String::new())),
                // Validation guarantees producers exist and come first.
                None => Binding::Text(String::new()),
            },
            ValueSource::LoopItem => Binding::Item,
            ValueSource::WorkflowStatus => Binding::Status,
        }
    };
    for task in &graph.tasks {
        let path = format!("{prefix}{}", task.name);
        let mut bound = BTreeMap::new();
        for (name, source) in &task.arguments {
            bound.insert(name.clone(), resolve(source, &scope));
        }
        for input in task.executable.inputs() {
            if let (None, Some(default)) = (bound.get(&input.name), &input.default) {
                bound.insert(input.name.clone(), Binding::Text(json_to_text(default)));
            }
        }
        let mut after: Vec<usize> = Vec::new();
        for other in &task.after {
            match scope.get(other.as_str()) {
                Some(Scope::Step(step)) => after.push(*step),
                Some(Scope::Nested(_, inner)) => after.extend(inner),
                None => {}
            }
        }
        let controlled = task.when.is_some() || task.repeat.is_some();
        match &task.executable {
            Executable::Pipeline(inner) if !controlled => {
                let start = steps.len();
                let (outputs, inner_steps) =
                    flatten(inner, &format!("{path}/"), &bound, steps, base);
                // `after` on the nested task holds back every step inside it.
                for step in &mut steps[start..] {
                    step.upstream.extend(&after);
                    step.upstream.sort_unstable();
                    step.upstream.dedup();
                }
                scope.insert(&task.name, Scope::Nested(outputs, inner_steps));
            }
            executable => {
                let when = task.when.as_ref().map(|c| {
                    let operands = c
                        .operands()
                        .iter()
                        .map(|o| resolve(&o.source, &scope))
                        .collect();
                    (c.clone(), operands)
                });
                let repeat = task.repeat.as_ref().map(|r| {
                    let items = match &r.items {
                        LoopItems::Param(source) => Some(resolve(source, &scope)),
                        _ => None,
                    };
                    (r.clone(), items)
                });
                let kind = match (executable, controlled) {
                    (Executable::Component(c), false) => StepKind::Component(c.clone()),
                    (Executable::Pipeline(g), _) => StepKind::Group {
                        graph: g.clone(),
                        when: when.map(Box::new),
                        repeat: repeat.map(Box::new),
                    },
                    // A component with a condition or loop: a group of that one task.
                    (Executable::Component(c), true) => {
                        let mut single = PipelineGraph::new(c.name.clone());
                        single.inputs = c.inputs.clone();
                        single.tasks.push(crate::ir::graph::Task {
                            name: names_of(c),
                            executable: Executable::Component(c.clone()),
                            arguments: c
                                .inputs
                                .iter()
                                .map(|i| {
                                    (i.name.clone(), ValueSource::PipelineInput(i.name.clone()))
                                })
                                .collect(),
                            after: Vec::new(),
                            config: task.config.clone(),
                            when: None,
                            repeat: None,
                        });
                        single.outputs = c
                            .outputs
                            .iter()
                            .map(|o| crate::ir::graph::PipelineOutput {
                                spec: o.clone(),
                                source: ValueSource::TaskOutput {
                                    task: names_of(c),
                                    output: o.name.clone(),
                                },
                            })
                            .collect();
                        StepKind::Group {
                            graph: Arc::new(single),
                            when: when.map(Box::new),
                            repeat: repeat.map(Box::new),
                        }
                    }
                };
                let mut upstream: Vec<usize> = bound
                    .values()
                    .chain(match &kind {
                        StepKind::Group { when, repeat, .. } => when
                            .iter()
                            .flat_map(|w| w.1.iter())
                            .chain(repeat.iter().filter_map(|r| r.1.as_ref()))
                            .collect::<Vec<_>>(),
                        StepKind::Component(_) => Vec::new(),
                    })
                    .filter_map(|b| match b {
                        Binding::Output { step, .. } => Some(*step),
                        _ => None,
                    })
                    .chain(after)
                    .collect();
                upstream.sort_unstable();
                upstream.dedup();
                steps.push(Step {
                    path,
                    kind,
                    config: task.effective_config(),
                    inputs: bound,
                    upstream,
                });
                scope.insert(&task.name, Scope::Step(base + steps.len() - 1));
            }
        }
    }
    let outputs = graph
        .outputs
        .iter()
        .map(|o| (o.spec.name.clone(), resolve(&o.source, &scope)))
        .collect();
    (outputs, (first..base + steps.len()).collect())
}

fn names_of(component: &ComponentSpec) -> String {
    crate::ir::names::kebab(&component.name)
}

/// Whether a step's input is an artifact.
pub fn is_artifact(step: &Step, input: &str) -> bool {
    step.component()
        .and_then(|c| c.find_input(input))
        .is_some_and(|i| matches!(i.ty, IoType::Artifact(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::{ParamRef, PipelineBuilder, TaskBuilder};
    use crate::ir::param::ParamType;

    fn inc() -> Arc<ComponentSpec> {
        Arc::new(
            ComponentSpec::new("inc")
                .input("x", IoType::Parameter(ParamType::Integer))
                .output("y", IoType::Parameter(ParamType::Integer)),
        )
    }

    fn inner() -> PipelineGraph {
        let builder = PipelineBuilder::new("twice");
        let x: ParamRef<i64> = builder.input("x");
        builder
            .build(|| {
                let once: ParamRef<i64> = TaskBuilder::new(inc()).param("x", x).add().output("y");
                TaskBuilder::new(inc())
                    .param("x", once)
                    .add()
                    .output::<ParamRef<i64>>("y")
            })
            .unwrap()
    }

    #[test]
    fn nested_pipelines_dissolve_into_steps() {
        let nested = Arc::new(inner());
        let builder = PipelineBuilder::new("outer");
        let start: ParamRef<i64> = builder.input_with_default("start", 5i64);
        let graph = builder
            .build(|| {
                let first: ParamRef<i64> =
                    TaskBuilder::new(inc()).param("x", start).add().output("y");
                let twice = TaskBuilder::pipeline(nested).param("x", first).add();
                TaskBuilder::new(inc())
                    .param("x", twice.output::<ParamRef<i64>>("output"))
                    .add()
                    .output::<ParamRef<i64>>("y")
            })
            .unwrap();
        let plan = plan(&graph, &BTreeMap::new()).unwrap();
        let paths: Vec<&str> = plan.steps.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["inc", "twice/inc", "twice/inc-2", "inc-2"]);
        assert_eq!(plan.steps[0].inputs["x"], Binding::Text("5".into()));
        assert_eq!(plan.steps[1].upstream, [0]);
        assert_eq!(
            plan.steps[3].inputs["x"],
            Binding::Output {
                step: 2,
                output: "y".into()
            }
        );
        assert_eq!(
            plan.outputs["output"],
            Binding::Output {
                step: 3,
                output: "y".into()
            }
        );
    }

    #[test]
    fn parameters_are_checked() {
        let graph = inner();
        let err = plan(&graph, &BTreeMap::new()).unwrap_err().to_string();
        assert_eq!(
            err,
            "pipeline parameter 'x' has no default; give it with -p x=VALUE"
        );
        let params = [("y".to_string(), serde_json::json!(1))].into();
        let err = plan(&graph, &params).unwrap_err().to_string();
        assert!(
            err.contains("no parameter 'y' (its parameters: x)"),
            "{err}"
        );
    }
}
