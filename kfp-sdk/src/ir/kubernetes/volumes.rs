//! Volumes a task mounts: Secrets, ConfigMaps, existing claims, claims made for each run,
//! empty folders ([`Mount`], [`VolumeSource`], [`ClaimTemplate`]).
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as corev1;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

/// A PersistentVolumeClaim made for each run of the pipeline, deleted when the run ends as
/// the backend's options say (on Argo: `spec.volumeClaimTemplates` and
/// `WorkflowOptions::volume_claim_gc`).
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
