//! Pod settings on Argo: a task's Kubernetes settings ([`crate::kubernetes`]) written into
//! its container template (environment from Secrets, volumes, scheduling, pod metadata,
//! service account), its memoization as Argo's `memoize` field, and what the tasks of a
//! workflow need at the workflow level (pull secrets, claims to create for each run).
//!
//! Memoization on Argo: a task's outputs are stored in a ConfigMap (Argo creates it, labelled
//! `workflows.argoproj.io/configmap-type: Cache`) under the key
//! `kfp-<component>-<hash>-<sha256 of the parameter values>`: the hash covers the component,
//! its image, command, environment, resources and input/output names; the parameter values
//! are hashed by Argo itself when the task starts (`{{=sprig.sha256sum(toJson([...]))}}`),
//! since a ConfigMap key allows only letters, digits and `-`. Argo's key is built from the
//! template's variables, and an input artifact offers only its path there, so a template
//! taking artifacts adds the run's uid to its key unless told
//! ([`ArtifactKeying::IgnoreArtifacts`]) to key on the parameters only.
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1 as corev1;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::argo::model;
use crate::ir::config::TaskConfig;
use crate::ir::kubernetes::{
    ArtifactKeying, ClaimTemplate, EnvSource, Memoization, Toleration, VolumeSource,
};
use crate::ir::names;
use crate::runtime::digest::sha256_hex;

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

/// The first `chars` hex digits of the SHA-256 of `bytes`.
fn short_hash(bytes: &[u8], chars: usize) -> String {
    let mut hex = sha256_hex(bytes);
    hex.truncate(chars);
    hex
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
    use crate::ir::component::ComponentSpec;
    use crate::ir::kubernetes::{
        GKE_ACCELERATOR_LABEL, KubernetesConfig, Mount, PullPolicy, TaintEffect,
    };

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
        use crate::dsl::{ParamRef, PipelineBuilder, TaskBuilder};
        use crate::ir::component::IoType;
        use crate::ir::param::ParamType;
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
                crate::dsl::TaskRef::new(TaskBuilder::new(say.clone()).add(), ())
                    .node_selector("pool", "gpu");
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
}
