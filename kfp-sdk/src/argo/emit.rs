//! The Argo compiler: one container template per component (per distinct task settings),
//! one DAG template per pipeline, parameters and artifacts wired through Argo's variables.
//!
//! Inside a step's container the pipeline binary runs `component-exec NAME`: every input
//! and output is a file at its conventional place under `/tmp/kfp` (see
//! [`paths`]). Parameter values reach it as raw input artifacts (files Argo writes from
//! `{{inputs.parameters.NAME}}`), never through argv or a shell, so any value arrives intact
//! whatever its size or characters.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1 as corev1;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::model;
use crate::component::{CommandPart, ComponentSpec, Implementation, IoType};
use crate::config::{Resources, TaskConfig};
use crate::control::LoopItems;
use crate::graph::{Executable, PipelineGraph, Task, ValueSource};
use crate::names;
use crate::param::json_to_text;
use crate::validate::{ValidationErrors, validate};

/// Where things are inside a step's container.
pub mod paths {
    /// The folder everything lives in (under `/tmp`, writable by any user).
    pub const ROOT: &str = "/tmp/kfp";

    /// The file holding parameter input `name`.
    pub fn param_input(name: &str) -> String {
        format!("{ROOT}/in/{name}")
    }

    /// Where artifact input `name` is placed.
    ///
    /// An artifact made by a Rust component is a folder holding the payload as
    /// [`ARTIFACT_DATA`] (a file or a folder) and its metadata as [`ARTIFACT_METADATA`], so
    /// the metadata travels with the artifact; input names are unique, so parameters and
    /// artifacts share the `in` folder.
    pub fn artifact_input(name: &str) -> String {
        format!("{ROOT}/in/{name}")
    }

    /// Where parameter output `name` is written.
    pub fn param_output(name: &str) -> String {
        format!("{ROOT}/out/{name}")
    }

    /// Where artifact output `name` is written (a folder; see [`artifact_input`]).
    pub fn artifact_output(name: &str) -> String {
        format!("{ROOT}/out/{name}")
    }

    /// The payload inside an artifact folder.
    pub const ARTIFACT_DATA: &str = "data";

    /// The metadata (a JSON object) inside an artifact folder.
    pub const ARTIFACT_METADATA: &str = "metadata.json";

    /// The name of the raw artifact carrying parameter `name` (a `-` never occurs in a Rust
    /// identifier, so this cannot clash with a real artifact input).
    pub fn param_artifact(name: &str) -> String {
        format!("kfp-param-{name}")
    }
}

/// Settings of the Argo compiler.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgoOptions {
    /// The image of components that name none: the image holding the pipeline binary.
    pub image: String,
    /// The path of the pipeline binary inside that image.
    pub binary: String,
    /// Workflow-level options: name, namespace, service account, pod GC, TTL, ...
    pub workflow: super::WorkflowOptions,
}

impl ArgoOptions {
    /// Components run `binary` inside `image` unless they say otherwise.
    pub fn new(image: impl Into<String>, binary: impl Into<String>) -> Self {
        ArgoOptions {
            image: image.into(),
            binary: binary.into(),
            workflow: super::WorkflowOptions::default(),
        }
    }
}

/// Why a pipeline could not be compiled for Argo.
#[derive(Debug, thiserror::Error)]
pub enum ArgoError {
    /// The graph breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// Argo cannot express this pipeline.
    #[error("pipeline '{pipeline}': {message}")]
    Unsupported {
        /// The pipeline.
        pipeline: String,
        /// Why.
        message: String,
    },
    /// YAML serialisation failed.
    #[error("could not write YAML: {0}")]
    Yaml(String),
    /// The compiled resource breaks a rule Argo checks when it is submitted.
    #[error(transparent)]
    Lint(#[from] super::LintErrors),
}

/// The SDK version recorded in a label of every workflow.
const SDK_LABEL: (&str, &str) = (
    "pipelines.kubeflow.org/kfp_sdk_version",
    concat!("kfp-rs-", env!("CARGO_PKG_VERSION")),
);

/// Compiles a pipeline graph into an Argo Workflow (validating it first).
pub fn compile(graph: &PipelineGraph, options: &ArgoOptions) -> Result<model::Workflow, ArgoError> {
    validate(graph)?;
    if let Some(input) = graph.inputs.iter().find(|i| i.ty.is_artifact()) {
        return Err(ArgoError::Unsupported {
            pipeline: graph.name.clone(),
            message: format!(
                "input '{}' is an artifact; a pipeline run on its own takes only parameters \
                 (artifact inputs are for pipelines used as a step of another)",
                input.name
            ),
        });
    }
    let mut emitter = Emitter {
        options,
        templates: Vec::new(),
        taken: names::UniqueNames::default(),
        component_templates: HashMap::new(),
        pipeline_templates: HashMap::new(),
    };
    let entrypoint = emitter.pipeline_template(graph, true, &[]);
    let arguments = graph
        .inputs
        .iter()
        .map(|input| model::Parameter {
            name: input.name.clone(),
            value: input.default.as_ref().map(json_to_text),
            description: input.description.clone(),
            ..Default::default()
        })
        .collect::<Vec<_>>();
    let mut annotations = BTreeMap::new();
    if let Some(description) = &graph.description {
        annotations.insert(
            "workflows.argoproj.io/description".to_owned(),
            description.clone(),
        );
    }
    let metadata = metav1::ObjectMeta {
        generate_name: Some(format!("{}-", graph.name)),
        annotations: (!annotations.is_empty()).then_some(annotations),
        labels: Some(BTreeMap::from([(
            SDK_LABEL.0.to_owned(),
            SDK_LABEL.1.to_owned(),
        )])),
        ..Default::default()
    };
    let hooks = graph.exit_handler.as_deref().map(|exit| {
        let template = emitter.template_of(exit, &[]);
        // The hook runs outside the DAG: pipeline parameters are workflow parameters there.
        let mut parameters = exit
            .arguments
            .iter()
            .map(|(name, source)| model::Parameter {
                name: name.clone(),
                value: Some(match source {
                    ValueSource::PipelineInput(input) => {
                        format!("{{{{workflow.parameters.{input}}}}}")
                    }
                    other => parameter_value(other),
                }),
                ..Default::default()
            })
            .collect::<Vec<_>>();
        if let Executable::Pipeline(inner) = &exit.executable
            && collects_artifacts(inner)
        {
            parameters.push(model::Parameter {
                name: FAN_IN_BASE.to_owned(),
                value: Some(format!("{FAN_IN_ROOT}/{}", exit.name)),
                ..Default::default()
            });
        }
        let hook = model::LifecycleHook {
            template: Some(template),
            arguments: (!parameters.is_empty()).then_some(model::Arguments {
                parameters: Some(parameters),
                artifacts: None,
            }),
            ..Default::default()
        };
        BTreeMap::from([("exit".to_owned(), hook)])
    });
    let spec = model::WorkflowSpec {
        entrypoint: Some(entrypoint),
        hooks,
        arguments: (!arguments.is_empty()).then_some(model::Arguments {
            parameters: Some(arguments),
            artifacts: None,
        }),
        templates: Some(emitter.templates),
        ..Default::default()
    };
    let mut workflow = model::Workflow::new(metadata, spec);
    let mut used: Vec<(&String, &TaskConfig)> = emitter
        .component_templates
        .iter()
        .map(|((_, config, _), name)| (name, config))
        .collect();
    used.sort_by_key(|(name, _)| *name);
    super::workflow_options::apply(
        &options.workflow,
        used.into_iter().map(|(_, config)| config),
        &mut workflow,
    );
    super::lint::check_workflow(&workflow)?;
    Ok(workflow)
}

/// The most DAG tasks per template, and templates per workflow, that Argo's full CRD allows.
pub const FULL_CRD_MAX_ITEMS: usize = 200;

/// Limits of Argo's *full* CRD (an optional install; the default minimal CRDs do not check
/// them) that this workflow exceeds, one message each.
pub fn full_crd_warnings(workflow: &model::Workflow) -> Vec<String> {
    let templates = workflow.spec.templates.as_deref().unwrap_or_default();
    let mut warnings = Vec::new();
    if templates.len() > FULL_CRD_MAX_ITEMS {
        warnings.push(format!(
            "the workflow has {} templates; Argo's full CRD allows {FULL_CRD_MAX_ITEMS}",
            templates.len()
        ));
    }
    for template in templates {
        if let Some(dag) = &template.dag
            && dag.tasks.len() > FULL_CRD_MAX_ITEMS
        {
            warnings.push(format!(
                "DAG template '{}' has {} tasks; Argo's full CRD allows {FULL_CRD_MAX_ITEMS}                  (clusters with the default minimal CRDs accept it; otherwise split the                  pipeline into nested pipelines)",
                template.name.as_deref().unwrap_or_default(),
                dag.tasks.len()
            ));
        }
    }
    warnings
}

/// Writes an Argo resource (or anything serialisable) as YAML.
pub fn to_yaml<T: serde::Serialize>(resource: &T) -> Result<String, ArgoError> {
    serde_saphyr::to_string(resource).map_err(|e| ArgoError::Yaml(e.to_string()))
}

struct Emitter<'a> {
    options: &'a ArgoOptions,
    templates: Vec<model::Template>,
    taken: names::UniqueNames,
    /// (component name, effective settings, outputs collected by a loop) → template name.
    component_templates: HashMap<(String, TaskConfig, Vec<String>), String>,
    /// (nested pipeline's address, outputs collected by a loop) → template name.
    pipeline_templates: HashMap<(usize, Vec<String>), String>,
}

/// The key prefix, in the artifact repository, under which the loops of the root DAG collect
/// artifacts: unique per run.
pub const FAN_IN_ROOT: &str = "kfp-rs/{{workflow.uid}}";

/// The input parameter of a nested DAG template that holds the key prefix under which its
/// loops collect artifacts (the caller's prefix and the calling task's name), so that two
/// uses of one nested pipeline never share keys.
pub const FAN_IN_BASE: &str = "kfp-fan-in";

/// The input parameter of a template variant holding the key prefix under which it uploads
/// artifact output `output`, one folder per pod (`PREFIX/{{pod.name}}`), for a loop to
/// collect.
pub fn fan_in_param(output: &str) -> String {
    format!("{FAN_IN_BASE}-{output}")
}

/// The key prefix under which loop task `task` of a DAG with prefix `base` collects its
/// artifact output `output`. The last, fixed part keeps one prefix from being the start of
/// another (`a/output` and `a/output2`) for stores that list by plain prefix, like GCS.
pub fn collected_prefix(base: &str, task: &str, output: &str) -> String {
    format!("{base}/{task}/{output}/collected")
}

/// Whether a pipeline, or a pipeline it runs (not as a loop body), has a loop that collects
/// artifacts, and so needs a key prefix of its own.
fn collects_artifacts(graph: &PipelineGraph) -> bool {
    graph
        .tasks
        .iter()
        .any(|task| match (&task.repeat, &task.executable) {
            (Some(_), executable) => executable.outputs().iter().any(|o| o.ty.is_artifact()),
            (None, Executable::Pipeline(inner)) => collects_artifacts(inner),
            (None, Executable::Component(_)) => false,
        })
}

/// What a DAG template being made needs to wire artifact fan-in.
struct DagContext {
    /// The key prefix of this DAG's loops.
    base: String,
    /// Tasks whose artifact outputs become this DAG's collected outputs: task name →
    /// (output, key-prefix expression).
    fan_out: HashMap<String, Vec<(String, String)>>,
}

fn some_vec<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

/// The Argo expression for a value inside a DAG: `{{inputs.parameters.x}}`,
/// `{{tasks.t.outputs.artifacts.y}}`, ...
fn reference(source: &ValueSource, artifact: bool) -> Option<String> {
    let kind = if artifact { "artifacts" } else { "parameters" };
    match source {
        ValueSource::Constant(_) => None,
        ValueSource::PipelineInput(name) => Some(format!("{{{{inputs.{kind}.{name}}}}}")),
        ValueSource::TaskOutput { task, output } => {
            Some(format!("{{{{tasks.{task}.outputs.{kind}.{output}}}}}"))
        }
        ValueSource::LoopItem => Some("{{item}}".to_owned()),
        ValueSource::WorkflowStatus => Some("{{workflow.status}}".to_owned()),
    }
}

/// A parameter value inside a DAG: a constant's text, or a reference.
fn parameter_value(source: &ValueSource) -> String {
    match source {
        ValueSource::Constant(value) => json_to_text(value),
        other => reference(other, false).unwrap_or_default(),
    }
}

/// Sets a DAG task's loop fields.
fn set_loop(task: &mut model::DAGTask, items: &LoopItems) {
    match items {
        LoopItems::Static(values) => {
            task.with_items = Some(values.iter().cloned().map(model::Item).collect());
        }
        LoopItems::Range { start, end } => {
            let int = |n: i64| IntOrString::Int(n.clamp(i32::MIN as i64, i32::MAX as i64) as i32);
            task.with_sequence = Some(model::Sequence {
                count: Some(int((end - start).max(0))),
                start: Some(int(*start)),
                ..Default::default()
            });
        }
        LoopItems::Param(source) => task.with_param = reference(source, false),
    }
}

impl Emitter<'_> {
    fn reserve(&mut self, base: &str) -> String {
        self.taken.unique(base)
    }

    /// The DAG template of `graph`; the artifact outputs named in `fan_out` are uploaded
    /// under key prefixes given as input parameters, for the loop repeating it to collect.
    fn pipeline_template(
        &mut self,
        graph: &PipelineGraph,
        root: bool,
        fan_out: &[String],
    ) -> String {
        let name = self.reserve(&names::kebab(&graph.name));
        // Reserve the position so that the entrypoint comes first in the YAML.
        let position = self.templates.len();
        self.templates.push(model::Template::default());
        let own_base = !root && collects_artifacts(graph);
        let mut context = DagContext {
            base: if own_base {
                format!("{{{{inputs.parameters.{FAN_IN_BASE}}}}}")
            } else {
                FAN_IN_ROOT.to_owned()
            },
            fan_out: HashMap::new(),
        };
        for out in fan_out {
            if let Some(found) = graph.outputs.iter().find(|o| &o.spec.name == out)
                && let ValueSource::TaskOutput { task, output } = &found.source
            {
                context.fan_out.entry(task.clone()).or_default().push((
                    output.clone(),
                    format!("{{{{inputs.parameters.{}}}}}", fan_in_param(out)),
                ));
            }
        }
        let tasks = graph
            .tasks
            .iter()
            .map(|task| self.dag_task(task, &context))
            .collect();
        let mut in_params: Vec<model::Parameter> = graph
            .inputs
            .iter()
            .filter(|i| !i.ty.is_artifact())
            .map(|i| model::Parameter {
                name: i.name.clone(),
                // The root's defaults live in spec.arguments; nested ones here.
                default: if root {
                    None
                } else {
                    i.default.as_ref().map(json_to_text)
                },
                ..Default::default()
            })
            .collect();
        let prefixes = own_base
            .then(|| FAN_IN_BASE.to_owned())
            .into_iter()
            .chain(fan_out.iter().map(|o| fan_in_param(o)));
        in_params.extend(prefixes.map(|name| model::Parameter {
            name,
            ..Default::default()
        }));
        let inputs = model::Inputs {
            parameters: some_vec(in_params),
            artifacts: some_vec(
                graph
                    .inputs
                    .iter()
                    .filter(|i| i.ty.is_artifact())
                    .map(|i| model::Artifact {
                        name: i.name.clone(),
                        ..Default::default()
                    })
                    .collect(),
            ),
        };
        let mut out_params = Vec::new();
        let mut out_artifacts = Vec::new();
        for output in &graph.outputs {
            if output.spec.ty.is_artifact() {
                out_artifacts.push(model::Artifact {
                    name: output.spec.name.clone(),
                    from: reference(&output.source, true),
                    // Collected through its key, so a skipped producer is no error.
                    optional: fan_out.contains(&output.spec.name).then_some(true),
                    ..Default::default()
                });
            } else {
                let value_from = match &output.source {
                    ValueSource::Constant(value) => model::ValueFrom {
                        expression: Some(
                            serde_json::to_string(&json_to_text(value)).unwrap_or_default(),
                        ),
                        ..Default::default()
                    },
                    other => model::ValueFrom {
                        parameter: reference(other, false),
                        ..Default::default()
                    },
                };
                out_params.push(model::Parameter {
                    name: output.spec.name.clone(),
                    value_from: Some(value_from),
                    ..Default::default()
                });
            }
        }
        self.templates[position] = model::Template {
            name: Some(name.clone()),
            inputs: (inputs != model::Inputs::default()).then_some(inputs),
            outputs: (!out_params.is_empty() || !out_artifacts.is_empty()).then(|| {
                model::Outputs {
                    parameters: some_vec(out_params),
                    artifacts: some_vec(out_artifacts),
                    ..Default::default()
                }
            }),
            dag: Some(Box::new(model::DAGTemplate {
                tasks,
                ..Default::default()
            })),
            ..Default::default()
        };
        name
    }

    /// The template a task runs (made on first use); the artifact outputs named in
    /// `fan_out` are uploaded for a loop to collect (a template variant).
    fn template_of(&mut self, task: &Task, fan_out: &[String]) -> String {
        match &task.executable {
            Executable::Component(spec) => {
                self.component_template(spec, &task.effective_config(), fan_out)
            }
            Executable::Pipeline(inner) => {
                let key = (Arc::as_ptr(inner) as usize, fan_out.to_vec());
                match self.pipeline_templates.get(&key) {
                    Some(existing) => existing.clone(),
                    None => {
                        let created = self.pipeline_template(inner, false, fan_out);
                        self.pipeline_templates.insert(key, created.clone());
                        created
                    }
                }
            }
        }
    }

    /// The arguments a task passes to its template.
    fn arguments(&self, task: &Task, context: &DagContext) -> Option<model::Arguments> {
        let mut parameters = Vec::new();
        let mut artifacts = Vec::new();
        for input in task.executable.inputs() {
            let Some(source) = task.argument(&input.name) else {
                continue;
            };
            if input.ty.is_artifact_list() {
                // On Argo a list of artifacts is a key prefix: a component downloads the
                // whole prefix (a key-only artifact; nothing there is an empty list), a DAG
                // passes the prefix on as a parameter.
                let prefix = match source {
                    ValueSource::TaskOutput { task, output } => {
                        collected_prefix(&context.base, task, output)
                    }
                    other => parameter_value(other),
                };
                match &task.executable {
                    Executable::Component(_) => artifacts.push(model::Artifact {
                        name: input.name.clone(),
                        optional: Some(true),
                        ..self.options.workflow.fan_in_storage.key_only(prefix)
                    }),
                    Executable::Pipeline(_) => parameters.push(model::Parameter {
                        name: input.name.clone(),
                        value: Some(prefix),
                        ..Default::default()
                    }),
                }
            } else if input.ty.is_artifact() {
                artifacts.push(model::Artifact {
                    name: input.name.clone(),
                    from: reference(source, true),
                    ..Default::default()
                });
            } else {
                parameters.push(model::Parameter {
                    name: input.name.clone(),
                    value: Some(parameter_value(source)),
                    ..Default::default()
                });
            }
        }
        (!parameters.is_empty() || !artifacts.is_empty()).then(|| model::Arguments {
            parameters: some_vec(parameters),
            artifacts: some_vec(artifacts),
        })
    }

    /// One DAG task: its template, arguments, dependencies, condition and loop.
    fn dag_task(&mut self, task: &Task, context: &DagContext) -> model::DAGTask {
        // The key prefixes of the artifact outputs this task uploads for a loop: its own,
        // when it is a loop collecting artifacts, or its DAG's collected outputs.
        let fan_out: Vec<(String, String)> = if task.repeat.is_some() {
            task.executable
                .outputs()
                .iter()
                .filter(|o| o.ty.is_artifact())
                .map(|o| {
                    let prefix = collected_prefix(&context.base, &task.name, &o.name);
                    (o.name.clone(), prefix)
                })
                .collect()
        } else {
            context.fan_out.get(&task.name).cloned().unwrap_or_default()
        };
        let fan_out_names: Vec<String> = fan_out.iter().map(|(o, _)| o.clone()).collect();
        let template = self.template_of(task, &fan_out_names);
        let mut prefixes: Vec<(String, String)> = fan_out
            .into_iter()
            .map(|(output, prefix)| (fan_in_param(&output), prefix))
            .collect();
        if let (None, Executable::Pipeline(inner)) = (&task.repeat, &task.executable)
            && collects_artifacts(inner)
        {
            prefixes.push((
                FAN_IN_BASE.to_owned(),
                format!("{}/{}", context.base, task.name),
            ));
        }
        let mut arguments = self.arguments(task, context);
        if !prefixes.is_empty() {
            let arguments = arguments.get_or_insert_with(model::Arguments::default);
            let parameters = arguments.parameters.get_or_insert_with(Vec::new);
            parameters.extend(prefixes.iter().map(|(name, value)| model::Parameter {
                name: name.clone(),
                value: Some(value.clone()),
                ..Default::default()
            }));
        }
        let upstream = task.upstream();
        let mut dag_task = model::DAGTask {
            name: task.name.clone(),
            template: Some(template.clone()),
            depends: (!upstream.is_empty()).then(|| upstream.join(" && ")),
            arguments,
            when: task.when.as_ref().map(super::condition::when_field),
            ..Default::default()
        };
        if let Some(repeat) = &task.repeat {
            match repeat.parallelism {
                None => set_loop(&mut dag_task, &repeat.items),
                Some(limit) => {
                    // Argo limits parallelism per template: a driver template holds the
                    // loop alone, so the limit applies to its iterations only.
                    let extra: Vec<String> = prefixes.into_iter().map(|(name, _)| name).collect();
                    let driver = self.loop_driver(task, &template, limit, &extra);
                    dag_task.template = Some(driver);
                    if let Some(arguments) = &mut dag_task.arguments {
                        if let Some(parameters) = &mut arguments.parameters {
                            parameters.retain(|p| p.name != "item");
                        }
                        if let LoopItems::Param(source) = &repeat.items {
                            arguments.parameters.get_or_insert_with(Vec::new).push(
                                model::Parameter {
                                    name: "kfp-loop-items".into(),
                                    value: Some(parameter_value(source)),
                                    ..Default::default()
                                },
                            );
                        }
                    }
                }
            }
        }
        dag_task
    }

    /// A DAG template that runs `body` once per item of `task`'s loop, at most `limit` at a
    /// time, and passes the collected outputs on.
    fn loop_driver(&mut self, task: &Task, body: &str, limit: u32, extra: &[String]) -> String {
        let name = self.reserve(&format!("{body}-loop"));
        let inputs: Vec<&crate::component::InputSpec> = task
            .executable
            .inputs()
            .iter()
            .filter(|i| i.name != "item")
            .collect();
        let mut parameters: Vec<model::Parameter> = inputs
            .iter()
            .filter(|i| !i.ty.is_artifact())
            .map(|i| model::Parameter {
                name: i.name.clone(),
                value: Some(format!("{{{{inputs.parameters.{}}}}}", i.name)),
                ..Default::default()
            })
            .collect();
        parameters.extend(extra.iter().map(|name| model::Parameter {
            name: name.clone(),
            value: Some(format!("{{{{inputs.parameters.{name}}}}}")),
            ..Default::default()
        }));
        parameters.push(model::Parameter {
            name: "item".into(),
            value: Some("{{item}}".into()),
            ..Default::default()
        });
        let artifacts: Vec<model::Artifact> = inputs
            .iter()
            .filter(|i| i.ty.is_artifact())
            .map(|i| model::Artifact {
                name: i.name.clone(),
                from: Some(format!("{{{{inputs.artifacts.{}}}}}", i.name)),
                ..Default::default()
            })
            .collect();
        let mut iterate = model::DAGTask {
            name: "iteration".into(),
            template: Some(body.to_owned()),
            arguments: Some(model::Arguments {
                parameters: some_vec(parameters),
                artifacts: some_vec(artifacts.clone()),
            }),
            ..Default::default()
        };
        let items = match &task.repeat.as_ref().map(|r| &r.items) {
            Some(LoopItems::Param(_)) => {
                LoopItems::Param(ValueSource::PipelineInput("kfp-loop-items".into()))
            }
            Some(other) => (*other).clone(),
            None => LoopItems::Static(Vec::new()),
        };
        set_loop(&mut iterate, &items);
        let mut input_parameters: Vec<model::Parameter> = inputs
            .iter()
            .filter(|i| !i.ty.is_artifact())
            .map(|i| model::Parameter {
                name: i.name.clone(),
                ..Default::default()
            })
            .collect();
        input_parameters.extend(extra.iter().map(|name| model::Parameter {
            name: name.clone(),
            ..Default::default()
        }));
        if matches!(items, LoopItems::Param(_)) {
            input_parameters.push(model::Parameter {
                name: "kfp-loop-items".into(),
                ..Default::default()
            });
        }
        let input_artifacts: Vec<model::Artifact> = artifacts
            .iter()
            .map(|a| model::Artifact {
                name: a.name.clone(),
                ..Default::default()
            })
            .collect();
        let outputs: Vec<model::Parameter> = task
            .executable
            .outputs()
            .iter()
            .filter(|o| !o.ty.is_artifact())
            .map(|o| model::Parameter {
                name: o.name.clone(),
                value_from: Some(model::ValueFrom {
                    parameter: Some(format!(
                        "{{{{tasks.iteration.outputs.parameters.{}}}}}",
                        o.name
                    )),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        self.templates.push(model::Template {
            name: Some(name.clone()),
            inputs: Some(model::Inputs {
                parameters: some_vec(input_parameters),
                artifacts: some_vec(input_artifacts),
            })
            .filter(|i| *i != model::Inputs::default()),
            outputs: (!outputs.is_empty()).then(|| model::Outputs {
                parameters: Some(outputs),
                ..Default::default()
            }),
            parallelism: Some(i64::from(limit)),
            dag: Some(Box::new(model::DAGTemplate {
                tasks: vec![iterate],
                ..Default::default()
            })),
            ..Default::default()
        });
        name
    }

    fn component_template(
        &mut self,
        spec: &ComponentSpec,
        config: &TaskConfig,
        fan_out: &[String],
    ) -> String {
        let key = (spec.name.clone(), config.clone(), fan_out.to_vec());
        if let Some(existing) = self.component_templates.get(&key) {
            return existing.clone();
        }
        let name = self.reserve(&names::kebab(&spec.name));
        self.component_templates.insert(key, name.clone());
        let template = self.container_template(&name, spec, config, fan_out);
        self.templates.push(template);
        name
    }

    fn container_template(
        &self,
        name: &str,
        spec: &ComponentSpec,
        config: &TaskConfig,
        fan_out: &[String],
    ) -> model::Template {
        let mut in_params = Vec::new();
        let mut in_artifacts = Vec::new();
        // Every input and output is at its conventional place under `paths::ROOT`, the
        // executor's default root, so the arguments are just the component's name.
        let args: Vec<String> = vec!["component-exec".into(), spec.name.clone()];
        let executor = matches!(spec.implementation, Implementation::Executor);
        for input in &spec.inputs {
            match &input.ty {
                IoType::Parameter(_) => {
                    in_params.push(model::Parameter {
                        name: input.name.clone(),
                        default: input.default.as_ref().map(json_to_text),
                        ..Default::default()
                    });
                    if executor {
                        let path = paths::param_input(&input.name);
                        in_artifacts.push(model::Artifact {
                            name: paths::param_artifact(&input.name),
                            path: Some(path),
                            raw: Some(model::RawArtifact {
                                data: format!("{{{{inputs.parameters.{}}}}}", input.name),
                            }),
                            ..Default::default()
                        });
                    }
                }
                IoType::Artifact(_) => {
                    let path = paths::artifact_input(&input.name);
                    in_artifacts.push(model::Artifact {
                        name: input.name.clone(),
                        path: Some(path.clone()),
                        ..Default::default()
                    });
                }
                IoType::ArtifactList(_) => {
                    // A folder with one entry per artifact; absent when there is none.
                    in_artifacts.push(model::Artifact {
                        name: input.name.clone(),
                        path: Some(paths::artifact_input(&input.name)),
                        optional: Some(true),
                        ..Default::default()
                    });
                }
            }
        }
        for output in fan_out {
            in_params.push(model::Parameter {
                name: fan_in_param(output),
                ..Default::default()
            });
        }
        let mut out_params = Vec::new();
        let mut out_artifacts = Vec::new();
        for output in &spec.outputs {
            match &output.ty {
                IoType::Parameter(_) => {
                    let path = paths::param_output(&output.name);
                    out_params.push(model::Parameter {
                        name: output.name.clone(),
                        value_from: Some(model::ValueFrom {
                            path: Some(path.clone()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    });
                }
                IoType::Artifact(_) if fan_out.contains(&output.name) => {
                    // Uploaded as a folder of separate objects under the loop's prefix, one
                    // folder per pod (unique per iteration and retry), for the consumer to
                    // download the whole prefix.
                    let key = format!(
                        "{{{{inputs.parameters.{}}}}}/{{{{pod.name}}}}",
                        fan_in_param(&output.name)
                    );
                    out_artifacts.push(model::Artifact {
                        name: output.name.clone(),
                        path: Some(paths::artifact_output(&output.name)),
                        archive: Some(model::ArchiveStrategy {
                            none: Some(model::NoneStrategy {}),
                            ..Default::default()
                        }),
                        ..self.options.workflow.fan_in_storage.key_only(key)
                    });
                }
                IoType::Artifact(_) => {
                    let path = paths::artifact_output(&output.name);
                    out_artifacts.push(model::Artifact {
                        name: output.name.clone(),
                        path: Some(path),
                        ..Default::default()
                    });
                }
                // Validation rejects components with such outputs.
                IoType::ArtifactList(_) => {}
            }
        }
        let (image, command, args) = match &spec.implementation {
            Implementation::Executor => {
                let image = config
                    .image
                    .clone()
                    .or_else(|| spec.image.clone())
                    .unwrap_or_else(|| self.options.image.clone());
                (image, vec![self.options.binary.clone()], args)
            }
            Implementation::Container { image, command } => {
                let line = command
                    .iter()
                    .map(|part| match part {
                        CommandPart::Literal(text) => text.clone(),
                        CommandPart::InputValue(n) => format!("{{{{inputs.parameters.{n}}}}}"),
                        CommandPart::InputPath(n) => paths::artifact_input(n),
                        CommandPart::OutputPath(n) => {
                            if spec.find_output(n).is_some_and(|o| o.ty.is_artifact()) {
                                paths::artifact_output(n)
                            } else {
                                paths::param_output(n)
                            }
                        }
                    })
                    .collect();
                (
                    config.image.clone().unwrap_or_else(|| image.clone()),
                    line,
                    Vec::new(),
                )
            }
        };
        let env = config
            .env
            .iter()
            .map(|(name, value)| corev1::EnvVar {
                name: name.clone(),
                value: Some(value.clone()),
                ..Default::default()
            })
            .collect();
        let container = corev1::Container {
            name: "main".into(),
            image: Some(image),
            command: Some(command),
            args: some_vec(args),
            env: some_vec(env),
            resources: resources(&config.resources),
            ..Default::default()
        };
        let mut annotations = BTreeMap::new();
        if let Some(display) = &config.display_name {
            annotations.insert(
                "pipelines.kubeflow.org/task_display_name".to_owned(),
                display.clone(),
            );
        }
        if config.caching == Some(false) {
            annotations.insert(
                "pipelines.kubeflow.org/max_cache_staleness".to_owned(),
                "P0D".into(),
            );
        }
        let inputs = model::Inputs {
            parameters: some_vec(in_params),
            artifacts: some_vec(in_artifacts),
        };
        let outputs = model::Outputs {
            parameters: some_vec(out_params),
            artifacts: some_vec(out_artifacts),
            ..Default::default()
        };
        let mut template = model::Template {
            name: Some(name.to_owned()),
            metadata: (!annotations.is_empty()).then_some(model::Metadata {
                annotations: Some(annotations),
                labels: None,
            }),
            inputs: (inputs != model::Inputs::default()).then_some(inputs),
            outputs: (outputs != model::Outputs::default()).then_some(outputs),
            container: Some(container),
            active_deadline_seconds: config
                .timeout_seconds
                .map(|s| IntOrString::Int(s.min(i32::MAX as u64) as i32)),
            retry_strategy: config.retry.as_ref().map(|retry| model::RetryStrategy {
                limit: Some(IntOrString::Int(retry.limit.min(i32::MAX as u32) as i32)),
                backoff: retry.backoff.as_ref().map(|b| model::Backoff {
                    duration: Some(b.duration.clone()),
                    factor: Some(IntOrString::Int(b.factor.min(i32::MAX as u32) as i32)),
                    max_duration: b.max_duration.clone(),
                    cap: b.cap.clone(),
                }),
                retry_policy: retry.policy.map(|p| p.as_str().to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        };
        crate::kubernetes::apply(config, &spec.name, &mut template);
        template
    }
}

fn resources(r: &Resources) -> Option<corev1::ResourceRequirements> {
    if r.is_empty() {
        return None;
    }
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    let put = |map: &mut BTreeMap<String, Quantity>, key: &str, value: &Option<String>| {
        if let Some(v) = value {
            map.insert(key.to_owned(), Quantity(v.clone()));
        }
    };
    put(&mut requests, "cpu", &r.cpu_request);
    put(&mut requests, "memory", &r.memory_request);
    put(&mut limits, "cpu", &r.cpu_limit);
    put(&mut limits, "memory", &r.memory_limit);
    if let Some(gpus) = r.gpus.filter(|n| *n > 0) {
        let resource = r
            .accelerator
            .clone()
            .unwrap_or_else(|| "nvidia.com/gpu".into());
        limits.insert(resource, Quantity(gpus.to_string()));
    }
    Some(corev1::ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::{ParamRef, PipelineBuilder, TaskBuilder};
    use crate::param::ParamType;

    fn chain(n: usize) -> PipelineGraph {
        let inc = Arc::new(
            ComponentSpec::new("inc")
                .input("x", IoType::Parameter(ParamType::Integer))
                .output("y", IoType::Parameter(ParamType::Integer)),
        );
        PipelineBuilder::new("chain")
            .build(|| {
                let mut x: ParamRef<i64> = TaskBuilder::new(inc.clone())
                    .param("x", 0i64)
                    .add()
                    .output("y");
                for _ in 1..n {
                    x = TaskBuilder::new(inc.clone())
                        .param("x", x)
                        .add()
                        .output("y");
                }
            })
            .unwrap()
    }

    fn options() -> ArgoOptions {
        ArgoOptions::new("img", "/bin/x")
    }

    #[test]
    fn big_dags_get_a_full_crd_warning() {
        let small = compile(&chain(FULL_CRD_MAX_ITEMS), &options()).unwrap();
        assert!(full_crd_warnings(&small).is_empty());
        let big = compile(&chain(FULL_CRD_MAX_ITEMS + 1), &options()).unwrap();
        let warnings = full_crd_warnings(&big);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("'chain' has 201 tasks"),
            "{warnings:?}"
        );
    }

    #[test]
    fn one_template_serves_every_task_of_a_component() {
        let workflow = compile(&chain(50), &options()).unwrap();
        let templates = workflow.spec.templates.as_ref().unwrap();
        assert_eq!(templates.len(), 2, "the DAG and one container template");
        let dag = templates[0].dag.as_ref().unwrap();
        assert!(
            dag.tasks
                .iter()
                .all(|t| t.template.as_deref() == Some("inc"))
        );
        assert_eq!(dag.tasks[49].depends.as_deref(), Some("inc-49"));
    }

    #[test]
    fn output_is_byte_identical_for_identical_input() {
        let a = to_yaml(&compile(&chain(30), &options()).unwrap()).unwrap();
        let b = to_yaml(&compile(&chain(30), &options()).unwrap()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn pipelines_with_artifact_inputs_cannot_run_on_their_own() {
        let spec = Arc::new(
            ComponentSpec::new("read").input("data", IoType::artifact::<crate::Dataset>()),
        );
        let builder = PipelineBuilder::new("needs-data");
        let data = builder.artifact_input::<crate::Dataset>("data");
        let graph = builder
            .build(|| {
                TaskBuilder::new(spec).artifact("data", data).add();
            })
            .unwrap();
        let err = compile(&graph, &options()).unwrap_err().to_string();
        assert!(err.contains("input 'data' is an artifact"), "{err}");
    }

    mod fan_in {
        use super::*;
        use crate::Model;
        use crate::dsl::{ArtifactRef, parallel_for, when};

        use crate::test_fixtures::fan_in::{pick, trained};

        fn template<'a>(workflow: &'a model::Workflow, name: &str) -> &'a model::Template {
            workflow
                .spec
                .templates
                .iter()
                .flatten()
                .find(|t| t.name.as_deref() == Some(name))
                .unwrap_or_else(|| panic!("no template {name}"))
        }

        fn task<'a>(template: &'a model::Template, name: &str) -> &'a model::DAGTask {
            let dag = template.dag.as_ref().expect("a DAG");
            dag.tasks.iter().find(|t| t.name == name).unwrap()
        }

        fn param<'a>(task: &'a model::DAGTask, name: &str) -> Option<&'a str> {
            task.arguments
                .iter()
                .flat_map(|a| a.parameters.iter().flatten())
                .find(|p| p.name == name)
                .and_then(|p| p.value.as_deref())
        }

        fn key_argument<'a>(task: &'a model::DAGTask, name: &str) -> &'a model::Artifact {
            task.arguments
                .iter()
                .flat_map(|a| a.artifacts.iter().flatten())
                .find(|a| a.name == name)
                .unwrap()
        }

        fn declares(template: &model::Template, name: &str) -> bool {
            template
                .inputs
                .iter()
                .flat_map(|i| i.parameters.iter().flatten())
                .any(|p| p.name == name)
        }

        fn sweep_and_pick() -> PipelineGraph {
            PipelineBuilder::new("sweep")
                .build(|| {
                    let models = parallel_for(vec![0.1, 0.2]).each(trained);
                    TaskBuilder::new(pick())
                        .artifact_list("models", models)
                        .add();
                })
                .unwrap()
        }

        #[test]
        fn producers_upload_under_the_loop_prefix_and_the_consumer_reads_it_whole() {
            let workflow = compile(&sweep_and_pick(), &options()).unwrap();
            let root = template(&workflow, "sweep");
            let prefix = "kfp-rs/{{workflow.uid}}/for-each/output/collected";
            assert_eq!(
                param(task(root, "for-each"), "kfp-fan-in-output"),
                Some(prefix)
            );
            let consumer = task(root, "pick");
            assert_eq!(consumer.depends.as_deref(), Some("for-each"));
            let models = key_argument(consumer, "models");
            assert_eq!(models.s3.as_ref().unwrap().key.as_deref(), Some(prefix));
            assert_eq!(
                (models.from.as_deref(), models.optional),
                (None, Some(true))
            );
            // The loop body passes the prefix to the task that makes the artifact...
            let body = template(&workflow, "for-each");
            assert!(declares(body, "kfp-fan-in-output"));
            assert_eq!(
                param(task(body, "train"), "kfp-fan-in-model"),
                Some("{{inputs.parameters.kfp-fan-in-output}}")
            );
            // ... whose template uploads it as a folder of files, one per pod.
            let producer = template(&workflow, "train");
            assert!(declares(producer, "kfp-fan-in-model"));
            let output = &producer
                .outputs
                .as_ref()
                .unwrap()
                .artifacts
                .as_ref()
                .unwrap()[0];
            assert_eq!(
                output.s3.as_ref().unwrap().key.as_deref(),
                Some("{{inputs.parameters.kfp-fan-in-model}}/{{pod.name}}")
            );
            assert!(output.archive.as_ref().unwrap().none.is_some());
            let input = &template(&workflow, "pick")
                .inputs
                .as_ref()
                .unwrap()
                .artifacts
                .as_ref()
                .unwrap()[0];
            assert_eq!(
                (input.path.as_deref(), input.optional),
                (Some("/tmp/kfp/in/models"), Some(true))
            );
        }

        #[test]
        fn a_nested_pipeline_used_twice_collects_under_two_prefixes() {
            let inner = Arc::new(sweep_and_pick());
            let graph = PipelineBuilder::new("twice")
                .build(|| {
                    TaskBuilder::pipeline(inner.clone()).add();
                    TaskBuilder::pipeline(inner.clone()).add();
                })
                .unwrap();
            let workflow = compile(&graph, &options()).unwrap();
            let root = template(&workflow, "twice");
            assert_eq!(
                param(task(root, "sweep"), FAN_IN_BASE),
                Some("kfp-rs/{{workflow.uid}}/sweep")
            );
            assert_eq!(
                param(task(root, "sweep-2"), FAN_IN_BASE),
                Some("kfp-rs/{{workflow.uid}}/sweep-2")
            );
            // One shared template, whose loop and consumer build on the prefix given to it.
            assert_eq!(task(root, "sweep-2").template.as_deref(), Some("sweep"));
            let shared = template(&workflow, "sweep");
            assert!(declares(shared, FAN_IN_BASE));
            let prefix = "{{inputs.parameters.kfp-fan-in}}/for-each/output/collected";
            assert_eq!(
                param(task(shared, "for-each"), "kfp-fan-in-output"),
                Some(prefix)
            );
            let models = key_argument(task(shared, "pick"), "models");
            assert_eq!(models.s3.as_ref().unwrap().key.as_deref(), Some(prefix));
        }

        #[test]
        fn collected_artifacts_pass_into_groups_as_their_prefix() {
            let check = Arc::new(
                ComponentSpec::new("check").output("ok", IoType::Parameter(ParamType::Boolean)),
            );
            let graph = PipelineBuilder::new("guarded")
                .build(|| {
                    let models = parallel_for(vec![0.1]).each(trained);
                    let ok: ParamRef<bool> = TaskBuilder::new(check).add().output("ok");
                    when(ok.eq(true), || {
                        TaskBuilder::new(pick())
                            .artifact_list("models", &models)
                            .add();
                    });
                })
                .unwrap();
            let workflow = compile(&graph, &options()).unwrap();
            let root = template(&workflow, "guarded");
            let group = task(root, "condition");
            assert_eq!(
                param(group, "from-output"),
                Some("kfp-rs/{{workflow.uid}}/for-each/output/collected")
            );
            assert_eq!(group.depends.as_deref(), Some("for-each && check"));
            let inside = template(&workflow, "condition");
            assert!(declares(inside, "from-output"));
            let models = key_argument(task(inside, "pick"), "models");
            assert_eq!(
                models.s3.as_ref().unwrap().key.as_deref(),
                Some("{{inputs.parameters.from-output}}")
            );
        }

        #[test]
        fn an_artifact_made_by_a_nested_pipeline_in_the_loop_gets_the_prefix_passed_down() {
            let builder = PipelineBuilder::new("fit");
            let x: ParamRef<f64> = builder.input("x");
            let fit = Arc::new(builder.build(|| trained(x)).unwrap());
            let graph = PipelineBuilder::new("outer")
                .build(|| {
                    let models = parallel_for(vec![0.1, 0.2]).each(|x| {
                        TaskBuilder::pipeline(fit.clone())
                            .param("x", x)
                            .add()
                            .output::<ArtifactRef<Model>>("output")
                    });
                    TaskBuilder::new(pick())
                        .artifact_list("models", models)
                        .add();
                })
                .unwrap();
            let workflow = compile(&graph, &options()).unwrap();
            let body = template(&workflow, "for-each");
            assert_eq!(
                param(task(body, "fit"), "kfp-fan-in-output"),
                Some("{{inputs.parameters.kfp-fan-in-output}}")
            );
            let nested = template(&workflow, "fit");
            assert!(declares(nested, "kfp-fan-in-output"));
            assert_eq!(
                param(task(nested, "train"), "kfp-fan-in-model"),
                Some("{{inputs.parameters.kfp-fan-in-output}}")
            );
        }

        #[test]
        fn the_lint_checks_the_variables_in_keys() {
            let mut workflow = compile(&sweep_and_pick(), &options()).unwrap();
            let producer = workflow
                .spec
                .templates
                .iter_mut()
                .flatten()
                .find(|t| t.name.as_deref() == Some("train"))
                .unwrap();
            let inputs = producer.inputs.as_mut().unwrap();
            inputs
                .parameters
                .as_mut()
                .unwrap()
                .retain(|p| p.name != "kfp-fan-in-model");
            let err = crate::argo::lint::check_workflow(&workflow)
                .unwrap_err()
                .to_string();
            assert!(err.contains("inputs.parameters.kfp-fan-in-model"), "{err}");
        }

        #[test]
        fn an_exit_handler_collecting_artifacts_gets_its_own_prefix() {
            let graph = PipelineBuilder::new("with-exit")
                .build(|| {
                    trained(ParamRef::constant(&0.5));
                    crate::dsl::on_exit(|| {
                        let models = parallel_for(vec![0.1]).each(trained);
                        TaskBuilder::new(pick())
                            .artifact_list("models", models)
                            .add();
                    });
                })
                .unwrap();
            let workflow = compile(&graph, &options()).unwrap();
            let hook = &workflow.spec.hooks.as_ref().unwrap()["exit"];
            let parameters = hook
                .arguments
                .as_ref()
                .unwrap()
                .parameters
                .as_ref()
                .unwrap();
            assert!(parameters.iter().any(|p| p.name == FAN_IN_BASE
                && p.value.as_deref() == Some("kfp-rs/{{workflow.uid}}/exit-handler")));
        }

        #[test]
        fn a_memoized_producer_is_keyed_by_its_run_prefix() {
            let memoized = Arc::new(
                ComponentSpec::new("train")
                    .input("x", IoType::Parameter(ParamType::Double))
                    .output("model", IoType::artifact::<Model>()),
            );
            let graph = PipelineBuilder::new("memo")
                .build(|| {
                    let models = parallel_for(vec![0.1]).each(|x| {
                        let task = TaskBuilder::new(memoized.clone()).param("x", x).add();
                        crate::Task::new(task.clone(), ()).memoize("cache", "1h");
                        task.output::<ArtifactRef<Model>>("model")
                    });
                    TaskBuilder::new(pick())
                        .artifact_list("models", models)
                        .add();
                })
                .unwrap();
            let workflow = compile(&graph, &options()).unwrap();
            // A hit in a later run would upload nothing under that run's prefix: the prefix,
            // which holds the run's uid, is part of the key.
            let key = &template(&workflow, "train").memoize.as_ref().unwrap().key;
            assert!(
                key.contains("inputs.parameters['kfp-fan-in-model']"),
                "{key}"
            );
        }

        #[test]
        fn the_storage_kind_is_an_option() {
            let options = options().with_workflow(
                crate::argo::WorkflowOptions::new()
                    .fan_in_storage(crate::argo::ArtifactStorage::Gcs),
            );
            let workflow = compile(&sweep_and_pick(), &options).unwrap();
            let models = key_argument(task(template(&workflow, "sweep"), "pick"), "models");
            assert_eq!(
                models.gcs.as_ref().map(|g| g.key.as_str()),
                Some("kfp-rs/{{workflow.uid}}/for-each/output/collected")
            );
            assert!(models.s3.is_none());
            let producer = template(&workflow, "train");
            let output = &producer
                .outputs
                .as_ref()
                .unwrap()
                .artifacts
                .as_ref()
                .unwrap()[0];
            assert_eq!(
                output.gcs.as_ref().map(|g| g.key.as_str()),
                Some("{{inputs.parameters.kfp-fan-in-model}}/{{pod.name}}")
            );
        }

        #[test]
        fn a_task_of_a_component_used_outside_the_loop_too_keeps_its_plain_template() {
            let graph = PipelineBuilder::new("both")
                .build(|| {
                    let single = trained(ParamRef::constant(&0.5));
                    TaskBuilder::new(pick())
                        .artifact_list("models", parallel_for(vec![0.1]).each(trained))
                        .add();
                    single
                })
                .unwrap();
            let workflow = compile(&graph, &options()).unwrap();
            let root = template(&workflow, "both");
            assert_eq!(task(root, "train").template.as_deref(), Some("train"));
            let plain = template(&workflow, "train");
            assert!(!declares(plain, "kfp-fan-in-model"));
            let body = template(&workflow, "for-each");
            assert_eq!(task(body, "train").template.as_deref(), Some("train-2"));
            assert!(declares(template(&workflow, "train-2"), "kfp-fan-in-model"));
        }
    }

    #[test]
    fn task_settings_become_template_fields() {
        let spec = Arc::new(
            ComponentSpec::new("work")
                .env("MODE", "fast")
                .retry(crate::RetryPolicy::new(4).with_backoff("10s", 2))
                .caching(false),
        );
        let graph = PipelineBuilder::new("p")
            .build(|| {
                let task = crate::Task::new(TaskBuilder::new(spec).add(), ());
                task.gpus(2)
                    .accelerator("amd.com/gpu")
                    .memory_request("1Gi")
                    .image("other:2")
                    .timeout_seconds(90);
            })
            .unwrap();
        let workflow = compile(&graph, &options()).unwrap();
        let template = &workflow.spec.templates.as_ref().unwrap()[1];
        let container = template.container.as_ref().unwrap();
        assert_eq!(container.image.as_deref(), Some("other:2"));
        let resources = container.resources.as_ref().unwrap();
        assert_eq!(resources.limits.as_ref().unwrap()["amd.com/gpu"].0, "2");
        assert_eq!(resources.requests.as_ref().unwrap()["memory"].0, "1Gi");
        assert_eq!(
            container.env.as_ref().unwrap()[0].value.as_deref(),
            Some("fast")
        );
        assert_eq!(template.active_deadline_seconds, Some(IntOrString::Int(90)));
        let retry = template.retry_strategy.as_ref().unwrap();
        assert_eq!(retry.limit, Some(IntOrString::Int(4)));
        let backoff = retry.backoff.as_ref().unwrap();
        assert_eq!(
            (backoff.duration.as_deref(), &backoff.factor),
            (Some("10s"), &Some(IntOrString::Int(2)))
        );
        let annotations = template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap();
        assert_eq!(
            annotations["pipelines.kubeflow.org/max_cache_staleness"],
            "P0D"
        );
    }
}
