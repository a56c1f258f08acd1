//! The pipeline graph: tasks, the values wired between them, pipeline inputs and outputs.
//!
//! This is the one backend-neutral form of a pipeline. `#[pipeline]` and the `dsl` builder
//! produce it; [`super::validate`] checks it; each backend (the Argo compiler, the local
//! runner, later Kubeflow's IR) reads it. It holds no Argo or YAML specifics.
use std::sync::Arc;

use super::component::{ComponentSpec, InputSpec, IoType, OutputSpec};
use super::config::TaskConfig;
use super::control::{Condition, Loop, LoopItems};
pub use super::value::ValueSource;

/// What a task runs: a component, or a whole pipeline used as one step.
#[derive(Debug, Clone, PartialEq)]
pub enum Executable {
    /// A component.
    Component(Arc<ComponentSpec>),
    /// A nested pipeline.
    Pipeline(Arc<PipelineGraph>),
}

impl Executable {
    /// The component's or pipeline's name.
    pub fn name(&self) -> &str {
        match self {
            Executable::Component(c) => &c.name,
            Executable::Pipeline(p) => &p.name,
        }
    }

    /// Its inputs.
    pub fn inputs(&self) -> &[InputSpec] {
        match self {
            Executable::Component(c) => &c.inputs,
            Executable::Pipeline(p) => &p.inputs,
        }
    }

    /// Its outputs (a repeated task's outputs are lists: see [`Task::output_type`]).
    pub fn outputs(&self) -> Vec<OutputSpec> {
        match self {
            Executable::Component(c) => c.outputs.clone(),
            Executable::Pipeline(p) => p.outputs.iter().map(|o| o.spec.clone()).collect(),
        }
    }

    /// The type of the named output, if it exists.
    pub fn output_type(&self, name: &str) -> Option<IoType> {
        match self {
            Executable::Component(c) => c.find_output(name).map(|o| o.ty.clone()),
            Executable::Pipeline(p) => p
                .outputs
                .iter()
                .find(|o| o.spec.name == name)
                .map(|o| o.spec.ty.clone()),
        }
    }
}

/// One step of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The task's name, unique in its pipeline.
    pub name: String,
    /// What it runs.
    pub executable: Executable,
    /// The value of each input, by input name.
    pub arguments: Vec<(String, ValueSource)>,
    /// Tasks that must finish first although no value flows from them.
    pub after: Vec<String>,
    /// The task's own settings (merged over the component's when it runs).
    pub config: TaskConfig,
    /// Run the task only when this holds (else it is skipped).
    pub when: Option<Condition>,
    /// Run the task once per item of this loop; its outputs then become lists.
    pub repeat: Option<Loop>,
}

impl Task {
    /// The source wired to the named input.
    pub fn argument(&self, input: &str) -> Option<&ValueSource> {
        self.arguments
            .iter()
            .find(|(name, _)| name == input)
            .map(|(_, source)| source)
    }

    /// The names of the tasks this one waits for: producers of its inputs, then `after`,
    /// each once, in first-mention order.
    pub fn upstream(&self) -> Vec<&str> {
        let mut found: Vec<&str> = Vec::new();
        let mut sources: Vec<&ValueSource> = self.arguments.iter().map(|(_, s)| s).collect();
        if let Some(condition) = &self.when {
            sources.extend(condition.operands().into_iter().map(|o| &o.source));
        }
        if let Some(Loop {
            items: LoopItems::Param(source),
            ..
        }) = &self.repeat
        {
            sources.push(source);
        }
        let producers = sources.into_iter().filter_map(|s| match s {
            ValueSource::TaskOutput { task, .. } => Some(task.as_str()),
            _ => None,
        });
        for name in producers.chain(self.after.iter().map(String::as_str)) {
            if !found.contains(&name) {
                found.push(name);
            }
        }
        found
    }

    /// The type of one of this task's outputs as other tasks see it: a parameter output of a
    /// repeated task is the list of every iteration's values, an artifact output the list of
    /// every iteration's artifacts.
    pub fn output_type(&self, name: &str) -> Option<IoType> {
        let ty = self.executable.output_type(name)?;
        Some(match (&self.repeat, ty) {
            (Some(_), IoType::Parameter(_)) => IoType::Parameter(super::param::ParamType::List),
            (Some(_), IoType::Artifact(title)) => IoType::ArtifactList(title),
            (_, ty) => ty,
        })
    }

    /// The settings this task runs with: its own over its component's.
    pub fn effective_config(&self) -> TaskConfig {
        match &self.executable {
            Executable::Component(c) => self.config.merged_over(&c.config),
            Executable::Pipeline(_) => self.config.clone(),
        }
    }
}

/// A pipeline output: a name, a type and the task output it forwards.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineOutput {
    /// Name and type.
    pub spec: OutputSpec,
    /// Where its value comes from.
    pub source: ValueSource,
}

/// A whole pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineGraph {
    /// The pipeline's name (the workflow name's prefix on Argo).
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// Pipeline parameters (and, for pipelines used as steps, artifact inputs).
    pub inputs: Vec<InputSpec>,
    /// The tasks, in the order they were added.
    pub tasks: Vec<Task>,
    /// What the pipeline returns.
    pub outputs: Vec<PipelineOutput>,
    /// A task that runs when the pipeline has finished, whatever the outcome (root pipelines
    /// only); it may read [`ValueSource::WorkflowStatus`] and the pipeline's inputs.
    pub exit_handler: Option<Box<Task>>,
}

impl PipelineGraph {
    /// An empty pipeline with this name.
    pub fn new(name: impl Into<String>) -> Self {
        PipelineGraph {
            name: name.into(),
            description: None,
            inputs: Vec::new(),
            tasks: Vec::new(),
            outputs: Vec::new(),
            exit_handler: None,
        }
    }

    /// The task with this name.
    pub fn task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// The pipeline input with this name.
    pub fn input(&self, name: &str) -> Option<&InputSpec> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// Every component used, here and in nested pipelines, each once, in first-use order.
    pub fn components(&self) -> Vec<Arc<ComponentSpec>> {
        let mut found: Vec<Arc<ComponentSpec>> = Vec::new();
        self.visit_components(&mut found);
        found
    }

    fn visit_components(&self, found: &mut Vec<Arc<ComponentSpec>>) {
        for task in self.tasks.iter().chain(self.exit_handler.as_deref()) {
            match &task.executable {
                Executable::Component(c) => {
                    if !found.iter().any(|f| Arc::ptr_eq(f, c) || **f == **c) {
                        found.push(c.clone());
                    }
                }
                Executable::Pipeline(p) => p.visit_components(found),
            }
        }
    }
}
