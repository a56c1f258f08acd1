//! The Argo flags of `compile --target argo`: which resource to write (`--kind`) and the
//! workflow-level options, turned into [`WorkflowOptions`] and a [`ResourceKind`].
use std::collections::BTreeMap;

use crate::argo::workflow_options::{
    ArtifactRepositoryRef, ArtifactStorage, PodGcStrategy, TimeToLive, VolumeClaimGcStrategy,
    WorkflowOptions,
};
use crate::argo::{ConcurrencyPolicy, CronOptions, ResourceKind};

/// The `compile --target argo` flags: the resource kind and the workflow-level options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ArgoArgs {
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

impl ArgoArgs {
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
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        args: ArgoArgs,
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
