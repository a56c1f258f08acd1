//! Resource kinds: the same pipeline as a `Workflow`, a `WorkflowTemplate` (with a `Workflow`
//! that runs it through `workflowTemplateRef`) or a `CronWorkflow`.
//!
//! [`compile_as`] compiles a pipeline to the [`ResourceKind`] asked for, lints the result
//! ([`super::lint`]) and returns a [`Resource`], which writes itself as YAML (two documents
//! for a template and its workflow). The CLI's `compile --kind` uses it (its flags are
//! `cli::ArgoArgs`).
//!
//! ```
//! use kfp_sdk::argo::{self, ArgoOptions, ConcurrencyPolicy, CronOptions, Resource, ResourceKind};
//! use kfp_sdk::dsl::{PipelineBuilder, TaskBuilder};
//! use kfp_sdk::ComponentSpec;
//! use std::sync::Arc;
//!
//! let step = Arc::new(ComponentSpec::new("step"));
//! let graph = PipelineBuilder::new("nightly").build(|| { TaskBuilder::new(step).add(); }).unwrap();
//! let options = ArgoOptions::new("example.com/nightly:1", "/bin/nightly");
//! let cron = CronOptions::new("0 3 * * *").timezone("Europe/Paris").concurrency(ConcurrencyPolicy::Forbid);
//! let Resource::CronWorkflow(cron) = argo::compile_as(&graph, &options, &ResourceKind::CronWorkflow(cron)).unwrap() else {
//!     unreachable!()
//! };
//! assert_eq!(cron.spec.schedules, ["0 3 * * *"]);
//! assert_eq!(cron.metadata.name.as_deref(), Some("nightly"));
//!
//! let templated = argo::compile_as(&graph, &options, &ResourceKind::WorkflowTemplate).unwrap();
//! let yaml = templated.to_yaml().unwrap();
//! assert!(yaml.contains("kind: WorkflowTemplate") && yaml.contains("workflowTemplateRef:"));
//! ```
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

use super::workflow_options::WorkflowOptions;
use super::{ArgoError, ArgoOptions, lint, model, to_yaml};
use crate::ir::graph::PipelineGraph;

/// `docs/resource-kinds.md`, whose examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/resource-kinds.md")]
struct ResourceKindsDocPage;

/// What `CronWorkflow` does when a run is due while the previous one still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ConcurrencyPolicy {
    /// Start it anyway (the default).
    Allow,
    /// Skip it.
    Forbid,
    /// Stop the running one and start the new one.
    Replace,
}

impl ConcurrencyPolicy {
    /// The name Argo uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ConcurrencyPolicy::Allow => "Allow",
            ConcurrencyPolicy::Forbid => "Forbid",
            ConcurrencyPolicy::Replace => "Replace",
        }
    }
}

/// The schedule of a `CronWorkflow`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CronOptions {
    /// Cron schedules (`"0 3 * * *"`, `"@hourly"`); a run starts at each (Argo 4's
    /// `schedules` list).
    pub schedules: Vec<String>,
    /// The IANA time zone the schedules are read in (`"Europe/Paris"`); the controller's
    /// when unset.
    pub timezone: Option<String>,
    /// What to do when a run is due while another runs.
    pub concurrency_policy: Option<ConcurrencyPolicy>,
    /// How late (in seconds) a missed run may still start.
    pub starting_deadline_seconds: Option<i64>,
    /// How many succeeded workflows to keep.
    pub successful_jobs_history_limit: Option<u32>,
    /// How many failed workflows to keep.
    pub failed_jobs_history_limit: Option<u32>,
    /// Create it suspended (no runs until resumed).
    pub suspend: bool,
}

impl CronOptions {
    /// Runs on this cron schedule.
    pub fn new(schedule: impl Into<String>) -> Self {
        CronOptions {
            schedules: vec![schedule.into()],
            ..CronOptions::default()
        }
    }

    /// Also runs on this schedule.
    pub fn schedule(mut self, schedule: impl Into<String>) -> Self {
        self.schedules.push(schedule.into());
        self
    }

    /// Reads the schedules in this IANA time zone.
    pub fn timezone(mut self, zone: impl Into<String>) -> Self {
        self.timezone = Some(zone.into());
        self
    }

    /// Sets what happens when runs overlap.
    pub fn concurrency(mut self, policy: ConcurrencyPolicy) -> Self {
        self.concurrency_policy = Some(policy);
        self
    }

    /// Lets a missed run start up to `seconds` late.
    pub fn starting_deadline_seconds(mut self, seconds: i64) -> Self {
        self.starting_deadline_seconds = Some(seconds);
        self
    }

    /// Keeps this many succeeded and failed workflows.
    pub fn history(mut self, successful: u32, failed: u32) -> Self {
        self.successful_jobs_history_limit = Some(successful);
        self.failed_jobs_history_limit = Some(failed);
        self
    }

    /// Creates it suspended.
    pub fn suspended(mut self) -> Self {
        self.suspend = true;
        self
    }
}

/// Which Argo resource to compile a pipeline to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ResourceKind {
    /// A `Workflow`: `argo submit` runs it.
    #[default]
    Workflow,
    /// A `WorkflowTemplate` (named after the pipeline, or [`WorkflowOptions::name`]), and a
    /// `Workflow` that runs it through `workflowTemplateRef`.
    WorkflowTemplate,
    /// A `CronWorkflow` running the pipeline on a schedule.
    CronWorkflow(CronOptions),
}

/// A compiled pipeline, as the Argo resource asked for.
// One is made per compilation: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    /// A workflow.
    Workflow(model::Workflow),
    /// A workflow template and a workflow that runs it.
    WorkflowTemplate {
        /// The template (`kubectl apply` it once).
        template: model::WorkflowTemplate,
        /// A workflow referencing it (`argo submit` it, or
        /// `argo submit --from workflowtemplate/NAME`).
        workflow: model::Workflow,
    },
    /// A cron workflow.
    CronWorkflow(model::CronWorkflow),
}

impl Resource {
    /// The resource as YAML: one document, or two (`---` between) for a template and its
    /// workflow.
    pub fn to_yaml(&self) -> Result<String, ArgoError> {
        match self {
            Resource::Workflow(workflow) => to_yaml(workflow),
            Resource::WorkflowTemplate { template, workflow } => {
                Ok(format!("{}---\n{}", to_yaml(template)?, to_yaml(workflow)?))
            }
            Resource::CronWorkflow(cron) => to_yaml(cron),
        }
    }

    /// The workflow spec the resource runs (the template's, for a workflow template).
    pub fn workflow_spec(&self) -> &model::WorkflowSpec {
        match self {
            Resource::Workflow(workflow) => &workflow.spec,
            Resource::WorkflowTemplate { template, .. } => &template.spec,
            Resource::CronWorkflow(cron) => &cron.spec.workflow_spec,
        }
    }
}

/// Compiles a pipeline to the resource `kind`, linted ([`super::lint`]).
pub fn compile_as(
    graph: &PipelineGraph,
    options: &ArgoOptions,
    kind: &ResourceKind,
) -> Result<Resource, ArgoError> {
    let workflow = super::compile(graph, options)?;
    match kind {
        ResourceKind::Workflow => Ok(Resource::Workflow(workflow)),
        ResourceKind::WorkflowTemplate => {
            let (template, workflow) = as_template(graph, &options.workflow, workflow);
            lint::check_workflow_template(&template)?;
            lint::check_workflow_of_template(&workflow, &template)?;
            Ok(Resource::WorkflowTemplate { template, workflow })
        }
        ResourceKind::CronWorkflow(cron) => {
            let cron = as_cron(graph, &options.workflow, cron, workflow);
            lint::check_cron_workflow(&cron)?;
            Ok(Resource::CronWorkflow(cron))
        }
    }
}

/// A name for a resource that needs one: the option's, else the pipeline's.
fn resource_name(graph: &PipelineGraph, options: &WorkflowOptions) -> String {
    options.name.clone().unwrap_or_else(|| graph.name.clone())
}

fn as_template(
    graph: &PipelineGraph,
    options: &WorkflowOptions,
    workflow: model::Workflow,
) -> (model::WorkflowTemplate, model::Workflow) {
    let name = resource_name(graph, options);
    let metadata = metav1::ObjectMeta {
        name: Some(name.clone()),
        generate_name: None,
        ..workflow.metadata
    };
    let runner_metadata = metav1::ObjectMeta {
        generate_name: Some(
            options
                .generate_name
                .clone()
                .unwrap_or_else(|| format!("{name}-")),
        ),
        namespace: metadata.namespace.clone(),
        labels: metadata.labels.clone(),
        ..Default::default()
    };
    let runner = model::Workflow::new(
        runner_metadata,
        model::WorkflowSpec {
            workflow_template_ref: Some(model::WorkflowTemplateRef {
                name: Some(name),
                cluster_scope: None,
            }),
            ..Default::default()
        },
    );
    (
        model::WorkflowTemplate::new(metadata, workflow.spec),
        runner,
    )
}

fn as_cron(
    graph: &PipelineGraph,
    options: &WorkflowOptions,
    cron: &CronOptions,
    workflow: model::Workflow,
) -> model::CronWorkflow {
    let metadata = metav1::ObjectMeta {
        name: Some(resource_name(graph, options)),
        generate_name: None,
        ..workflow.metadata
    };
    let spec = model::CronWorkflowSpec {
        schedules: cron.schedules.clone(),
        timezone: cron.timezone.clone(),
        concurrency_policy: cron.concurrency_policy.map(|p| p.as_str().to_owned()),
        starting_deadline_seconds: cron.starting_deadline_seconds,
        successful_jobs_history_limit: cron.successful_jobs_history_limit.map(i64::from),
        failed_jobs_history_limit: cron.failed_jobs_history_limit.map(i64::from),
        suspend: cron.suspend.then_some(true),
        workflow_spec: workflow.spec,
        ..Default::default()
    };
    model::CronWorkflow::new(metadata, spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::{PipelineBuilder, TaskBuilder};
    use crate::ir::component::{ComponentSpec, IoType};
    use crate::ir::param::ParamType;
    use std::sync::Arc;

    fn graph() -> PipelineGraph {
        let step =
            Arc::new(ComponentSpec::new("step").input("x", IoType::Parameter(ParamType::Integer)));
        let builder = PipelineBuilder::new("kinds");
        let x: crate::ParamRef<i64> = builder.input_with_default("x", 1i64);
        builder
            .build(|| {
                TaskBuilder::new(step).param("x", x).add();
            })
            .unwrap()
    }

    fn options() -> ArgoOptions {
        ArgoOptions::new("img", "/bin/x")
    }

    #[test]
    fn a_workflow_template_and_the_workflow_that_runs_it() {
        let resource = compile_as(&graph(), &options(), &ResourceKind::WorkflowTemplate).unwrap();
        let Resource::WorkflowTemplate { template, workflow } = &resource else {
            panic!("{resource:?}")
        };
        assert_eq!(template.kind, "WorkflowTemplate");
        assert_eq!(template.metadata.name.as_deref(), Some("kinds"));
        assert_eq!(template.metadata.generate_name, None);
        assert_eq!(template.spec.entrypoint.as_deref(), Some("kinds"));
        assert_eq!(workflow.metadata.generate_name.as_deref(), Some("kinds-"));
        assert_eq!(
            workflow
                .spec
                .workflow_template_ref
                .as_ref()
                .unwrap()
                .name
                .as_deref(),
            Some("kinds")
        );
        assert!(workflow.spec.templates.is_none() && workflow.spec.entrypoint.is_none());
        let yaml = resource.to_yaml().unwrap();
        assert_eq!(yaml.matches("\n---\n").count(), 1, "{yaml}");
    }

    #[test]
    fn a_cron_workflow_carries_its_schedule() {
        let cron = CronOptions::new("0 3 * * *")
            .schedule("30 12 * * 1-5")
            .timezone("Asia/Tokyo")
            .concurrency(ConcurrencyPolicy::Replace)
            .starting_deadline_seconds(60)
            .history(3, 1)
            .suspended();
        let options = options().with_workflow(WorkflowOptions::new().name("nightly-kinds"));
        let Resource::CronWorkflow(cron) =
            compile_as(&graph(), &options, &ResourceKind::CronWorkflow(cron)).unwrap()
        else {
            panic!()
        };
        assert_eq!(cron.metadata.name.as_deref(), Some("nightly-kinds"));
        let spec = &cron.spec;
        assert_eq!(spec.schedules, ["0 3 * * *", "30 12 * * 1-5"]);
        assert_eq!(spec.timezone.as_deref(), Some("Asia/Tokyo"));
        assert_eq!(spec.concurrency_policy.as_deref(), Some("Replace"));
        assert_eq!(spec.starting_deadline_seconds, Some(60));
        assert_eq!(
            (
                spec.successful_jobs_history_limit,
                spec.failed_jobs_history_limit
            ),
            (Some(3), Some(1))
        );
        assert_eq!(spec.suspend, Some(true));
        assert_eq!(spec.workflow_spec.entrypoint.as_deref(), Some("kinds"));
    }

    #[test]
    fn cron_workflows_are_linted() {
        let err = compile_as(
            &graph(),
            &options(),
            &ResourceKind::CronWorkflow(CronOptions::new("0 25 * * *").timezone("Mars/Olympus")),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("cron schedule 0 25 * * * is malformed"),
            "{err}"
        );
        assert!(err.contains("invalid timezone \"Mars/Olympus\""), "{err}");
    }
}
