//! Task configuration: resources, retries, environment, caching, display name, timeout, and
//! the Kubernetes settings of [`super::kubernetes`], as backend-neutral data.
//!
//! A [`TaskConfig`] sits on a component (defaults for all its tasks) and on each task (the
//! task's own settings); [`TaskConfig::merged_over`] gives the settings a task runs with.
use std::collections::BTreeMap;

use super::kubernetes::KubernetesConfig;

/// CPU, memory and GPU requests and limits, in Kubernetes quantity syntax (`"500m"`, `"2Gi"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Resources {
    /// CPU request (`"500m"`, `"2"`).
    pub cpu_request: Option<String>,
    /// CPU limit.
    pub cpu_limit: Option<String>,
    /// Memory request (`"512Mi"`, `"4Gi"`).
    pub memory_request: Option<String>,
    /// Memory limit.
    pub memory_limit: Option<String>,
    /// Number of accelerators (GPUs), set as a limit on [`Resources::accelerator`].
    pub gpus: Option<u32>,
    /// The accelerator's resource name; `nvidia.com/gpu` when unset.
    pub accelerator: Option<String>,
}

impl Resources {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }

    fn merged_over(&self, base: &Resources) -> Resources {
        fn pick(own: &Option<String>, base: &Option<String>) -> Option<String> {
            own.clone().or_else(|| base.clone())
        }
        Resources {
            cpu_request: pick(&self.cpu_request, &base.cpu_request),
            cpu_limit: pick(&self.cpu_limit, &base.cpu_limit),
            memory_request: pick(&self.memory_request, &base.memory_request),
            memory_limit: pick(&self.memory_limit, &base.memory_limit),
            gpus: self.gpus.or(base.gpus),
            accelerator: pick(&self.accelerator, &base.accelerator),
        }
    }
}

/// Exponential backoff between retries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Backoff {
    /// The first wait, as a duration string (`"10s"`, `"1m"`).
    pub duration: String,
    /// The factor the wait grows by after each retry.
    pub factor: u32,
    /// The longest total time to keep retrying (`"1h"`), if limited.
    pub max_duration: Option<String>,
    /// The longest single wait (`"5m"`): the wait stops growing once it reaches this.
    pub cap: Option<String>,
}

/// Which failures a task is retried after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryOn {
    /// Failures of the step itself: a non-zero exit (the default).
    OnFailure,
    /// Errors of the system around it: the pod deleted or evicted, the node lost, ...
    OnError,
    /// Only transient errors of the system (what counts as transient is the backend's call).
    OnTransientError,
    /// Both failures and errors.
    Always,
}

impl RetryOn {
    /// The variant's name (`"OnFailure"`, `"OnError"`, `"OnTransientError"`, `"Always"`).
    pub fn as_str(self) -> &'static str {
        match self {
            RetryOn::OnFailure => "OnFailure",
            RetryOn::OnError => "OnError",
            RetryOn::OnTransientError => "OnTransientError",
            RetryOn::Always => "Always",
        }
    }
}

/// When and how often a failed task is tried again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    /// How many times to retry after the first failure.
    pub limit: u32,
    /// Waits between tries; none means retry at once.
    pub backoff: Option<Backoff>,
    /// Which failures are retried; [`RetryOn::OnFailure`] when unset.
    pub policy: Option<RetryOn>,
}

impl RetryPolicy {
    /// Retry up to `limit` times, at once.
    pub fn new(limit: u32) -> Self {
        RetryPolicy {
            limit,
            backoff: None,
            policy: None,
        }
    }

    /// Retries after these failures only.
    pub fn on(mut self, policy: RetryOn) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Wait `duration` before the first retry, `factor` times longer before each next one.
    pub fn with_backoff(mut self, duration: impl Into<String>, factor: u32) -> Self {
        let backoff = self.backoff_or_default();
        backoff.duration = duration.into();
        backoff.factor = factor;
        self
    }

    /// Never waits longer than `cap` (`"5m"`) between tries (needs a backoff: see
    /// [`RetryPolicy::with_backoff`]; without one, this sets a backoff of `"1s"`, factor 2).
    pub fn cap(mut self, cap: impl Into<String>) -> Self {
        self.backoff_or_default().cap = Some(cap.into());
        self
    }

    /// Stops retrying once `duration` (`"1h"`) has passed since the first try (needs a
    /// backoff, like [`RetryPolicy::cap`]).
    pub fn max_duration(mut self, duration: impl Into<String>) -> Self {
        self.backoff_or_default().max_duration = Some(duration.into());
        self
    }

    fn backoff_or_default(&mut self) -> &mut Backoff {
        self.backoff.get_or_insert_with(|| Backoff {
            duration: "1s".into(),
            factor: 2,
            max_duration: None,
            cap: None,
        })
    }
}

/// How one task (or every task of a component) runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TaskConfig {
    /// The name a UI shows for the task.
    pub display_name: Option<String>,
    /// CPU, memory and GPU.
    pub resources: Resources,
    /// Retries after a failure.
    pub retry: Option<RetryPolicy>,
    /// Environment variables with literal values.
    pub env: BTreeMap<String, String>,
    /// Whether results may be reused from an earlier run with the same inputs (default: yes).
    pub caching: Option<bool>,
    /// The image, overriding the component's and the pipeline's.
    pub image: Option<String>,
    /// The longest one try may take, in seconds, before it is killed and counts as failed.
    pub timeout_seconds: Option<u64>,
    /// Kubernetes settings: Secrets, volumes, scheduling, pod metadata, memoization (see
    /// [`super::kubernetes`]).
    pub kubernetes: KubernetesConfig,
}

impl TaskConfig {
    /// These settings, with anything unset taken from `base` (environment maps are merged,
    /// these entries winning).
    pub fn merged_over(&self, base: &TaskConfig) -> TaskConfig {
        let mut env = base.env.clone();
        env.extend(self.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        TaskConfig {
            display_name: self
                .display_name
                .clone()
                .or_else(|| base.display_name.clone()),
            resources: self.resources.merged_over(&base.resources),
            retry: self.retry.clone().or_else(|| base.retry.clone()),
            env,
            caching: self.caching.or(base.caching),
            image: self.image.clone().or_else(|| base.image.clone()),
            timeout_seconds: self.timeout_seconds.or(base.timeout_seconds),
            kubernetes: self.kubernetes.merged_over(&base.kubernetes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_settings_win_and_unset_ones_come_from_the_component() {
        let component = TaskConfig {
            resources: Resources {
                cpu_request: Some("1".into()),
                memory_limit: Some("1Gi".into()),
                ..Resources::default()
            },
            retry: Some(RetryPolicy::new(2)),
            env: [("A".to_string(), "component".to_string())].into(),
            ..TaskConfig::default()
        };
        let task = TaskConfig {
            resources: Resources {
                cpu_request: Some("4".into()),
                ..Resources::default()
            },
            env: [("A".to_string(), "task".to_string())].into(),
            caching: Some(false),
            ..TaskConfig::default()
        };
        let merged = task.merged_over(&component);
        assert_eq!(merged.resources.cpu_request.as_deref(), Some("4"));
        assert_eq!(merged.resources.memory_limit.as_deref(), Some("1Gi"));
        assert_eq!(merged.retry, Some(RetryPolicy::new(2)));
        assert_eq!(merged.env["A"], "task");
        assert_eq!(merged.caching, Some(false));
    }
}
