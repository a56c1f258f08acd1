//! Loops on Argo: a DAG task's `withItems`, `withSequence` or `withParam`, and the driver
//! template that holds a loop alone when its parallelism is limited.
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::dag::reference;
use super::{Emitter, some_vec};
use crate::argo::model;
use crate::ir::control::LoopItems;
use crate::ir::graph::{Task, ValueSource};

/// Sets a DAG task's loop fields.
pub(super) fn set_loop(task: &mut model::DAGTask, items: &LoopItems) {
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
    /// A DAG template that runs `body` once per item of `task`'s loop, at most `limit` at a
    /// time, and passes the collected outputs on.
    pub(super) fn loop_driver(
        &mut self,
        task: &Task,
        body: &str,
        limit: u32,
        extra: &[String],
    ) -> String {
        let name = self.reserve(&format!("{body}-loop"));
        let inputs: Vec<&crate::ir::component::InputSpec> = task
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
}
