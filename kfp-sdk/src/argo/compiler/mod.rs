//! The Argo compiler: one container template per component (per distinct task settings),
//! one DAG template per pipeline, parameters and artifacts wired through Argo's variables.
//!
//! Inside a step's container the pipeline binary runs `component-exec NAME`: every input
//! and output is a file at its conventional place under `/tmp/kfp` (see
//! [`crate::runtime::paths`]). Parameter values reach it as raw input artifacts (files Argo
//! writes from `{{inputs.parameters.NAME}}`), never through argv or a shell, so any value
//! arrives intact whatever its size or characters.
//!
//! [`compile`] checks the graph ([`super::validate`]), then writes the DAG templates
//! ([`dag`], with the loops of [`loops`] and the artifact fan-in keys of [`fan_in`]), the
//! container templates ([`container`], with the pod settings of [`pod`]) and the
//! workflow-level options, and lints the result.
use std::collections::{BTreeMap, HashMap};

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

use super::lint::LintErrors;
use super::model;
use super::validate::validate_for_argo;
use super::workflow_options::WorkflowOptions;
use crate::ir::config::TaskConfig;
use crate::ir::graph::{Executable, PipelineGraph, ValueSource};
use crate::ir::names;
use crate::ir::param::json_to_text;
use crate::ir::validate::ValidationErrors;

mod container;
mod dag;
pub(crate) mod fan_in;
mod loops;
pub(crate) mod pod;

use dag::parameter_value;
use fan_in::{FAN_IN_BASE, FAN_IN_ROOT, collects_artifacts};

/// Settings of the Argo compiler.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgoOptions {
    /// The image of components that name none: the image holding the pipeline binary.
    pub image: String,
    /// The path of the pipeline binary inside that image.
    pub binary: String,
    /// Workflow-level options: name, namespace, service account, pod GC, TTL, ...
    pub workflow: WorkflowOptions,
}

impl ArgoOptions {
    /// Components run `binary` inside `image` unless they say otherwise.
    pub fn new(image: impl Into<String>, binary: impl Into<String>) -> Self {
        ArgoOptions {
            image: image.into(),
            binary: binary.into(),
            workflow: WorkflowOptions::default(),
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
    Lint(#[from] LintErrors),
}

/// The SDK version recorded in a label of every workflow.
const SDK_LABEL: (&str, &str) = (
    "pipelines.kubeflow.org/kfp_sdk_version",
    concat!("kfp-rs-", env!("CARGO_PKG_VERSION")),
);

/// Compiles a pipeline graph into an Argo Workflow (validating it first).
pub fn compile(graph: &PipelineGraph, options: &ArgoOptions) -> Result<model::Workflow, ArgoError> {
    validate_for_argo(graph)?;
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
    crate::argo::workflow_options::apply(
        &options.workflow,
        used.into_iter().map(|(_, config)| config),
        &mut workflow,
    );
    crate::argo::lint::check_workflow(&workflow)?;
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

impl Emitter<'_> {
    pub(super) fn reserve(&mut self, base: &str) -> String {
        self.taken.unique(base)
    }
}

pub(super) fn some_vec<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

#[cfg(test)]
mod tests;
