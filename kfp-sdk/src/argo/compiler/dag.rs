//! DAG templates: one per pipeline (and nested pipeline), one DAG task per graph task, with
//! its arguments, dependencies, `when` condition and loop.
use std::collections::HashMap;
use std::sync::Arc;

use super::fan_in::{FAN_IN_BASE, FAN_IN_ROOT, collected_prefix, collects_artifacts, fan_in_param};
use super::loops::set_loop;
use super::{Emitter, some_vec};
use crate::argo::model;
use crate::ir::control::LoopItems;
use crate::ir::graph::{Executable, PipelineGraph, Task, ValueSource};
use crate::ir::names;
use crate::ir::param::json_to_text;

/// What a DAG template being made needs to wire artifact fan-in.
pub(super) struct DagContext {
    /// The key prefix of this DAG's loops.
    base: String,
    /// Tasks whose artifact outputs become this DAG's collected outputs: task name →
    /// (output, key-prefix expression).
    fan_out: HashMap<String, Vec<(String, String)>>,
}

/// The Argo expression for a value inside a DAG: `{{inputs.parameters.x}}`,
/// `{{tasks.t.outputs.artifacts.y}}`, ...
pub(super) fn reference(source: &ValueSource, artifact: bool) -> Option<String> {
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
pub(super) fn parameter_value(source: &ValueSource) -> String {
    match source {
        ValueSource::Constant(value) => json_to_text(value),
        other => reference(other, false).unwrap_or_default(),
    }
}

impl Emitter<'_> {
    /// The DAG template of `graph`; the artifact outputs named in `fan_out` are uploaded
    /// under key prefixes given as input parameters, for the loop repeating it to collect.
    pub(super) fn pipeline_template(
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
    pub(super) fn template_of(&mut self, task: &Task, fan_out: &[String]) -> String {
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
    pub(super) fn arguments(&self, task: &Task, context: &DagContext) -> Option<model::Arguments> {
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
    pub(super) fn dag_task(&mut self, task: &Task, context: &DagContext) -> model::DAGTask {
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
            when: task.when.as_ref().map(crate::argo::condition::when_field),
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
}
