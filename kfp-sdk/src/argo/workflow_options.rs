//! Workflow-level options: name or name prefix, namespace, service account, parallelism, pod
//! garbage collection, time to live, deadline, artifact repository, labels and annotations,
//! priority, and the per-run volume claims the tasks ask for.
//!
//! They sit in [`ArgoOptions::workflow`](super::ArgoOptions::workflow); the compiler applies
//! them to the Workflow it makes (and the resource kinds of [`super::kinds`] carry them over).
//!
//! ```
//! use kfp_sdk::argo::{self, ArgoOptions, PodGcStrategy, WorkflowOptions};
//! use kfp_sdk::dsl::{PipelineBuilder, TaskBuilder};
//! use kfp_sdk::ComponentSpec;
//! use std::sync::Arc;
//!
//! let step = Arc::new(ComponentSpec::new("step"));
//! let graph = PipelineBuilder::new("nightly").build(|| { TaskBuilder::new(step).add(); }).unwrap();
//! let options = ArgoOptions::new("example.com/nightly:1", "/bin/nightly").with_workflow(
//!     WorkflowOptions::new()
//!         .namespace("ml")
//!         .service_account("pipeline-runner")
//!         .parallelism(4)
//!         .pod_gc(PodGcStrategy::OnPodSuccess)
//!         .ttl_after_finished(86_400)
//!         .active_deadline_seconds(7_200)
//!         .label("team", "vision"),
//! );
//! let workflow = argo::compile(&graph, &options).unwrap();
//! assert_eq!(workflow.metadata.namespace.as_deref(), Some("ml"));
//! assert_eq!(workflow.spec.parallelism, Some(4));
//! assert_eq!(workflow.spec.pod_gc.unwrap().strategy.as_deref(), Some("OnPodSuccess"));
//! ```
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as corev1;

use super::compiler::pod;
use super::model;
use crate::ir::config::TaskConfig;

/// When Argo deletes the pods of finished steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum PodGcStrategy {
    /// Each pod as soon as it finishes.
    OnPodCompletion,
    /// Each pod as soon as it succeeds (failed ones stay for debugging).
    OnPodSuccess,
    /// All pods when the workflow finishes.
    OnWorkflowCompletion,
    /// All pods when the workflow succeeds.
    OnWorkflowSuccess,
}

impl PodGcStrategy {
    /// The name Argo uses.
    pub fn as_str(self) -> &'static str {
        match self {
            PodGcStrategy::OnPodCompletion => "OnPodCompletion",
            PodGcStrategy::OnPodSuccess => "OnPodSuccess",
            PodGcStrategy::OnWorkflowCompletion => "OnWorkflowCompletion",
            PodGcStrategy::OnWorkflowSuccess => "OnWorkflowSuccess",
        }
    }
}

/// When Argo deletes the volume claims it created for a run
/// ([`crate::kubernetes::ClaimTemplate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum VolumeClaimGcStrategy {
    /// When the workflow finishes, whatever the outcome.
    OnWorkflowCompletion,
    /// When the workflow succeeds (Argo's default: a failed run keeps its volumes).
    OnWorkflowSuccess,
}

impl VolumeClaimGcStrategy {
    /// The name Argo uses.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeClaimGcStrategy::OnWorkflowCompletion => "OnWorkflowCompletion",
            VolumeClaimGcStrategy::OnWorkflowSuccess => "OnWorkflowSuccess",
        }
    }
}

/// How long a finished workflow is kept before Argo deletes it, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TimeToLive {
    /// After it finishes, whatever the outcome.
    pub after_completion: Option<u32>,
    /// After it succeeds.
    pub after_success: Option<u32>,
    /// After it fails.
    pub after_failure: Option<u32>,
}

/// Where the workflow's artifacts go: a key of a ConfigMap holding an artifact repository
/// configuration (Argo's `artifactRepositoryRef`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ArtifactRepositoryRef {
    /// The ConfigMap (Argo's default: `artifact-repositories`).
    pub config_map: Option<String>,
    /// The key in it (default: the ConfigMap's `workflows.argoproj.io/default-artifact-repository`
    /// annotation).
    pub key: Option<String>,
}

/// The storage kind written on key-only artifacts (artifacts with a key and no bucket, as
/// Argo's docs call them), which carry the artifacts a loop collects (fan-in): each iteration
/// uploads under one key prefix and the consuming task downloads the whole prefix.
///
/// Argo fills in everything but the key (bucket, endpoint, credentials) from the workflow's
/// artifact repository (the controller's default, or the one
/// [`WorkflowOptions::artifact_repository`] names), so one must be configured; a Kubeflow
/// install configures MinIO, which is S3.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ArtifactStorage {
    /// `s3: {key: ..}` (S3, MinIO and other S3-compatible stores).
    #[default]
    S3,
    /// `gcs: {key: ..}` (Google Cloud Storage).
    Gcs,
    /// `oss: {key: ..}` (Alibaba Cloud OSS).
    Oss,
    /// `azure: {blob: ..}` (Azure Blob Storage).
    Azure,
}

impl ArtifactStorage {
    /// An artifact location of this kind with only `key` set.
    pub fn key_only(self, key: String) -> model::Artifact {
        match self {
            ArtifactStorage::S3 => model::Artifact {
                s3: Some(model::S3Artifact {
                    key: Some(key),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ArtifactStorage::Gcs => model::Artifact {
                gcs: Some(model::GCSArtifact {
                    key,
                    ..Default::default()
                }),
                ..Default::default()
            },
            ArtifactStorage::Oss => model::Artifact {
                oss: Some(model::OSSArtifact {
                    key,
                    ..Default::default()
                }),
                ..Default::default()
            },
            ArtifactStorage::Azure => model::Artifact {
                azure: Some(model::AzureArtifact {
                    blob: key,
                    ..Default::default()
                }),
                ..Default::default()
            },
        }
    }

    /// The key of an artifact location of this kind, if it has one.
    pub fn key_of(artifact: &model::Artifact) -> Option<&str> {
        artifact
            .s3
            .as_ref()
            .and_then(|a| a.key.as_deref())
            .or(artifact.gcs.as_ref().map(|a| a.key.as_str()))
            .or(artifact.oss.as_ref().map(|a| a.key.as_str()))
            .or(artifact.azure.as_ref().map(|a| a.blob.as_str()))
    }
}

/// Workflow-level options (see the [module docs](self)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowOptions {
    /// A fixed name; otherwise Kubernetes makes one from [`WorkflowOptions::generate_name`].
    pub name: Option<String>,
    /// The prefix of generated names (default: the pipeline's name and `-`).
    pub generate_name: Option<String>,
    /// The namespace (default: the one `argo submit` or `kubectl` uses).
    pub namespace: Option<String>,
    /// Labels of the workflow object.
    pub labels: BTreeMap<String, String>,
    /// Annotations of the workflow object.
    pub annotations: BTreeMap<String, String>,
    /// The service account of every pod (a task's own wins).
    pub service_account: Option<String>,
    /// The most pods running at once in the workflow.
    pub parallelism: Option<u32>,
    /// When pods of finished steps are deleted.
    pub pod_gc: Option<PodGcStrategy>,
    /// How long the finished workflow is kept.
    pub ttl: Option<TimeToLive>,
    /// The longest the whole workflow may run, in seconds (then it fails).
    pub active_deadline_seconds: Option<u64>,
    /// Where artifacts are stored.
    pub artifact_repository: Option<ArtifactRepositoryRef>,
    /// The priority among workflows waiting for the controller (higher first).
    pub priority: Option<i32>,
    /// When volume claims created for the run are deleted.
    pub volume_claim_gc: Option<VolumeClaimGcStrategy>,
    /// Secrets with registry credentials for every pod (tasks' own are added).
    pub image_pull_secrets: Vec<String>,
    /// The storage kind of the key-only artifacts that carry artifacts collected by loops
    /// (default S3; see [`ArtifactStorage`]).
    pub fan_in_storage: ArtifactStorage,
}

impl WorkflowOptions {
    /// No options: a generated name, everything else as the cluster sets it.
    pub fn new() -> Self {
        WorkflowOptions::default()
    }

    /// Gives the workflow a fixed name instead of a generated one.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The prefix of the generated name (`"nightly-"`).
    pub fn generate_name(mut self, prefix: impl Into<String>) -> Self {
        self.generate_name = Some(prefix.into());
        self
    }

    /// Puts the workflow in this namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Adds a label to the workflow object.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds an annotation to the workflow object.
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }

    /// Runs every pod as this service account (unless a task names its own).
    pub fn service_account(mut self, name: impl Into<String>) -> Self {
        self.service_account = Some(name.into());
        self
    }

    /// Runs at most `pods` pods at once.
    pub fn parallelism(mut self, pods: u32) -> Self {
        self.parallelism = Some(pods);
        self
    }

    /// Deletes pods of finished steps as `strategy` says.
    pub fn pod_gc(mut self, strategy: PodGcStrategy) -> Self {
        self.pod_gc = Some(strategy);
        self
    }

    /// Deletes the workflow `seconds` after it finishes.
    pub fn ttl_after_finished(mut self, seconds: u32) -> Self {
        self.ttl
            .get_or_insert_with(TimeToLive::default)
            .after_completion = Some(seconds);
        self
    }

    /// Sets how long finished workflows are kept, by outcome.
    pub fn ttl(mut self, ttl: TimeToLive) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Fails the workflow when it has run `seconds`.
    pub fn active_deadline_seconds(mut self, seconds: u64) -> Self {
        self.active_deadline_seconds = Some(seconds);
        self
    }

    /// Stores artifacts in the repository configured under `key` of ConfigMap `config_map`.
    pub fn artifact_repository(
        mut self,
        config_map: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        self.artifact_repository = Some(ArtifactRepositoryRef {
            config_map: Some(config_map.into()),
            key: Some(key.into()),
        });
        self
    }

    /// Sets the workflow's priority.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = Some(priority);
        self
    }

    /// Deletes per-run volume claims as `strategy` says.
    pub fn volume_claim_gc(mut self, strategy: VolumeClaimGcStrategy) -> Self {
        self.volume_claim_gc = Some(strategy);
        self
    }

    /// Writes the key-only artifacts that carry artifacts collected by loops with this
    /// storage kind (default S3).
    pub fn fan_in_storage(mut self, storage: ArtifactStorage) -> Self {
        self.fan_in_storage = storage;
        self
    }

    /// Pulls every image with the credentials in Secret `secret`.
    pub fn image_pull_secret(mut self, secret: impl Into<String>) -> Self {
        let secret = secret.into();
        if !self.image_pull_secrets.contains(&secret) {
            self.image_pull_secrets.push(secret);
        }
        self
    }
}

impl super::ArgoOptions {
    /// These options with these workflow-level options.
    pub fn with_workflow(mut self, workflow: WorkflowOptions) -> Self {
        self.workflow = workflow;
        self
    }
}

/// Applies the options to a compiled workflow, with the workflow-level needs of the task
/// settings used (pull secrets, claims to create for each run).
pub(crate) fn apply<'a>(
    options: &WorkflowOptions,
    task_settings: impl IntoIterator<Item = &'a TaskConfig>,
    workflow: &mut model::Workflow,
) {
    let metadata = &mut workflow.metadata;
    if let Some(name) = &options.name {
        metadata.name = Some(name.clone());
        metadata.generate_name = None;
    } else if let Some(prefix) = &options.generate_name {
        metadata.generate_name = Some(prefix.clone());
    }
    if let Some(namespace) = &options.namespace {
        metadata.namespace = Some(namespace.clone());
    }
    if !options.labels.is_empty() {
        metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .extend(options.labels.clone());
    }
    if !options.annotations.is_empty() {
        metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .extend(options.annotations.clone());
    }
    let needs = pod::workflow_level(task_settings);
    let spec = &mut workflow.spec;
    if let Some(account) = &options.service_account {
        spec.service_account_name = Some(account.clone());
    }
    if let Some(pods) = options.parallelism {
        spec.parallelism = Some(i64::from(pods));
    }
    if let Some(strategy) = options.pod_gc {
        spec.pod_gc = Some(model::PodGC {
            strategy: Some(strategy.as_str().to_owned()),
            ..Default::default()
        });
    }
    if let Some(ttl) = options.ttl {
        spec.ttl_strategy = Some(model::TTLStrategy {
            seconds_after_completion: ttl.after_completion.map(i64::from),
            seconds_after_success: ttl.after_success.map(i64::from),
            seconds_after_failure: ttl.after_failure.map(i64::from),
        });
    }
    if let Some(seconds) = options.active_deadline_seconds {
        spec.active_deadline_seconds = Some(i64::try_from(seconds).unwrap_or(i64::MAX));
    }
    if let Some(repository) = &options.artifact_repository {
        spec.artifact_repository_ref = Some(model::ArtifactRepositoryRef {
            config_map: repository.config_map.clone(),
            key: repository.key.clone(),
        });
    }
    if let Some(priority) = options.priority {
        spec.priority = Some(i64::from(priority));
    }
    if let Some(strategy) = options.volume_claim_gc {
        spec.volume_claim_gc = Some(model::VolumeClaimGC {
            strategy: Some(strategy.as_str().to_owned()),
        });
    }
    let mut secrets = options.image_pull_secrets.clone();
    for secret in needs.pull_secrets {
        if !secrets.contains(&secret) {
            secrets.push(secret);
        }
    }
    if !secrets.is_empty() {
        spec.image_pull_secrets = Some(
            secrets
                .into_iter()
                .map(|name| corev1::LocalObjectReference { name })
                .collect(),
        );
    }
    if !needs.claims.is_empty() {
        spec.volume_claim_templates = Some(needs.claims);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::argo::{ArgoOptions, compile};
    use crate::dsl::{PipelineBuilder, TaskBuilder};
    use crate::ir::component::ComponentSpec;
    use std::sync::Arc;

    fn graph() -> crate::PipelineGraph {
        let step = Arc::new(
            ComponentSpec::new("step")
                .image_pull_secret("from-component")
                .mount_new_pvc("scratch", "2Gi", "/scratch"),
        );
        PipelineBuilder::new("opts")
            .build(|| {
                TaskBuilder::new(step).add();
            })
            .unwrap()
    }

    #[test]
    fn workflow_options_become_metadata_and_spec_fields() {
        let options = ArgoOptions::new("img", "/bin/x").with_workflow(
            WorkflowOptions::new()
                .name("opts-fixed")
                .namespace("ml")
                .label("team", "vision")
                .annotation("owner", "me")
                .service_account("runner")
                .parallelism(3)
                .pod_gc(PodGcStrategy::OnWorkflowSuccess)
                .ttl(TimeToLive {
                    after_success: Some(60),
                    after_failure: Some(600),
                    ..TimeToLive::default()
                })
                .active_deadline_seconds(3600)
                .artifact_repository("artifact-repositories", "minio")
                .priority(5)
                .volume_claim_gc(VolumeClaimGcStrategy::OnWorkflowCompletion)
                .image_pull_secret("regcred"),
        );
        let workflow = compile(&graph(), &options).unwrap();
        let m = &workflow.metadata;
        assert_eq!(m.name.as_deref(), Some("opts-fixed"));
        assert_eq!(m.generate_name, None);
        assert_eq!(m.namespace.as_deref(), Some("ml"));
        let labels = m.labels.as_ref().unwrap();
        assert_eq!(labels["team"], "vision");
        assert!(labels.contains_key("pipelines.kubeflow.org/kfp_sdk_version"));
        assert_eq!(m.annotations.as_ref().unwrap()["owner"], "me");
        let s = &workflow.spec;
        assert_eq!(s.service_account_name.as_deref(), Some("runner"));
        assert_eq!(s.parallelism, Some(3));
        assert_eq!(
            s.pod_gc.as_ref().unwrap().strategy.as_deref(),
            Some("OnWorkflowSuccess")
        );
        let ttl = s.ttl_strategy.as_ref().unwrap();
        assert_eq!(
            (ttl.seconds_after_success, ttl.seconds_after_failure),
            (Some(60), Some(600))
        );
        assert_eq!(s.active_deadline_seconds, Some(3600));
        let repo = s.artifact_repository_ref.as_ref().unwrap();
        assert_eq!(repo.key.as_deref(), Some("minio"));
        assert_eq!(s.priority, Some(5));
        assert_eq!(
            s.volume_claim_gc.as_ref().unwrap().strategy.as_deref(),
            Some("OnWorkflowCompletion")
        );
        let secrets: Vec<&str> = s
            .image_pull_secrets
            .as_ref()
            .unwrap()
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(secrets, ["regcred", "from-component"]);
        let claims = s.volume_claim_templates.as_ref().unwrap();
        assert_eq!(claims[0].metadata.name.as_deref(), Some("scratch"));
    }

    #[test]
    fn defaults_leave_the_workflow_as_it_was() {
        let plain = ComponentSpec::new("step");
        let graph = PipelineBuilder::new("plain")
            .build(|| {
                TaskBuilder::new(Arc::new(plain)).add();
            })
            .unwrap();
        let workflow = compile(&graph, &ArgoOptions::new("img", "/bin/x")).unwrap();
        assert_eq!(workflow.metadata.generate_name.as_deref(), Some("plain-"));
        let s = &workflow.spec;
        assert!(s.service_account_name.is_none() && s.pod_gc.is_none() && s.ttl_strategy.is_none());
        assert!(s.image_pull_secrets.is_none() && s.volume_claim_templates.is_none());
    }
}
