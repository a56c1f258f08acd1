//! Kubernetes settings of a task, as data: environment from Secrets and ConfigMaps, volumes,
//! node selection, tolerations, affinity, pod metadata, image pulling, service account and
//! result memoization.
//!
//! The settings live in a [`KubernetesConfig`], one field of [`TaskConfig`]. They are set
//! the same way at three levels, the first that sets a value winning:
//!
//! 1. on a task, with the fluent methods of [`TaskRef`](crate::dsl::TaskRef) (`task.node_selector(..)`);
//! 2. on a component, with the same methods of [`ComponentSpec`](crate::ComponentSpec)
//!    (defaults for all its tasks);
//! 3. on a whole pipeline, with [`task_defaults`](crate::dsl::task_defaults) inside the
//!    pipeline body (or [`PipelineBuilder::task_defaults`](crate::dsl::PipelineBuilder::task_defaults)).
//!
//! Maps (node selector, labels, environment, mounts by path) are merged key by key; lists
//! (tolerations, pull secrets) are joined. Secret values never appear in the workflow: an
//! environment variable or a volume only *names* the Secret and its key.
//!
//! This module holds the settings only; each backend gives them their meaning (the Argo
//! compiler writes them into a pod's template, see `argo::compiler::pod`). The local runner
//! ignores them (it has no Secrets, volumes or nodes): a component reading an environment
//! variable from a Secret must cope with its absence when run locally.
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
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use k8s_openapi::api::core::v1 as corev1;

mod volumes;
pub use volumes::{ClaimTemplate, Mount, VolumeSource};

#[cfg(doc)]
use super::config::TaskConfig;

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
#[doc = include_str!("../../../../docs/kubernetes.md")]
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

/// How the input artifacts of a memoized task enter its cache key.
///
/// A backend may key memoized results on values it can see before the task runs; an input
/// artifact may offer only its location there, not its content, so such a key cannot tell
/// two different artifacts apart (on Argo it cannot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ArtifactKeying {
    /// Add the run's identity to the key: results are reused only inside one run (for
    /// example when a failed run is retried), never across runs. Safe.
    #[default]
    PerRun,
    /// Key on the parameters only, as if the artifacts were always the same: reuse across
    /// runs even when the artifacts differ. Use it only when the artifacts are fully
    /// determined by the parameters.
    IgnoreArtifacts,
}

/// Memoization in the cluster: a task's outputs are stored in a named cache under a key made
/// from its component and its inputs, and a later task with the same key, in this run or a
/// later one, reuses them instead of running.
///
/// The key covers the component (its image, command, environment, resources and
/// input/output names, so that a changed component does not reuse stale results) and the
/// values of its parameters; input artifacts enter it as [`ArtifactKeying`] says. A task
/// with caching turned off (`.caching(false)`) is never memoized. How the cache is stored is
/// the backend's business (on Argo: a ConfigMap and the template's `memoize` field, as
/// `kfp-sdk/src/argo/compiler/pod.rs` describes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Memoization {
    /// The name of the cache in the cluster (on Argo: the ConfigMap holding it).
    pub config_map: String,
    /// The oldest entry still reused, as a duration (`"24h"`, `"90m"`; no days).
    pub max_age: String,
    /// How input artifacts enter the key.
    pub artifacts: ArtifactKeying,
}

impl Memoization {
    /// Results in the cache named `config_map`, reused for `max_age`.
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
    /// Secrets holding registry credentials (a backend may apply them to the whole run).
    pub image_pull_secrets: Vec<String>,
    /// The pod's service account.
    pub service_account: Option<String>,
    /// Memoization of the task's outputs in the cluster.
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

    /// Pulls images with the registry credentials in Secret `secret` (a backend may apply
    /// pull secrets to the whole run: on Argo every task gets them).
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

    /// Memoizes the task's outputs in the cache named `config_map` for `max_age` (a
    /// duration: `"24h"`); see [`Memoization`].
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn settings_key_the_template_cache() {
        use std::collections::HashSet;
        let a = KubernetesConfig::new().affinity(corev1::Affinity::default());
        let b = KubernetesConfig::new().require_node_label("zone", ["a"]);
        let set: HashSet<KubernetesConfig> = [a.clone(), b, a].into_iter().collect();
        assert_eq!(set.len(), 2);
    }
}
