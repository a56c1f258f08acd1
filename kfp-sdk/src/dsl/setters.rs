//! The task settings, defined once for both places they are set: a task ([`TaskRef`], its
//! own settings) and a component ([`ComponentSpec`], defaults for every task of it).
//!
//! Each setter is written once below, as what it does to a [`TaskConfig`]; the
//! `task_settings!` macro makes it a method of both types. Settings only a task has (its
//! name, `after`, its image) are in [`super::task`]; a component's own fields (its image,
//! inputs, outputs) are in [`crate::component`].
use super::TaskRef;
use crate::ir::component::ComponentSpec;
use crate::ir::config::{RetryPolicy, TaskConfig};
use crate::ir::kubernetes::{KubernetesConfig, Memoization, Mount, PullPolicy, Toleration};
use k8s_openapi::api::core::v1 as corev1;

/// Applies a [`KubernetesConfig`] builder method to a task configuration.
fn kubernetes(config: &mut TaskConfig, set: impl FnOnce(KubernetesConfig) -> KubernetesConfig) {
    config.kubernetes = set(std::mem::take(&mut config.kubernetes));
}

/// Defines each setter as a method of [`TaskRef`] and of [`ComponentSpec`]: `fn name(args)
/// |config| { what it does to the config }`.
macro_rules! task_settings {
    ($(
        $(#[doc = $doc:literal])*
        fn $name:ident($($arg:ident : $ty:ty),*) |$config:ident| $body:block
    )*) => {
        /// Task settings (the same methods on [`ComponentSpec`] set a component's defaults).
        impl<O> TaskRef<O> {
            $(
                $(#[doc = $doc])*
                pub fn $name(self, $($arg: $ty),*) -> Self {
                    self.handle().config(move |$config: &mut TaskConfig| $body);
                    self
                }
            )*
        }

        /// Task settings: defaults for every task of the component (the same methods on
        /// [`TaskRef`] set one task's own).
        impl ComponentSpec {
            $(
                $(#[doc = $doc])*
                pub fn $name(mut self, $($arg: $ty),*) -> Self {
                    let $config = &mut self.config;
                    $body
                    self
                }
            )*
        }
    };
}

task_settings! {
    /// The name UIs show for the task.
    fn display_name(name: impl Into<String>) |c| { c.display_name = Some(name.into()); }
    /// Requests CPU (`"500m"`, `"2"`).
    fn cpu_request(quantity: impl Into<String>) |c| { c.resources.cpu_request = Some(quantity.into()); }
    /// Limits CPU.
    fn cpu_limit(quantity: impl Into<String>) |c| { c.resources.cpu_limit = Some(quantity.into()); }
    /// Requests memory (`"512Mi"`, `"4Gi"`).
    fn memory_request(quantity: impl Into<String>) |c| { c.resources.memory_request = Some(quantity.into()); }
    /// Limits memory.
    fn memory_limit(quantity: impl Into<String>) |c| { c.resources.memory_limit = Some(quantity.into()); }
    /// Asks for `count` GPUs (`nvidia.com/gpu` unless [`TaskRef::accelerator`] says otherwise).
    fn gpus(count: u32) |c| { c.resources.gpus = Some(count); }
    /// The accelerator's Kubernetes resource name (`nvidia.com/gpu`, `amd.com/gpu`, ...).
    fn accelerator(resource: impl Into<String>) |c| { c.resources.accelerator = Some(resource.into()); }
    /// Retries the task up to `limit` times after a failure.
    fn retries(limit: u32) |c| { c.retry = Some(RetryPolicy::new(limit)); }
    /// Retries with exponential backoff: wait `duration` (`"10s"`), then `factor` times longer.
    fn retries_with_backoff(limit: u32, duration: &str, factor: u32) |c| {
        c.retry = Some(RetryPolicy::new(limit).with_backoff(duration, factor));
    }
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
    fn retry(policy: RetryPolicy) |c| { c.retry = Some(policy); }
    /// Sets an environment variable.
    fn env(name: impl Into<String>, value: impl Into<String>) |c| {
        c.env.insert(name.into(), value.into());
    }
    /// Turns reuse of earlier results on or off.
    fn caching(enabled: bool) |c| { c.caching = Some(enabled); }
    /// Kills a try that runs longer than `seconds` (it then counts as failed, and is retried
    /// if the task has retries).
    fn timeout_seconds(seconds: u64) |c| { c.timeout_seconds = Some(seconds); }

    /// Sets environment variable `var` from key `key` of Secret `secret`
    /// (see [`KubernetesConfig::env_from_secret`]).
    fn env_from_secret(var: impl Into<String>, secret: impl Into<String>, key: impl Into<String>) |c| {
        kubernetes(c, |k| k.env_from_secret(var, secret, key));
    }
    /// Sets environment variable `var` from key `key` of ConfigMap `config_map`
    /// (see [`KubernetesConfig::env_from_config_map`]).
    fn env_from_config_map(var: impl Into<String>, config_map: impl Into<String>, key: impl Into<String>) |c| {
        kubernetes(c, |k| k.env_from_config_map(var, config_map, key));
    }
    /// Sets environment variable `var` from a field of the pod (`metadata.name`, ...)
    /// (see [`KubernetesConfig::env_from_field`]).
    fn env_from_field(var: impl Into<String>, field_path: impl Into<String>) |c| {
        kubernetes(c, |k| k.env_from_field(var, field_path));
    }
    /// Sets environment variable `var` from a resource of the container (`limits.memory`)
    /// (see [`KubernetesConfig::env_from_resource`]).
    fn env_from_resource(var: impl Into<String>, resource: impl Into<String>) |c| {
        kubernetes(c, |k| k.env_from_resource(var, resource));
    }
    /// Mounts a volume at `path` (see [`KubernetesConfig::mount`]).
    fn mount(path: impl Into<String>, mount: Mount) |c| { kubernetes(c, |k| k.mount(path, mount)); }
    /// Mounts the keys of Secret `secret` as files in folder `path`, read-only
    /// (see [`KubernetesConfig::mount_secret`]).
    fn mount_secret(secret: impl Into<String>, path: impl Into<String>) |c| {
        kubernetes(c, |k| k.mount_secret(secret, path));
    }
    /// Mounts the keys of ConfigMap `config_map` as files in folder `path`, read-only
    /// (see [`KubernetesConfig::mount_config_map`]).
    fn mount_config_map(config_map: impl Into<String>, path: impl Into<String>) |c| {
        kubernetes(c, |k| k.mount_config_map(config_map, path));
    }
    /// Mounts the existing PersistentVolumeClaim `claim` at `path`
    /// (see [`KubernetesConfig::mount_pvc`]).
    fn mount_pvc(claim: impl Into<String>, path: impl Into<String>) |c| {
        kubernetes(c, |k| k.mount_pvc(claim, path));
    }
    /// Mounts at `path` a claim of `size` named `name`, created for each run
    /// (see [`KubernetesConfig::mount_new_pvc`]).
    fn mount_new_pvc(name: impl Into<String>, size: impl Into<String>, path: impl Into<String>) |c| {
        kubernetes(c, |k| k.mount_new_pvc(name, size, path));
    }
    /// Mounts an empty folder at `path` (see [`KubernetesConfig::mount_empty_dir`]).
    fn mount_empty_dir(path: impl Into<String>) |c| { kubernetes(c, |k| k.mount_empty_dir(path)); }
    /// Runs the pod only on nodes with label `key` = `value`
    /// (see [`KubernetesConfig::node_selector`]).
    fn node_selector(key: impl Into<String>, value: impl Into<String>) |c| {
        kubernetes(c, |k| k.node_selector(key, value));
    }
    /// Runs the pod on nodes with this accelerator (GKE's `cloud.google.com/gke-accelerator`)
    /// (see [`KubernetesConfig::accelerator_type`]).
    fn accelerator_type(accelerator: impl Into<String>) |c| {
        kubernetes(c, |k| k.accelerator_type(accelerator));
    }
    /// Runs the pod on nodes whose label `key` names this accelerator
    /// (see [`KubernetesConfig::accelerator_type_with_key`]).
    fn accelerator_type_with_key(key: impl Into<String>, accelerator: impl Into<String>) |c| {
        kubernetes(c, |k| k.accelerator_type_with_key(key, accelerator));
    }
    /// Tolerates a taint (see [`KubernetesConfig::toleration`]).
    fn toleration(toleration: Toleration) |c| { kubernetes(c, |k| k.toleration(toleration)); }
    /// Sets the pod's affinity (see [`KubernetesConfig::affinity`]).
    fn affinity(affinity: corev1::Affinity) |c| { kubernetes(c, |k| k.affinity(affinity)); }
    /// Requires a node whose label `key` has one of `values`
    /// (see [`KubernetesConfig::require_node_label`]).
    fn require_node_label(key: impl Into<String>, values: impl IntoIterator<Item = impl Into<String>>) |c| {
        kubernetes(c, |k| k.require_node_label(key, values));
    }
    /// Prefers (with `weight`) nodes whose label `key` has one of `values`
    /// (see [`KubernetesConfig::prefer_node_label`]).
    fn prefer_node_label(weight: i32, key: impl Into<String>, values: impl IntoIterator<Item = impl Into<String>>) |c| {
        kubernetes(c, |k| k.prefer_node_label(weight, key, values));
    }
    /// Adds a label to the pod (see [`KubernetesConfig::pod_label`]).
    fn pod_label(key: impl Into<String>, value: impl Into<String>) |c| {
        kubernetes(c, |k| k.pod_label(key, value));
    }
    /// Adds an annotation to the pod (see [`KubernetesConfig::pod_annotation`]).
    fn pod_annotation(key: impl Into<String>, value: impl Into<String>) |c| {
        kubernetes(c, |k| k.pod_annotation(key, value));
    }
    /// Sets when the image is pulled (see [`KubernetesConfig::image_pull_policy`]).
    fn image_pull_policy(policy: PullPolicy) |c| { kubernetes(c, |k| k.image_pull_policy(policy)); }
    /// Pulls images with the credentials in Secret `secret` (for the whole run)
    /// (see [`KubernetesConfig::image_pull_secret`]).
    fn image_pull_secret(secret: impl Into<String>) |c| { kubernetes(c, |k| k.image_pull_secret(secret)); }
    /// Runs the pod as this service account (see [`KubernetesConfig::service_account`]).
    fn service_account(name: impl Into<String>) |c| { kubernetes(c, |k| k.service_account(name)); }
    /// Memoizes the outputs in the cache `config_map` for `max_age` (`"24h"`)
    /// (see [`KubernetesConfig::memoize`]).
    fn memoize(config_map: impl Into<String>, max_age: impl Into<String>) |c| {
        kubernetes(c, |k| k.memoize(config_map, max_age));
    }
    /// Memoizes the outputs as described (see [`KubernetesConfig::memoization`]).
    fn memoization(memoization: Memoization) |c| { kubernetes(c, |k| k.memoization(memoization)); }
}

/// Settings only a task has.
impl<O> TaskRef<O> {
    /// Runs this task in another image.
    pub fn image(self, image: impl Into<String>) -> Self {
        let image = image.into();
        self.handle().config(move |c| c.image = Some(image));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::{PipelineBuilder, TaskBuilder};
    use std::sync::Arc;

    /// Every setter, applied once to a task and once to a component: the same settings.
    #[test]
    fn a_task_and_a_component_get_the_same_settings() {
        fn settings<T>(x: T, each: &[&dyn Fn(T) -> T]) -> T {
            each.iter().fold(x, |x, f| f(x))
        }
        macro_rules! all {
            ($t:ty) => {
                [
                    &|x: $t| x.display_name("shown"),
                    &|x: $t| x.cpu_request("1").cpu_limit("2").memory_request("1Gi"),
                    &|x: $t| x.memory_limit("2Gi").gpus(1).accelerator("amd.com/gpu"),
                    &|x: $t| {
                        x.retries_with_backoff(3, "5s", 2)
                            .env("A", "b")
                            .caching(false)
                    },
                    &|x: $t| x.timeout_seconds(60).env_from_secret("S", "sec", "key"),
                    &|x: $t| {
                        x.env_from_config_map("M", "map", "key")
                            .env_from_field("P", "metadata.name")
                    },
                    &|x: $t| {
                        x.env_from_resource("R", "limits.cpu")
                            .mount_secret("sec", "/s")
                    },
                    &|x: $t| x.mount_config_map("map", "/m").mount_pvc("claim", "/p"),
                    &|x: $t| x.mount_new_pvc("new", "1Gi", "/n").mount_empty_dir("/e"),
                    &|x: $t| {
                        x.mount("/x", Mount::memory("1Gi"))
                            .node_selector("pool", "a")
                    },
                    &|x: $t| x.accelerator_type("t4").accelerator_type_with_key("k", "v"),
                    &|x: $t| {
                        x.toleration(Toleration::exists("gpu"))
                            .require_node_label("zone", ["a"])
                    },
                    &|x: $t| {
                        x.prefer_node_label(5, "disk", ["ssd"])
                            .pod_label("team", "ml")
                    },
                    &|x: $t| {
                        x.pod_annotation("note", "n")
                            .image_pull_policy(PullPolicy::Always)
                    },
                    &|x: $t| x.image_pull_secret("reg").service_account("runner"),
                    &|x: $t| x.memoize("cache", "1h").retry(RetryPolicy::new(7)),
                ] as [&dyn Fn($t) -> $t; 16]
            };
        }
        let component = settings(ComponentSpec::new("c"), &all!(ComponentSpec));
        let plain = Arc::new(ComponentSpec::new("c"));
        let graph = PipelineBuilder::new("p")
            .build(|| {
                let task = TaskRef::new(TaskBuilder::new(plain.clone()).add(), ());
                settings(task, &all!(TaskRef<()>));
            })
            .unwrap();
        assert_ne!(component.config, TaskConfig::default());
        assert_eq!(graph.tasks[0].config, component.config);
        assert_eq!(component.config.retry, Some(RetryPolicy::new(7)));
        assert_eq!(component.config.kubernetes.mounts.len(), 6);
    }
}
