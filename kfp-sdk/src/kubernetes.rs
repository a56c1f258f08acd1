//! Kubernetes settings of a task: environment from Secrets and ConfigMaps, volumes, node
//! selection, tolerations, affinity, pod metadata, image pulling, service account and Argo
//! memoization.
//!
//! The settings live in a [`KubernetesConfig`], one field of [`TaskConfig`]. They are set
//! the same way at three levels, the first that sets a value winning:
//!
//! 1. on a task, with the fluent methods of [`Task`] (`task.node_selector(..)`);
//! 2. on a component, with the same methods of [`ComponentSpec`] (defaults for all its tasks);
//! 3. on a whole pipeline, with [`crate::dsl::task_defaults`] inside the pipeline body (or
//!    [`crate::dsl::PipelineBuilder::task_defaults`]).
//!
//! Maps (node selector, labels, environment, mounts by path) are merged key by key; lists
//! (tolerations, pull secrets) are joined. Secret values never appear in the workflow: an
//! environment variable or a volume only *names* the Secret and its key.
//!
//! The local runner ignores these settings (it has no Secrets, volumes or nodes): a component
//! reading an environment variable from a Secret must cope with its absence when run locally.
//!
//! ```
//! use kfp_sdk::prelude::*;
//! use kfp_sdk::kubernetes::{Mount, TaintEffect, Toleration};
//!
//! /// Trains on a GPU.
//! #[component]
//! fn train(epochs: u32) -> u32 { epochs }
//!
//! #[pipeline]
//! fn gpu_training() {
//!     train::task(10)
//!         .gpus(1)
//!         .accelerator_type("nvidia-tesla-t4")
//!         .toleration(Toleration::exists("nvidia.com/gpu").effect(TaintEffect::NoSchedule))
//!         .env_from_secret("WANDB_API_KEY", "wandb", "api-key")
//!         .mount_pvc("datasets", "/data")
//!         .mount("/scratch", Mount::new_pvc("scratch", "50Gi"))
//!         .service_account("trainer");
//! }
//!
//! fn main() {
//!     let graph = gpu_training::graph().unwrap();
//!     let options = kfp_sdk::argo::ArgoOptions::new("example.com/train:1", "/bin/train");
//!     let yaml = kfp_sdk::argo::to_yaml(&kfp_sdk::argo::compile(&graph, &options).unwrap()).unwrap();
//!     assert!(yaml.contains("cloud.google.com/gke-accelerator: nvidia-tesla-t4"));
//!     assert!(yaml.contains("secretKeyRef:"));
//!     assert!(yaml.contains("claimName: datasets"));
//!     assert!(yaml.contains("volumeClaimTemplates:"));
//! }
//! ```
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use k8s_openapi::api::core::v1 as corev1;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use sha2::{Digest, Sha256};

use crate::argo::model;
use crate::component::ComponentSpec;
use crate::config::{RetryPolicy, TaskConfig};
use crate::dsl::Task;
use crate::names;

/// The Kubernetes types that make an affinity ([`KubernetesConfig::affinity`]), from the
/// `k8s-openapi` version this crate uses, so that no dependency of your own must keep in step.
pub mod k8s {
    pub use k8s_openapi::api::core::v1::{
        Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
        PodAffinity, PodAffinityTerm, PodAntiAffinity, PreferredSchedulingTerm,
        WeightedPodAffinityTerm,
    };
    pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        LabelSelector, LabelSelectorRequirement,
    };
}

/// The node label GKE puts on nodes with accelerators, used by
/// [`KubernetesConfig::accelerator_type`].
pub const GKE_ACCELERATOR_LABEL: &str = "cloud.google.com/gke-accelerator";

/// `docs/kubernetes.md`, whose examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/kubernetes.md")]
struct KubernetesDocPage;

/// Where an environment variable's value comes from (besides a literal value, which
/// [`TaskConfig::env`] holds).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EnvSource {
    /// A key of a Secret in the workflow's namespace.
    Secret {
        /// The Secret's name.
        name: String,
        /// The key inside it.
        key: String,
        /// Start the pod even if the Secret or key is missing (the variable is then unset).
        optional: bool,
    },
    /// A key of a ConfigMap in the workflow's namespace.
    ConfigMap {
        /// The ConfigMap's name.
        name: String,
        /// The key inside it.
        key: String,
        /// Start the pod even if the ConfigMap or key is missing.
        optional: bool,
    },
    /// A field of the pod (`metadata.name`, `metadata.namespace`, `spec.nodeName`,
    /// `status.podIP`, `metadata.labels['key']`, ...).
    Field(String),
    /// A resource of the main container (`limits.cpu`, `requests.memory`, ...).
    Resource(String),
}

/// A Kubernetes-created PersistentVolumeClaim made for each run of the workflow
/// (`spec.volumeClaimTemplates`), deleted when the run ends as
/// [`WorkflowOptions::volume_claim_gc`](crate::argo::WorkflowOptions::volume_claim_gc) says.
///
/// Tasks that mount a claim template of the same name share one volume in a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimTemplate {
    /// The claim's name, also the volume's name (a DNS label).
    pub name: String,
    /// The requested size (`"10Gi"`).
    pub size: String,
    /// The storage class; the cluster's default when unset.
    pub storage_class: Option<String>,
    /// Access modes; `ReadWriteOnce` when empty.
    pub access_modes: Vec<String>,
}

impl ClaimTemplate {
    /// A `ReadWriteOnce` claim of this size in the default storage class.
    pub fn new(name: impl Into<String>, size: impl Into<String>) -> Self {
        ClaimTemplate {
            name: name.into(),
            size: size.into(),
            storage_class: None,
            access_modes: Vec::new(),
        }
    }

    /// Uses this storage class.
    pub fn storage_class(mut self, class: impl Into<String>) -> Self {
        self.storage_class = Some(class.into());
        self
    }

    /// Adds an access mode (`ReadWriteOnce`, `ReadWriteMany`, `ReadOnlyMany`,
    /// `ReadWriteOncePod`).
    pub fn access_mode(mut self, mode: impl Into<String>) -> Self {
        self.access_modes.push(mode.into());
        self
    }

    /// The claim as Kubernetes writes it.
    pub fn to_claim(&self) -> corev1::PersistentVolumeClaim {
        let modes = if self.access_modes.is_empty() {
            vec!["ReadWriteOnce".to_owned()]
        } else {
            self.access_modes.clone()
        };
        corev1::PersistentVolumeClaim {
            metadata: metav1::ObjectMeta {
                name: Some(self.name.clone()),
                ..Default::default()
            },
            spec: Some(corev1::PersistentVolumeClaimSpec {
                access_modes: Some(modes),
                resources: Some(corev1::VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([(
                        "storage".to_owned(),
                        Quantity(self.size.clone()),
                    )])),
                    ..Default::default()
                }),
                storage_class_name: self.storage_class.clone(),
                ..Default::default()
            }),
            status: None,
        }
    }
}

/// What a [`Mount`] puts in the container.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VolumeSource {
    /// The keys of a Secret, one file each.
    Secret {
        /// The Secret's name.
        name: String,
        /// Start the pod even if the Secret is missing.
        optional: bool,
    },
    /// The keys of a ConfigMap, one file each.
    ConfigMap {
        /// The ConfigMap's name.
        name: String,
        /// Start the pod even if the ConfigMap is missing.
        optional: bool,
    },
    /// An existing PersistentVolumeClaim.
    Pvc {
        /// The claim's name.
        claim: String,
    },
    /// A claim the workflow creates for each run (see [`ClaimTemplate`]).
    NewPvc(ClaimTemplate),
    /// An empty folder that lives as long as the pod.
    EmptyDir {
        /// Backed by memory (`tmpfs`) instead of the node's disk.
        memory: bool,
        /// The most it may hold (`"1Gi"`).
        size_limit: Option<String>,
    },
}

/// A volume mounted into the task's container.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mount {
    /// What is mounted.
    pub source: VolumeSource,
    /// Mount it read-only.
    pub read_only: bool,
    /// Mount only this path inside the volume.
    pub sub_path: Option<String>,
}

impl Mount {
    fn of(source: VolumeSource) -> Self {
        Mount {
            source,
            read_only: false,
            sub_path: None,
        }
    }

    /// A Secret's keys as files (read-only).
    pub fn secret(name: impl Into<String>) -> Self {
        Mount {
            read_only: true,
            ..Mount::of(VolumeSource::Secret {
                name: name.into(),
                optional: false,
            })
        }
    }

    /// A ConfigMap's keys as files (read-only).
    pub fn config_map(name: impl Into<String>) -> Self {
        Mount {
            read_only: true,
            ..Mount::of(VolumeSource::ConfigMap {
                name: name.into(),
                optional: false,
            })
        }
    }

    /// An existing PersistentVolumeClaim.
    pub fn pvc(claim: impl Into<String>) -> Self {
        Mount::of(VolumeSource::Pvc {
            claim: claim.into(),
        })
    }

    /// A `ReadWriteOnce` claim of this size, created for each run of the workflow.
    pub fn new_pvc(name: impl Into<String>, size: impl Into<String>) -> Self {
        Mount::of(VolumeSource::NewPvc(ClaimTemplate::new(name, size)))
    }

    /// A claim created for each run of the workflow, as described.
    pub fn claim_template(claim: ClaimTemplate) -> Self {
        Mount::of(VolumeSource::NewPvc(claim))
    }

    /// An empty folder on the node's disk.
    pub fn empty_dir() -> Self {
        Mount::of(VolumeSource::EmptyDir {
            memory: false,
            size_limit: None,
        })
    }

    /// An empty folder in memory (`tmpfs`; it counts against the container's memory).
    pub fn memory(size_limit: impl Into<String>) -> Self {
        Mount::of(VolumeSource::EmptyDir {
            memory: true,
            size_limit: Some(size_limit.into()),
        })
    }

    /// Mounts it read-only.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Mounts it writable (Secrets and ConfigMaps are read-only by default).
    pub fn writable(mut self) -> Self {
        self.read_only = false;
        self
    }

    /// Mounts only this path of the volume.
    pub fn sub_path(mut self, path: impl Into<String>) -> Self {
        self.sub_path = Some(path.into());
        self
    }

    /// Lets the pod start when the Secret or ConfigMap is missing.
    pub fn optional(mut self) -> Self {
        if let VolumeSource::Secret { optional, .. } | VolumeSource::ConfigMap { optional, .. } =
            &mut self.source
        {
            *optional = true;
        }
        self
    }
}

/// How a toleration matches a taint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TolerationOperator {
    /// The taint's value equals the toleration's.
    #[default]
    Equal,
    /// Any value (or every taint, when the key is unset too).
    Exists,
}

/// What a taint does to pods that do not tolerate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaintEffect {
    /// New pods are not scheduled on the node.
    NoSchedule,
    /// The scheduler avoids the node.
    PreferNoSchedule,
    /// Running pods are evicted too.
    NoExecute,
}

impl TaintEffect {
    /// The name Kubernetes uses.
    pub fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}

/// Lets the task's pod run on nodes with a matching taint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Toleration {
    /// The taint's key; unset with [`TolerationOperator::Exists`] tolerates every taint.
    pub key: Option<String>,
    /// How the value is matched.
    pub operator: TolerationOperator,
    /// The taint's value (with [`TolerationOperator::Equal`]).
    pub value: Option<String>,
    /// The effect tolerated; every effect when unset.
    pub effect: Option<TaintEffect>,
    /// For `NoExecute`: how long the pod may stay once the taint appears.
    pub toleration_seconds: Option<i64>,
}

impl Toleration {
    /// Tolerates taints with this key and value.
    pub fn equal(key: impl Into<String>, value: impl Into<String>) -> Self {
        Toleration {
            key: Some(key.into()),
            value: Some(value.into()),
            ..Toleration::default()
        }
    }

    /// Tolerates taints with this key, whatever their value.
    pub fn exists(key: impl Into<String>) -> Self {
        Toleration {
            key: Some(key.into()),
            operator: TolerationOperator::Exists,
            ..Toleration::default()
        }
    }

    /// Only taints with this effect.
    pub fn effect(mut self, effect: TaintEffect) -> Self {
        self.effect = Some(effect);
        self
    }

    /// For `NoExecute` taints: stay this long once the taint appears.
    pub fn for_seconds(mut self, seconds: i64) -> Self {
        self.toleration_seconds = Some(seconds);
        self
    }

    /// The toleration as Kubernetes writes it.
    pub fn to_k8s(&self) -> corev1::Toleration {
        corev1::Toleration {
            key: self.key.clone(),
            operator: Some(
                match self.operator {
                    TolerationOperator::Equal => "Equal",
                    TolerationOperator::Exists => "Exists",
                }
                .to_owned(),
            ),
            value: self.value.clone(),
            effect: self.effect.map(|e| e.as_str().to_owned()),
            toleration_seconds: self.toleration_seconds,
        }
    }
}

/// When the kubelet pulls the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PullPolicy {
    /// Every time a container starts.
    Always,
    /// Only when the node does not have it.
    IfNotPresent,
    /// Never (the image must be on the node).
    Never,
}

impl PullPolicy {
    /// The name Kubernetes uses.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// A Kubernetes affinity (node, pod and pod anti-affinity), hashable so that it can key the
/// template cache (it hashes its JSON form).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Affinity(pub corev1::Affinity);

// `corev1::Affinity` holds strings, integers and lists only, so its equality is an
// equivalence.
impl Eq for Affinity {}

impl Hash for Affinity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        serde_json::to_string(&self.0)
            .unwrap_or_default()
            .hash(state);
    }
}

/// How the inputs of a memoized template that takes artifacts are keyed.
///
/// Argo's memoization key is built from the template's variables, and an input artifact
/// offers only its path, not its content; so a key cannot tell two different artifacts
/// apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ArtifactKeying {
    /// Add the run's uid to the key: results are reused only inside one run (for example
    /// when `argo retry` reruns a failed workflow), never across runs. Safe.
    #[default]
    PerRun,
    /// Key on the parameters only, as if the artifacts were always the same: reuse across
    /// runs even when the artifacts differ. Use it only when the artifacts are fully
    /// determined by the parameters.
    IgnoreArtifacts,
}

/// Argo memoization: a task's outputs are stored in a ConfigMap under a key made from its
/// inputs, and a later task with the same key reuses them instead of running.
///
/// The key is `kfp-<component>-<hash>-<sha256 of the parameter values>`: the hash covers the
/// component, its image, command, environment, resources and input/output names, so that a
/// changed component does not reuse stale results; the parameter values are hashed by Argo
/// itself when the task starts (`{{=sprig.sha256sum(toJson([...]))}}`), since a ConfigMap key
/// allows only letters, digits and `-`. Input artifacts are handled as [`ArtifactKeying`]
/// says. A task with caching turned off (`.caching(false)`) is never memoized.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Memoization {
    /// The ConfigMap holding the cache (Argo creates it, labelled
    /// `workflows.argoproj.io/configmap-type: Cache`).
    pub config_map: String,
    /// The oldest entry still reused, as a Go duration (`"24h"`, `"90m"`; no days).
    pub max_age: String,
    /// How input artifacts enter the key.
    pub artifacts: ArtifactKeying,
}

impl Memoization {
    /// Results in `config_map`, reused for `max_age`.
    pub fn new(config_map: impl Into<String>, max_age: impl Into<String>) -> Self {
        Memoization {
            config_map: config_map.into(),
            max_age: max_age.into(),
            artifacts: ArtifactKeying::default(),
        }
    }

    /// Sets how input artifacts enter the key.
    pub fn artifacts(mut self, keying: ArtifactKeying) -> Self {
        self.artifacts = keying;
        self
    }
}

/// The Kubernetes settings of a task (see the [module docs](self)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct KubernetesConfig {
    /// Environment variables taken from Secrets, ConfigMaps or the pod, by variable name.
    /// They win over a literal variable of the same name.
    pub env_from: BTreeMap<String, EnvSource>,
    /// Volumes, by the path they are mounted at.
    pub mounts: BTreeMap<String, Mount>,
    /// Node labels the pod's node must have.
    pub node_selector: BTreeMap<String, String>,
    /// Taints the pod tolerates.
    pub tolerations: Vec<Toleration>,
    /// Node, pod and pod anti-affinity.
    pub affinity: Option<Affinity>,
    /// Labels of the pod.
    pub pod_labels: BTreeMap<String, String>,
    /// Annotations of the pod.
    pub pod_annotations: BTreeMap<String, String>,
    /// When to pull the image.
    pub image_pull_policy: Option<PullPolicy>,
    /// Secrets holding registry credentials (Argo takes them for the whole workflow).
    pub image_pull_secrets: Vec<String>,
    /// The pod's service account.
    pub service_account: Option<String>,
    /// Argo memoization of the task's outputs.
    pub memoize: Option<Memoization>,
}

impl KubernetesConfig {
    /// No settings.
    pub fn new() -> Self {
        KubernetesConfig::default()
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == KubernetesConfig::default()
    }

    /// These settings, with anything unset taken from `base`: maps merged (these entries
    /// winning), lists joined (`base`'s first, without repeats).
    pub fn merged_over(&self, base: &KubernetesConfig) -> KubernetesConfig {
        fn map<K: Ord + Clone, V: Clone>(
            own: &BTreeMap<K, V>,
            base: &BTreeMap<K, V>,
        ) -> BTreeMap<K, V> {
            let mut merged = base.clone();
            merged.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
            merged
        }
        fn list<T: PartialEq + Clone>(own: &[T], base: &[T]) -> Vec<T> {
            let mut merged = base.to_vec();
            for item in own {
                if !merged.contains(item) {
                    merged.push(item.clone());
                }
            }
            merged
        }
        // An affinity is one object: the task's replaces the component's.
        KubernetesConfig {
            env_from: map(&self.env_from, &base.env_from),
            mounts: map(&self.mounts, &base.mounts),
            node_selector: map(&self.node_selector, &base.node_selector),
            tolerations: list(&self.tolerations, &base.tolerations),
            affinity: self.affinity.clone().or_else(|| base.affinity.clone()),
            pod_labels: map(&self.pod_labels, &base.pod_labels),
            pod_annotations: map(&self.pod_annotations, &base.pod_annotations),
            image_pull_policy: self.image_pull_policy.or(base.image_pull_policy),
            image_pull_secrets: list(&self.image_pull_secrets, &base.image_pull_secrets),
            service_account: self
                .service_account
                .clone()
                .or_else(|| base.service_account.clone()),
            memoize: self.memoize.clone().or_else(|| base.memoize.clone()),
        }
    }

    /// Sets environment variable `var` from key `key` of Secret `secret`.
    pub fn env_from_secret(
        mut self,
        var: impl Into<String>,
        secret: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        self.env_from.insert(
            var.into(),
            EnvSource::Secret {
                name: secret.into(),
                key: key.into(),
                optional: false,
            },
        );
        self
    }

    /// Sets environment variable `var` from key `key` of ConfigMap `config_map`.
    pub fn env_from_config_map(
        mut self,
        var: impl Into<String>,
        config_map: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        self.env_from.insert(
            var.into(),
            EnvSource::ConfigMap {
                name: config_map.into(),
                key: key.into(),
                optional: false,
            },
        );
        self
    }

    /// Sets environment variable `var` from a field of the pod (`metadata.name`,
    /// `status.podIP`, `spec.nodeName`, ...).
    pub fn env_from_field(mut self, var: impl Into<String>, field_path: impl Into<String>) -> Self {
        self.env_from
            .insert(var.into(), EnvSource::Field(field_path.into()));
        self
    }

    /// Sets environment variable `var` from a resource of the container (`limits.memory`,
    /// `requests.cpu`, ...).
    pub fn env_from_resource(
        mut self,
        var: impl Into<String>,
        resource: impl Into<String>,
    ) -> Self {
        self.env_from
            .insert(var.into(), EnvSource::Resource(resource.into()));
        self
    }

    /// Mounts a volume at `path` (replacing any mount at that path).
    pub fn mount(mut self, path: impl Into<String>, mount: Mount) -> Self {
        self.mounts.insert(path.into(), mount);
        self
    }

    /// Mounts the keys of Secret `secret` as files in folder `path` (read-only).
    pub fn mount_secret(self, secret: impl Into<String>, path: impl Into<String>) -> Self {
        self.mount(path, Mount::secret(secret))
    }

    /// Mounts the keys of ConfigMap `config_map` as files in folder `path` (read-only).
    pub fn mount_config_map(self, config_map: impl Into<String>, path: impl Into<String>) -> Self {
        self.mount(path, Mount::config_map(config_map))
    }

    /// Mounts the existing PersistentVolumeClaim `claim` at `path`.
    pub fn mount_pvc(self, claim: impl Into<String>, path: impl Into<String>) -> Self {
        self.mount(path, Mount::pvc(claim))
    }

    /// Mounts at `path` a `ReadWriteOnce` claim of `size` named `name` that the workflow
    /// creates for each run (tasks mounting the same name share it).
    pub fn mount_new_pvc(
        self,
        name: impl Into<String>,
        size: impl Into<String>,
        path: impl Into<String>,
    ) -> Self {
        self.mount(path, Mount::new_pvc(name, size))
    }

    /// Mounts an empty folder, which lives as long as the pod, at `path`.
    pub fn mount_empty_dir(self, path: impl Into<String>) -> Self {
        self.mount(path, Mount::empty_dir())
    }

    /// Runs the pod only on nodes with label `key` = `value`.
    pub fn node_selector(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.node_selector.insert(key.into(), value.into());
        self
    }

    /// Runs the pod on nodes with this accelerator, by GKE's node label
    /// ([`GKE_ACCELERATOR_LABEL`]): `accelerator_type("nvidia-tesla-t4")`.
    pub fn accelerator_type(self, accelerator: impl Into<String>) -> Self {
        self.node_selector(GKE_ACCELERATOR_LABEL, accelerator)
    }

    /// Runs the pod on nodes whose label `key` names this accelerator (for clusters that
    /// label accelerators otherwise, e.g. `nvidia.com/gpu.product`).
    pub fn accelerator_type_with_key(
        self,
        key: impl Into<String>,
        accelerator: impl Into<String>,
    ) -> Self {
        self.node_selector(key, accelerator)
    }

    /// Tolerates a taint.
    pub fn toleration(mut self, toleration: Toleration) -> Self {
        if !self.tolerations.contains(&toleration) {
            self.tolerations.push(toleration);
        }
        self
    }

    /// Sets the pod's affinity (replacing any set before).
    pub fn affinity(mut self, affinity: corev1::Affinity) -> Self {
        self.affinity = Some(Affinity(affinity));
        self
    }

    /// Requires a node whose label `key` has one of `values` (a required node affinity
    /// term; terms added this way must all hold).
    pub fn require_node_label(
        mut self,
        key: impl Into<String>,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let requirement = node_requirement(key.into(), values);
        let affinity = &mut self.affinity.get_or_insert_with(Affinity::default).0;
        let node = affinity.node_affinity.get_or_insert_with(Default::default);
        let required = node
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Default::default);
        if required.node_selector_terms.is_empty() {
            required
                .node_selector_terms
                .push(corev1::NodeSelectorTerm::default());
        }
        // Terms are ORed and expressions inside one term ANDed: add to every term.
        for term in &mut required.node_selector_terms {
            term.match_expressions
                .get_or_insert_with(Vec::new)
                .push(requirement.clone());
        }
        self
    }

    /// Prefers (with `weight`, 1–100) nodes whose label `key` has one of `values`.
    pub fn prefer_node_label(
        mut self,
        weight: i32,
        key: impl Into<String>,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let requirement = node_requirement(key.into(), values);
        let affinity = &mut self.affinity.get_or_insert_with(Affinity::default).0;
        affinity
            .node_affinity
            .get_or_insert_with(Default::default)
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(corev1::PreferredSchedulingTerm {
                weight,
                preference: corev1::NodeSelectorTerm {
                    match_expressions: Some(vec![requirement]),
                    match_fields: None,
                },
            });
        self
    }

    /// Adds a label to the pod.
    pub fn pod_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.pod_labels.insert(key.into(), value.into());
        self
    }

    /// Adds an annotation to the pod.
    pub fn pod_annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.pod_annotations.insert(key.into(), value.into());
        self
    }

    /// Sets when the image is pulled.
    pub fn image_pull_policy(mut self, policy: PullPolicy) -> Self {
        self.image_pull_policy = Some(policy);
        self
    }

    /// Pulls images with the registry credentials in Secret `secret` (Argo applies pull
    /// secrets to the whole workflow, so every task gets them).
    pub fn image_pull_secret(mut self, secret: impl Into<String>) -> Self {
        let secret = secret.into();
        if !self.image_pull_secrets.contains(&secret) {
            self.image_pull_secrets.push(secret);
        }
        self
    }

    /// Runs the pod as this service account.
    pub fn service_account(mut self, name: impl Into<String>) -> Self {
        self.service_account = Some(name.into());
        self
    }

    /// Memoizes the task's outputs in ConfigMap `config_map` for `max_age` (a Go duration:
    /// `"24h"`); see [`Memoization`].
    pub fn memoize(self, config_map: impl Into<String>, max_age: impl Into<String>) -> Self {
        self.memoization(Memoization::new(config_map, max_age))
    }

    /// Memoizes the task's outputs as described.
    pub fn memoization(mut self, memoization: Memoization) -> Self {
        self.memoize = Some(memoization);
        self
    }
}

fn node_requirement(
    key: String,
    values: impl IntoIterator<Item = impl Into<String>>,
) -> corev1::NodeSelectorRequirement {
    corev1::NodeSelectorRequirement {
        key,
        operator: "In".to_owned(),
        values: Some(values.into_iter().map(Into::into).collect()),
    }
}

/// The same setters on tasks and components, delegating to [`KubernetesConfig`].
macro_rules! delegate_setters {
    ($( $(#[doc = $doc:literal])* fn $name:ident( $($arg:ident : $ty:ty),* ); )*) => {
        /// Kubernetes settings (see [`crate::kubernetes`]).
        impl<O> Task<O> {
            $(
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = concat!("See [`KubernetesConfig::", stringify!($name), "`].")]
                pub fn $name(self, $($arg: $ty),*) -> Self {
                    self.handle().config(move |c| {
                        c.kubernetes = std::mem::take(&mut c.kubernetes).$name($($arg),*);
                    });
                    self
                }
            )*
        }

        /// Kubernetes settings: defaults for every task of the component (see
        /// [`crate::kubernetes`]).
        impl ComponentSpec {
            $(
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = concat!("See [`KubernetesConfig::", stringify!($name), "`].")]
                pub fn $name(mut self, $($arg: $ty),*) -> Self {
                    self.config.kubernetes =
                        std::mem::take(&mut self.config.kubernetes).$name($($arg),*);
                    self
                }
            )*
        }
    };
}

delegate_setters! {
    /// Sets environment variable `var` from key `key` of Secret `secret`.
    fn env_from_secret(var: impl Into<String>, secret: impl Into<String>, key: impl Into<String>);
    /// Sets environment variable `var` from key `key` of ConfigMap `config_map`.
    fn env_from_config_map(var: impl Into<String>, config_map: impl Into<String>, key: impl Into<String>);
    /// Sets environment variable `var` from a field of the pod (`metadata.name`, ...).
    fn env_from_field(var: impl Into<String>, field_path: impl Into<String>);
    /// Sets environment variable `var` from a resource of the container (`limits.memory`).
    fn env_from_resource(var: impl Into<String>, resource: impl Into<String>);
    /// Mounts a volume at `path`.
    fn mount(path: impl Into<String>, mount: Mount);
    /// Mounts the keys of Secret `secret` as files in folder `path` (read-only).
    fn mount_secret(secret: impl Into<String>, path: impl Into<String>);
    /// Mounts the keys of ConfigMap `config_map` as files in folder `path` (read-only).
    fn mount_config_map(config_map: impl Into<String>, path: impl Into<String>);
    /// Mounts the existing PersistentVolumeClaim `claim` at `path`.
    fn mount_pvc(claim: impl Into<String>, path: impl Into<String>);
    /// Mounts at `path` a claim of `size` named `name`, created for each run.
    fn mount_new_pvc(name: impl Into<String>, size: impl Into<String>, path: impl Into<String>);
    /// Mounts an empty folder at `path`.
    fn mount_empty_dir(path: impl Into<String>);
    /// Runs the pod only on nodes with label `key` = `value`.
    fn node_selector(key: impl Into<String>, value: impl Into<String>);
    /// Runs the pod on nodes with this accelerator (GKE's `cloud.google.com/gke-accelerator`).
    fn accelerator_type(accelerator: impl Into<String>);
    /// Runs the pod on nodes whose label `key` names this accelerator.
    fn accelerator_type_with_key(key: impl Into<String>, accelerator: impl Into<String>);
    /// Tolerates a taint.
    fn toleration(toleration: Toleration);
    /// Sets the pod's affinity.
    fn affinity(affinity: corev1::Affinity);
    /// Requires a node whose label `key` has one of `values`.
    fn require_node_label(key: impl Into<String>, values: impl IntoIterator<Item = impl Into<String>>);
    /// Prefers (with `weight`) nodes whose label `key` has one of `values`.
    fn prefer_node_label(weight: i32, key: impl Into<String>, values: impl IntoIterator<Item = impl Into<String>>);
    /// Adds a label to the pod.
    fn pod_label(key: impl Into<String>, value: impl Into<String>);
    /// Adds an annotation to the pod.
    fn pod_annotation(key: impl Into<String>, value: impl Into<String>);
    /// Sets when the image is pulled.
    fn image_pull_policy(policy: PullPolicy);
    /// Pulls images with the credentials in Secret `secret` (for the whole workflow).
    fn image_pull_secret(secret: impl Into<String>);
    /// Runs the pod as this service account.
    fn service_account(name: impl Into<String>);
    /// Memoizes the outputs in ConfigMap `config_map` for `max_age` (`"24h"`).
    fn memoize(config_map: impl Into<String>, max_age: impl Into<String>);
    /// Memoizes the outputs as described.
    fn memoization(memoization: Memoization);
}

/// Retry settings beyond `.retries(n)`.
impl<O> Task<O> {
    /// Sets the whole retry policy: limit, which failures are retried, backoff.
    ///
    /// ```
    /// use kfp_sdk::prelude::*;
    /// use kfp_sdk::config::{RetryOn, RetryPolicy};
    ///
    /// #[component]
    /// fn flaky() {}
    ///
    /// #[pipeline]
    /// fn retried() {
    ///     flaky::task().retry(
    ///         RetryPolicy::new(5)
    ///             .on(RetryOn::Always)
    ///             .with_backoff("10s", 2)
    ///             .cap("5m")
    ///             .max_duration("1h"),
    ///     );
    /// }
    /// # fn main() { assert_eq!(retried::graph().unwrap().tasks[0].config.retry.as_ref().unwrap().limit, 5); }
    /// ```
    pub fn retry(self, policy: RetryPolicy) -> Self {
        self.handle().config(move |c| c.retry = Some(policy));
        self
    }
}

/// Puts a task's Kubernetes settings (and its memoization) on its container template.
///
/// `component` names the component (it starts the memoization key). Called once per
/// container template by the Argo compiler, after everything else is set.
pub(crate) fn apply(config: &TaskConfig, component: &str, template: &mut model::Template) {
    let k = &config.kubernetes;
    if let Some(memoize) = &k.memoize
        && config.caching != Some(false)
    {
        template.memoize = Some(memoize_field(memoize, component, template));
    }
    let mut volumes: Vec<corev1::Volume> = Vec::new();
    let mut volume_names = names::UniqueNames::default();
    let mut mounts = Vec::new();
    for (path, mount) in &k.mounts {
        let name = match &mount.source {
            // Argo matches the mount to `spec.volumeClaimTemplates` by name.
            VolumeSource::NewPvc(claim) => claim.name.clone(),
            source => {
                let volume = volume(source);
                match volumes.iter().find(|v| same_source(v, &volume)) {
                    Some(existing) => existing.name.clone(),
                    None => {
                        let name = volume_names.unique(&volume_base_name(source, path));
                        volumes.push(corev1::Volume {
                            name: name.clone(),
                            ..volume
                        });
                        name
                    }
                }
            }
        };
        mounts.push(corev1::VolumeMount {
            name,
            mount_path: path.clone(),
            read_only: mount.read_only.then_some(true),
            sub_path: mount.sub_path.clone(),
            ..Default::default()
        });
    }
    if let Some(container) = template.container.as_mut() {
        if !k.env_from.is_empty() {
            let env = container.env.get_or_insert_with(Vec::new);
            env.retain(|e| !k.env_from.contains_key(&e.name));
            env.extend(k.env_from.iter().map(|(name, source)| corev1::EnvVar {
                name: name.clone(),
                value: None,
                value_from: Some(env_source(source)),
            }));
        }
        if !mounts.is_empty() {
            container
                .volume_mounts
                .get_or_insert_with(Vec::new)
                .extend(mounts);
        }
        if let Some(policy) = k.image_pull_policy {
            container.image_pull_policy = Some(policy.as_str().to_owned());
        }
    }
    if !volumes.is_empty() {
        template
            .volumes
            .get_or_insert_with(Vec::new)
            .extend(volumes);
    }
    if !k.node_selector.is_empty() {
        template
            .node_selector
            .get_or_insert_with(BTreeMap::new)
            .extend(k.node_selector.clone());
    }
    if !k.tolerations.is_empty() {
        template
            .tolerations
            .get_or_insert_with(Vec::new)
            .extend(k.tolerations.iter().map(Toleration::to_k8s));
    }
    if let Some(affinity) = &k.affinity {
        template.affinity = Some(affinity.0.clone());
    }
    if !k.pod_labels.is_empty() || !k.pod_annotations.is_empty() {
        let metadata = template.metadata.get_or_insert_with(Default::default);
        if !k.pod_labels.is_empty() {
            metadata
                .labels
                .get_or_insert_with(BTreeMap::new)
                .extend(k.pod_labels.clone());
        }
        if !k.pod_annotations.is_empty() {
            let annotations = metadata.annotations.get_or_insert_with(BTreeMap::new);
            for (key, value) in &k.pod_annotations {
                // The compiler's own annotations (display name, caching) win.
                annotations
                    .entry(key.clone())
                    .or_insert_with(|| value.clone());
            }
        }
    }
    if let Some(account) = &k.service_account {
        template.service_account_name = Some(account.clone());
    }
}

fn env_source(source: &EnvSource) -> corev1::EnvVarSource {
    match source {
        EnvSource::Secret {
            name,
            key,
            optional,
        } => corev1::EnvVarSource {
            secret_key_ref: Some(corev1::SecretKeySelector {
                name: name.clone(),
                key: key.clone(),
                optional: optional.then_some(true),
            }),
            ..Default::default()
        },
        EnvSource::ConfigMap {
            name,
            key,
            optional,
        } => corev1::EnvVarSource {
            config_map_key_ref: Some(corev1::ConfigMapKeySelector {
                name: name.clone(),
                key: key.clone(),
                optional: optional.then_some(true),
            }),
            ..Default::default()
        },
        EnvSource::Field(path) => corev1::EnvVarSource {
            field_ref: Some(corev1::ObjectFieldSelector {
                field_path: path.clone(),
                api_version: None,
            }),
            ..Default::default()
        },
        EnvSource::Resource(resource) => corev1::EnvVarSource {
            resource_field_ref: Some(corev1::ResourceFieldSelector {
                container_name: Some("main".to_owned()),
                resource: resource.clone(),
                divisor: None,
            }),
            ..Default::default()
        },
    }
}

/// The volume for a source (its name is set by the caller).
fn volume(source: &VolumeSource) -> corev1::Volume {
    let mut volume = corev1::Volume::default();
    match source {
        VolumeSource::Secret { name, optional } => {
            volume.secret = Some(corev1::SecretVolumeSource {
                secret_name: Some(name.clone()),
                optional: optional.then_some(true),
                ..Default::default()
            });
        }
        VolumeSource::ConfigMap { name, optional } => {
            volume.config_map = Some(corev1::ConfigMapVolumeSource {
                name: name.clone(),
                optional: optional.then_some(true),
                ..Default::default()
            });
        }
        VolumeSource::Pvc { claim } => {
            volume.persistent_volume_claim = Some(corev1::PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: None,
            });
        }
        VolumeSource::EmptyDir { memory, size_limit } => {
            volume.empty_dir = Some(corev1::EmptyDirVolumeSource {
                medium: memory.then(|| "Memory".to_owned()),
                size_limit: size_limit.clone().map(Quantity),
                ..Default::default()
            });
        }
        VolumeSource::NewPvc(_) => {}
    }
    volume
}

/// Whether two volumes have the same source (an empty folder is never shared between mounts).
fn same_source(a: &corev1::Volume, b: &corev1::Volume) -> bool {
    a.empty_dir.is_none()
        && corev1::Volume {
            name: String::new(),
            ..a.clone()
        } == *b
}

/// A DNS label naming a volume after its source: `secret-NAME`, `config-map-NAME`,
/// `pvc-CLAIM`, `empty-dir-PATH`.
fn volume_base_name(source: &VolumeSource, path: &str) -> String {
    let (kind, what) = match source {
        VolumeSource::Secret { name, .. } => ("secret", name.as_str()),
        VolumeSource::ConfigMap { name, .. } => ("config-map", name.as_str()),
        VolumeSource::Pvc { claim } => ("pvc", claim.as_str()),
        VolumeSource::EmptyDir { .. } => ("empty-dir", path),
        VolumeSource::NewPvc(claim) => ("claim", claim.name.as_str()),
    };
    dns_label(&format!("{kind}-{what}"))
}

/// `text` in kebab case, at most 63 characters (a hash of the whole keeps long ones unique).
fn dns_label(text: &str) -> String {
    let base = names::kebab(text);
    if base.len() <= 63 {
        return base;
    }
    let digest = short_hash(base.as_bytes(), 8);
    format!("{}-{digest}", base[..54].trim_end_matches('-'))
}

fn short_hash(bytes: &[u8], chars: usize) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..chars.min(hex.len())].to_owned()
}

/// The `memoize` field: `kfp-COMPONENT-HASH-{{=sprig.sha256sum(toJson([...]))}}`.
fn memoize_field(
    memoize: &Memoization,
    component: &str,
    template: &model::Template,
) -> model::Memoize {
    // What makes this template's results: component, image, command, environment,
    // resources, mounts and the names of inputs and outputs.
    let identity = serde_json::json!({
        "component": component,
        "container": template.container,
        "inputs": template.inputs,
        "outputs": template.outputs,
    });
    let hash = short_hash(identity.to_string().as_bytes(), 12);
    let mut name = names::kebab(component);
    name.truncate(40);
    let mut key = format!("kfp-{}-{hash}", name.trim_end_matches('-'));
    let inputs = template.inputs.as_ref();
    let parameters: Vec<String> = inputs
        .and_then(|i| i.parameters.as_ref())
        .map(|ps| {
            ps.iter()
                .map(|p| format!("inputs.parameters['{}']", p.name))
                .collect()
        })
        .unwrap_or_default();
    if !parameters.is_empty() {
        key.push_str(&format!(
            "-{{{{=sprig.sha256sum(toJson([{}]))}}}}",
            parameters.join(", ")
        ));
    }
    // Parameters reach the executor as raw artifacts; real artifact inputs have no `raw`.
    let takes_artifacts = inputs
        .and_then(|i| i.artifacts.as_ref())
        .is_some_and(|arts| arts.iter().any(|a| a.raw.is_none()));
    if takes_artifacts && memoize.artifacts == ArtifactKeying::PerRun {
        key.push_str("-{{workflow.uid}}");
    }
    model::Memoize {
        key,
        max_age: memoize.max_age.clone(),
        cache: model::Cache {
            config_map: corev1::LocalObjectReference {
                name: memoize.config_map.clone(),
            },
        },
    }
}

/// What the tasks of a workflow need at the workflow level: image pull secrets and the claims
/// to create for each run.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct WorkflowLevel {
    /// Pull secrets, sorted, each once.
    pub pull_secrets: Vec<String>,
    /// Claim templates, by name; two different claims of one name are both kept (the lint
    /// reports the clash).
    pub claims: Vec<corev1::PersistentVolumeClaim>,
}

/// Collects the workflow-level needs of these task settings.
pub(crate) fn workflow_level<'a>(
    configs: impl IntoIterator<Item = &'a TaskConfig>,
) -> WorkflowLevel {
    let mut secrets = BTreeSet::new();
    let mut claims: BTreeMap<String, Vec<ClaimTemplate>> = BTreeMap::new();
    for config in configs {
        secrets.extend(config.kubernetes.image_pull_secrets.iter().cloned());
        for mount in config.kubernetes.mounts.values() {
            if let VolumeSource::NewPvc(claim) = &mount.source {
                let same_name = claims.entry(claim.name.clone()).or_default();
                if !same_name.contains(claim) {
                    same_name.push(claim.clone());
                }
            }
        }
    }
    WorkflowLevel {
        pull_secrets: secrets.into_iter().collect(),
        claims: claims
            .values()
            .flatten()
            .map(ClaimTemplate::to_claim)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container_template() -> model::Template {
        model::Template {
            name: Some("work".into()),
            container: Some(corev1::Container {
                name: "main".into(),
                image: Some("img".into()),
                env: Some(vec![corev1::EnvVar {
                    name: "TOKEN".into(),
                    value: Some("literal".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            inputs: Some(model::Inputs {
                parameters: Some(vec![
                    model::Parameter {
                        name: "x".into(),
                        ..Default::default()
                    },
                    model::Parameter {
                        name: "y".into(),
                        ..Default::default()
                    },
                ]),
                artifacts: None,
            }),
            ..Default::default()
        }
    }

    fn applied(k: KubernetesConfig) -> model::Template {
        let mut template = container_template();
        let config = TaskConfig {
            kubernetes: k,
            ..TaskConfig::default()
        };
        apply(&config, "work", &mut template);
        template
    }

    #[test]
    fn secret_env_is_a_reference_and_replaces_a_literal_of_the_same_name() {
        let t = applied(
            KubernetesConfig::new()
                .env_from_secret("TOKEN", "api", "token")
                .env_from_config_map("MODE", "settings", "mode")
                .env_from_field("POD", "metadata.name"),
        );
        let env = t.container.unwrap().env.unwrap();
        let names: Vec<&str> = env.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["MODE", "POD", "TOKEN"]);
        let token = env.iter().find(|e| e.name == "TOKEN").unwrap();
        assert_eq!(token.value, None);
        let secret = token
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (secret.name.as_str(), secret.key.as_str()),
            ("api", "token")
        );
        let mode = env.iter().find(|e| e.name == "MODE").unwrap();
        assert_eq!(
            mode.value_from
                .as_ref()
                .unwrap()
                .config_map_key_ref
                .as_ref()
                .unwrap()
                .key,
            "mode"
        );
    }

    #[test]
    fn mounts_become_volumes_and_volume_mounts() {
        let t = applied(
            KubernetesConfig::new()
                .mount_secret("creds", "/etc/creds")
                .mount("/etc/creds-again", Mount::secret("creds"))
                .mount_pvc("data", "/data")
                .mount_new_pvc("scratch", "5Gi", "/scratch")
                .mount_empty_dir("/tmp/work")
                .mount("/dev/shm", Mount::memory("1Gi")),
        );
        let volumes = t.volumes.unwrap();
        let names: Vec<&str> = volumes.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "pvc-data",
                "empty-dir-dev-shm",
                "secret-creds",
                "empty-dir-tmp-work"
            ]
        );
        let mounts = t.container.unwrap().volume_mounts.unwrap();
        let pairs: Vec<(&str, &str, Option<bool>)> = mounts
            .iter()
            .map(|m| (m.mount_path.as_str(), m.name.as_str(), m.read_only))
            .collect();
        assert_eq!(
            pairs,
            [
                ("/data", "pvc-data", None),
                ("/dev/shm", "empty-dir-dev-shm", None),
                ("/etc/creds", "secret-creds", Some(true)),
                ("/etc/creds-again", "secret-creds", Some(true)),
                ("/scratch", "scratch", None),
                ("/tmp/work", "empty-dir-tmp-work", None),
            ]
        );
        let memory = volumes[1].empty_dir.as_ref().unwrap();
        assert_eq!(memory.medium.as_deref(), Some("Memory"));
    }

    #[test]
    fn scheduling_and_pod_settings() {
        let t = applied(
            KubernetesConfig::new()
                .accelerator_type("nvidia-tesla-t4")
                .node_selector("pool", "gpu")
                .toleration(Toleration::exists("nvidia.com/gpu").effect(TaintEffect::NoSchedule))
                .toleration(Toleration::equal("dedicated", "ml").for_seconds(30))
                .require_node_label("zone", ["a", "b"])
                .prefer_node_label(10, "disk", ["ssd"])
                .pod_label("team", "vision")
                .pod_annotation("note", "x")
                .image_pull_policy(PullPolicy::Always)
                .service_account("runner"),
        );
        let selector = t.node_selector.unwrap();
        assert_eq!(selector[GKE_ACCELERATOR_LABEL], "nvidia-tesla-t4");
        assert_eq!(selector["pool"], "gpu");
        let tolerations = t.tolerations.unwrap();
        assert_eq!(tolerations[0].operator.as_deref(), Some("Exists"));
        assert_eq!(tolerations[0].effect.as_deref(), Some("NoSchedule"));
        assert_eq!(tolerations[1].toleration_seconds, Some(30));
        let node = t.affinity.unwrap().node_affinity.unwrap();
        let term = &node
            .required_during_scheduling_ignored_during_execution
            .unwrap()
            .node_selector_terms[0];
        assert_eq!(
            term.match_expressions.as_ref().unwrap()[0].values,
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            node.preferred_during_scheduling_ignored_during_execution
                .unwrap()[0]
                .weight,
            10
        );
        let metadata = t.metadata.unwrap();
        assert_eq!(metadata.labels.unwrap()["team"], "vision");
        assert_eq!(metadata.annotations.unwrap()["note"], "x");
        assert_eq!(t.service_account_name.as_deref(), Some("runner"));
        assert_eq!(
            t.container.unwrap().image_pull_policy.as_deref(),
            Some("Always")
        );
    }

    #[test]
    fn the_memoize_key_hashes_every_parameter_and_the_component() {
        let t = applied(KubernetesConfig::new().memoize("kfp-cache", "24h"));
        let memoize = t.memoize.unwrap();
        assert!(memoize.key.starts_with("kfp-work-"), "{}", memoize.key);
        assert!(
            memoize.key.ends_with(
                "-{{=sprig.sha256sum(toJson([inputs.parameters['x'], inputs.parameters['y']]))}}"
            ),
            "{}",
            memoize.key
        );
        assert_eq!(memoize.cache.config_map.name, "kfp-cache");
        assert_eq!(memoize.max_age, "24h");
        // Another image gives another key.
        let mut other = container_template();
        other.container.as_mut().unwrap().image = Some("img:2".into());
        let config = TaskConfig {
            kubernetes: KubernetesConfig::new().memoize("kfp-cache", "24h"),
            ..TaskConfig::default()
        };
        apply(&config, "work", &mut other);
        assert_ne!(other.memoize.unwrap().key, memoize.key);
        // Caching off: no memoization.
        let mut off = container_template();
        apply(
            &TaskConfig {
                caching: Some(false),
                ..config
            },
            "work",
            &mut off,
        );
        assert_eq!(off.memoize, None);
    }

    #[test]
    fn artifact_inputs_key_on_the_run_unless_told_otherwise() {
        let mut template = container_template();
        template.inputs.as_mut().unwrap().artifacts = Some(vec![model::Artifact {
            name: "data".into(),
            path: Some("/tmp/kfp/in/data".into()),
            ..Default::default()
        }]);
        let mut config = TaskConfig {
            kubernetes: KubernetesConfig::new().memoize("c", "1h"),
            ..TaskConfig::default()
        };
        let mut per_run = template.clone();
        apply(&config, "work", &mut per_run);
        assert!(per_run.memoize.unwrap().key.ends_with("-{{workflow.uid}}"));
        config.kubernetes = KubernetesConfig::new()
            .memoization(Memoization::new("c", "1h").artifacts(ArtifactKeying::IgnoreArtifacts));
        apply(&config, "work", &mut template);
        assert!(!template.memoize.unwrap().key.contains("workflow.uid"));
    }

    #[test]
    fn task_settings_win_over_component_settings() {
        let component = KubernetesConfig::new()
            .node_selector("pool", "cpu")
            .node_selector("zone", "a")
            .toleration(Toleration::exists("a"))
            .service_account("default-runner")
            .mount_pvc("data", "/data");
        let task = KubernetesConfig::new()
            .node_selector("pool", "gpu")
            .toleration(Toleration::exists("b"))
            .mount_pvc("other", "/data");
        let merged = task.merged_over(&component);
        assert_eq!(merged.node_selector["pool"], "gpu");
        assert_eq!(merged.node_selector["zone"], "a");
        assert_eq!(merged.tolerations.len(), 2);
        assert_eq!(merged.service_account.as_deref(), Some("default-runner"));
        assert_eq!(merged.mounts["/data"], Mount::pvc("other"));
    }

    #[test]
    fn workflow_level_needs_are_collected_once() {
        let a = TaskConfig {
            kubernetes: KubernetesConfig::new()
                .image_pull_secret("regcred")
                .mount_new_pvc("scratch", "1Gi", "/s"),
            ..TaskConfig::default()
        };
        let b = TaskConfig {
            kubernetes: KubernetesConfig::new()
                .image_pull_secret("regcred")
                .image_pull_secret("another")
                .mount_new_pvc("scratch", "1Gi", "/elsewhere"),
            ..TaskConfig::default()
        };
        let level = workflow_level([&a, &b]);
        assert_eq!(level.pull_secrets, ["another", "regcred"]);
        assert_eq!(level.claims.len(), 1);
        let claim = &level.claims[0];
        assert_eq!(claim.metadata.name.as_deref(), Some("scratch"));
        let spec = claim.spec.as_ref().unwrap();
        assert_eq!(spec.access_modes, Some(vec!["ReadWriteOnce".to_owned()]));
        assert_eq!(
            spec.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0,
            "1Gi"
        );
    }

    #[test]
    fn long_volume_names_stay_dns_labels() {
        let name = dns_label(&format!("secret-{}", "x".repeat(100)));
        assert!(name.len() <= 63, "{name}");
        assert_ne!(name, dns_label(&format!("secret-{}", "x".repeat(101))));
    }

    #[test]
    fn tasks_share_a_template_only_with_the_same_settings_and_defaults_reach_groups() {
        use crate::component::IoType;
        use crate::dsl::{ParamRef, PipelineBuilder, TaskBuilder};
        use crate::param::ParamType;
        use std::sync::Arc;

        let flip = Arc::new(
            ComponentSpec::new("flip").output("side", IoType::Parameter(ParamType::String)),
        );
        let say = Arc::new(ComponentSpec::new("say"));
        let defaults = TaskConfig {
            kubernetes: KubernetesConfig::new().node_selector("pool", "batch"),
            ..TaskConfig::default()
        };
        let graph = PipelineBuilder::new("p")
            .task_defaults(defaults)
            .build(|| {
                let side: ParamRef<String> = TaskBuilder::new(flip.clone()).add().output("side");
                crate::dsl::when(side.eq("heads"), || {
                    TaskBuilder::new(say.clone()).add();
                });
                TaskBuilder::new(say.clone()).add();
                Task::new(TaskBuilder::new(say.clone()).add(), ()).node_selector("pool", "gpu");
            })
            .unwrap();
        let options = crate::argo::ArgoOptions::new("img", "/bin/x");
        let workflow = crate::argo::compile(&graph, &options).unwrap();
        let pools: Vec<(&str, &str)> = workflow
            .spec
            .templates
            .iter()
            .flatten()
            .filter(|t| t.container.is_some())
            .map(|t| {
                (
                    t.name.as_deref().unwrap_or_default(),
                    t.node_selector.as_ref().unwrap()["pool"].as_str(),
                )
            })
            .collect();
        // The task in the condition and the plain one share `say`; the GPU one has its own.
        assert_eq!(
            pools,
            [("flip", "batch"), ("say", "batch"), ("say-2", "gpu")]
        );
    }

    #[test]
    fn settings_key_the_template_cache() {
        use std::collections::HashSet;
        let a = KubernetesConfig::new().affinity(corev1::Affinity::default());
        let b = KubernetesConfig::new().require_node_label("zone", ["a"]);
        let set: HashSet<KubernetesConfig> = [a.clone(), b, a].into_iter().collect();
        assert_eq!(set.len(), 2);
    }
}
