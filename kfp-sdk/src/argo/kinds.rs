//! Resource kinds: the same pipeline as a `Workflow`, a `WorkflowTemplate` (with a `Workflow`
//! that runs it through `workflowTemplateRef`) or a `CronWorkflow`.
//!
//! [`compile_as`] compiles a pipeline to the [`ResourceKind`] asked for, lints the result
//! ([`super::lint`]) and returns a [`Resource`], which writes itself as YAML (two documents
//! for a template and its workflow). The CLI's `compile --kind` uses it; [`CompileArgs`] are
//! its flags.
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
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

use super::workflow_options::{
    ArtifactRepositoryRef, ArtifactStorage, PodGcStrategy, TimeToLive, VolumeClaimGcStrategy,
    WorkflowOptions,
};
use super::{ArgoError, ArgoOptions, lint, model, to_yaml};
use crate::graph::PipelineGraph;

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

/// The `compile` command's flags for the resource kind and the workflow-level options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CompileArgs {
    /// The resource to write.
    #[arg(long, value_enum, default_value_t = KindArg::Workflow)]
    pub kind: KindArg,
    /// A fixed name: the workflow's (instead of a generated one), the template's or the cron
    /// workflow's [default for templates and cron workflows: the pipeline's name].
    #[arg(long)]
    pub name: Option<String>,
    /// The prefix of generated workflow names [default: PIPELINE-].
    #[arg(long, value_name = "PREFIX")]
    pub generate_name: Option<String>,
    /// The namespace.
    #[arg(long)]
    pub namespace: Option<String>,
    /// A cron schedule, for --kind cron-workflow (repeatable): "0 3 * * *", "@hourly".
    #[arg(long = "schedule", value_name = "CRON")]
    pub schedules: Vec<String>,
    /// The IANA time zone of the schedules (cron-workflow): Europe/Paris.
    #[arg(long)]
    pub timezone: Option<String>,
    /// What a cron workflow does when a run is due while another runs.
    #[arg(long, value_enum)]
    pub concurrency_policy: Option<ConcurrencyPolicy>,
    /// How late (seconds) a missed cron run may still start.
    #[arg(long, value_name = "SECONDS")]
    pub starting_deadline_seconds: Option<i64>,
    /// How many succeeded workflows a cron workflow keeps.
    #[arg(long, value_name = "N")]
    pub successful_history_limit: Option<u32>,
    /// How many failed workflows a cron workflow keeps.
    #[arg(long, value_name = "N")]
    pub failed_history_limit: Option<u32>,
    /// Create the cron workflow suspended.
    #[arg(long)]
    pub suspend: bool,
    /// The service account of every pod.
    #[arg(long, value_name = "NAME")]
    pub service_account: Option<String>,
    /// The most pods running at once.
    #[arg(long, value_name = "PODS")]
    pub parallelism: Option<u32>,
    /// When pods of finished steps are deleted.
    #[arg(long, value_enum, value_name = "STRATEGY")]
    pub pod_gc: Option<PodGcStrategy>,
    /// Delete the workflow this many seconds after it finishes.
    #[arg(long, value_name = "SECONDS")]
    pub ttl_seconds: Option<u32>,
    /// Fail the workflow after it has run this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub active_deadline_seconds: Option<u64>,
    /// The artifact repository: CONFIGMAP or CONFIGMAP:KEY.
    #[arg(long, value_name = "CONFIGMAP[:KEY]")]
    pub artifact_repository: Option<String>,
    /// The storage kind of the key-only artifacts that carry artifacts collected by loops
    /// (the bucket comes from the artifact repository).
    #[arg(long, value_enum, value_name = "KIND", default_value_t = ArtifactStorage::S3)]
    pub fan_in_storage: ArtifactStorage,
    /// The workflow's priority.
    #[arg(long)]
    pub priority: Option<i32>,
    /// When volume claims created for a run are deleted.
    #[arg(long, value_enum, value_name = "STRATEGY")]
    pub volume_claim_gc: Option<VolumeClaimGcStrategy>,
    /// A Secret with registry credentials (repeatable).
    #[arg(long = "image-pull-secret", value_name = "SECRET")]
    pub image_pull_secrets: Vec<String>,
    /// A label of the workflow object: KEY=VALUE (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// An annotation of the workflow object: KEY=VALUE (repeatable).
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
}

/// `--kind`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    /// A Workflow.
    #[default]
    Workflow,
    /// A WorkflowTemplate and a Workflow referencing it.
    WorkflowTemplate,
    /// A CronWorkflow (needs --schedule).
    CronWorkflow,
}

impl CompileArgs {
    /// The workflow options and the resource kind the flags ask for.
    pub fn to_options(&self) -> Result<(WorkflowOptions, ResourceKind), String> {
        let pairs = |flag: &str, values: &[String]| -> Result<BTreeMap<String, String>, String> {
            values
                .iter()
                .map(|pair| {
                    pair.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| format!("--{flag} needs KEY=VALUE, got '{pair}'"))
                })
                .collect()
        };
        let cron_only = [
            ("--timezone", self.timezone.is_some()),
            ("--concurrency-policy", self.concurrency_policy.is_some()),
            (
                "--starting-deadline-seconds",
                self.starting_deadline_seconds.is_some(),
            ),
            (
                "--successful-history-limit",
                self.successful_history_limit.is_some(),
            ),
            (
                "--failed-history-limit",
                self.failed_history_limit.is_some(),
            ),
            ("--suspend", self.suspend),
            ("--schedule", !self.schedules.is_empty()),
        ];
        if self.kind != KindArg::CronWorkflow
            && let Some((flag, _)) = cron_only.iter().find(|(_, given)| *given)
        {
            return Err(format!("{flag} is for --kind cron-workflow"));
        }
        let kind = match self.kind {
            KindArg::Workflow => ResourceKind::Workflow,
            KindArg::WorkflowTemplate => ResourceKind::WorkflowTemplate,
            KindArg::CronWorkflow => {
                if self.schedules.is_empty() {
                    return Err("--kind cron-workflow needs at least one --schedule".into());
                }
                ResourceKind::CronWorkflow(CronOptions {
                    schedules: self.schedules.clone(),
                    timezone: self.timezone.clone(),
                    concurrency_policy: self.concurrency_policy,
                    starting_deadline_seconds: self.starting_deadline_seconds,
                    successful_jobs_history_limit: self.successful_history_limit,
                    failed_jobs_history_limit: self.failed_history_limit,
                    suspend: self.suspend,
                })
            }
        };
        let artifact_repository = self.artifact_repository.as_ref().map(|text| {
            let (config_map, key) = match text.split_once(':') {
                Some((c, k)) => (c, Some(k.to_owned())),
                None => (text.as_str(), None),
            };
            ArtifactRepositoryRef {
                config_map: Some(config_map.to_owned()),
                key,
            }
        });
        let options = WorkflowOptions {
            name: self.name.clone(),
            generate_name: self.generate_name.clone(),
            namespace: self.namespace.clone(),
            labels: pairs("label", &self.labels)?,
            annotations: pairs("annotation", &self.annotations)?,
            service_account: self.service_account.clone(),
            parallelism: self.parallelism,
            pod_gc: self.pod_gc,
            ttl: self.ttl_seconds.map(|s| TimeToLive {
                after_completion: Some(s),
                ..TimeToLive::default()
            }),
            active_deadline_seconds: self.active_deadline_seconds,
            artifact_repository,
            priority: self.priority,
            volume_claim_gc: self.volume_claim_gc,
            image_pull_secrets: self.image_pull_secrets.clone(),
            fan_in_storage: self.fan_in_storage,
        };
        Ok((options, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::ComponentSpec;
    use crate::dsl::{PipelineBuilder, TaskBuilder};
    use crate::{IoType, ParamType};
    use clap::Parser;
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

    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        args: CompileArgs,
    }

    fn parse(flags: &[&str]) -> Result<(WorkflowOptions, ResourceKind), String> {
        let mut argv = vec!["compile"];
        argv.extend_from_slice(flags);
        Flags::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .args
            .to_options()
    }

    #[test]
    fn flags_become_options() {
        let (options, kind) = parse(&[
            "--kind",
            "cron-workflow",
            "--schedule",
            "@daily",
            "--timezone",
            "UTC",
            "--concurrency-policy",
            "forbid",
            "--namespace",
            "ml",
            "--pod-gc",
            "on-pod-success",
            "--ttl-seconds",
            "600",
            "--artifact-repository",
            "repos:minio",
            "--label",
            "a=b",
            "--fan-in-storage",
            "gcs",
        ])
        .unwrap();
        assert_eq!(options.fan_in_storage, ArtifactStorage::Gcs);
        assert_eq!(
            parse(&[]).unwrap().0.fan_in_storage,
            ArtifactStorage::S3,
            "S3 unless told otherwise"
        );
        let ResourceKind::CronWorkflow(cron) = kind else {
            panic!("{kind:?}")
        };
        assert_eq!(cron.schedules, ["@daily"]);
        assert_eq!(cron.concurrency_policy, Some(ConcurrencyPolicy::Forbid));
        assert_eq!(options.namespace.as_deref(), Some("ml"));
        assert_eq!(options.pod_gc, Some(PodGcStrategy::OnPodSuccess));
        assert_eq!(options.ttl.unwrap().after_completion, Some(600));
        assert_eq!(
            options.artifact_repository.unwrap().key.as_deref(),
            Some("minio")
        );
        assert_eq!(options.labels["a"], "b");
        assert_eq!(
            parse(&["--kind", "cron-workflow"]).unwrap_err(),
            "--kind cron-workflow needs at least one --schedule"
        );
        assert_eq!(
            parse(&["--schedule", "@daily"]).unwrap_err(),
            "--schedule is for --kind cron-workflow"
        );
        assert!(
            parse(&["--label", "nope"])
                .unwrap_err()
                .contains("KEY=VALUE")
        );
    }
}
