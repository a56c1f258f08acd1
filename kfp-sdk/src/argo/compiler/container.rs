//! Container templates: one per component and distinct task settings, running
//! `BINARY component-exec NAME` (or a container component's command) with every input and
//! output at its place under `/tmp/kfp` ([`crate::runtime::paths`]).
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as corev1;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::fan_in::fan_in_param;
use super::{Emitter, some_vec};
use crate::argo::model;
use crate::ir::component::{CommandPart, ComponentSpec, Implementation, IoType};
use crate::ir::config::{Resources, TaskConfig};
use crate::ir::names;
use crate::ir::param::json_to_text;
use crate::runtime::paths;

/// The name of the raw artifact carrying parameter `name` (a `-` never occurs in a Rust
/// identifier, so this cannot clash with a real artifact input).
fn param_artifact(name: &str) -> String {
    format!("kfp-param-{name}")
}

/// Where a relative place of [`paths`] is inside the container.
fn at(relative: String) -> String {
    paths::in_container(&relative)
}

impl Emitter<'_> {
    pub(super) fn component_template(
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
        // Every input and output is at its conventional place under `paths::CONTAINER_ROOT`, the
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
                        let path = at(paths::param_input(&input.name));
                        in_artifacts.push(model::Artifact {
                            name: param_artifact(&input.name),
                            path: Some(path),
                            raw: Some(model::RawArtifact {
                                data: format!("{{{{inputs.parameters.{}}}}}", input.name),
                            }),
                            ..Default::default()
                        });
                    }
                }
                IoType::Artifact(_) => {
                    let path = at(paths::artifact_input(&input.name));
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
                        path: Some(at(paths::artifact_input(&input.name))),
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
                    let path = at(paths::param_output(&output.name));
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
                        path: Some(at(paths::artifact_output(&output.name))),
                        archive: Some(model::ArchiveStrategy {
                            none: Some(model::NoneStrategy {}),
                            ..Default::default()
                        }),
                        ..self.options.workflow.fan_in_storage.key_only(key)
                    });
                }
                IoType::Artifact(_) => {
                    let path = at(paths::artifact_output(&output.name));
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
                        CommandPart::InputPath(n) => at(paths::artifact_input(n)),
                        CommandPart::OutputPath(n) => {
                            if spec.find_output(n).is_some_and(|o| o.ty.is_artifact()) {
                                at(paths::artifact_output(n))
                            } else {
                                at(paths::param_output(n))
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
                // Argo's `retryPolicy` names the policies as `RetryOn` does.
                retry_policy: retry.policy.map(|p| p.as_str().to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        };
        super::pod::apply(config, &spec.name, &mut template);
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
