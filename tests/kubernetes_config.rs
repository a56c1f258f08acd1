//! Kubernetes task settings, workflow options and resource kinds, end to end through the
//! `kubernetes_config` example's CLI: what the YAML means (Secret references, volumes and
//! claim templates, GPU scheduling, retries, memoization, pipeline-wide defaults, workflow
//! options, `CronWorkflow` and `WorkflowTemplate`), that Argo's schema, CRD and Hera accept
//! every kind, and that lint errors stop `compile` before anything is written.
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kfp_sdk::argo::model::{CronWorkflow, Template, Workflow, WorkflowTemplate};
use serde_json::json;

const EXAMPLE: &str = "kubernetes_config";

fn compile_with(flags: &[&str]) -> Output {
    support::run(
        Command::new(support::example(EXAMPLE))
            .arg("compile")
            .args(flags)
            .env_remove("KFP_IMAGE"),
    )
}

fn yaml(flags: &[&str]) -> String {
    let out = compile_with(flags);
    assert!(
        out.status.success(),
        "compile {flags:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> T {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn workflow() -> Workflow {
    parse(&yaml(&[]))
}

fn template<'w>(workflow: &'w Workflow, name: &str) -> &'w Template {
    workflow
        .spec
        .templates
        .iter()
        .flatten()
        .find(|t| t.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no template {name}"))
}

/// The main container of a template.
macro_rules! container {
    ($template:expr) => {
        $template.container.as_ref().unwrap()
    };
}

/// A container's environment variable.
macro_rules! env {
    ($container:expr, $name:expr) => {
        $container
            .env
            .iter()
            .flatten()
            .find(|e| e.name == $name)
            .unwrap_or_else(|| panic!("no env {}", $name))
    };
}

/// Validates files with Argo's schema + CRD and Hera's models; returns the `ok` lines.
fn validate(files: &[PathBuf]) -> Option<usize> {
    let python = support::oracle_python()?;
    let out = support::run(
        Command::new(python)
            .arg(support::root().join("tests/oracle/validate_argo.py"))
            .args(files)
            .env("KFP_SHARED_DIR", support::shared_dir()),
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "validation failed:\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(report.lines().filter(|l| l.ends_with(": ok")).count())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn secrets_and_config_maps_are_referenced_never_copied() {
    let workflow = workflow();
    let train = container!(template(&workflow, "train"));
    let token = env!(train, "WANDB_API_KEY");
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
        ("wandb", "api-key")
    );
    let level = env!(train, "LOG_LEVEL").value_from.as_ref().unwrap();
    let config = level.config_map_key_ref.as_ref().unwrap();
    assert_eq!(
        (config.name.as_str(), config.key.as_str()),
        ("training-config", "log-level")
    );
    let pod = env!(container!(template(&workflow, "make-data")), "POD_NAME");
    assert_eq!(
        pod.value_from
            .as_ref()
            .unwrap()
            .field_ref
            .as_ref()
            .unwrap()
            .field_path,
        "metadata.name"
    );
}

#[test]
fn volumes_mount_claims_secrets_and_memory() {
    let workflow = workflow();
    let train = template(&workflow, "train");
    let mounts: Vec<(&str, &str, Option<bool>)> = container!(train)
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.mount_path.as_str(), m.name.as_str(), m.read_only))
        .collect();
    assert_eq!(
        mounts,
        [
            ("/datasets", "pvc-datasets", None),
            ("/dev/shm", "empty-dir-dev-shm", None),
            ("/scratch", "scratch", None),
            ("/var/secrets/gcp", "secret-gcp-credentials", Some(true)),
        ]
    );
    let volumes = train.volumes.as_ref().unwrap();
    let claim = volumes[0].persistent_volume_claim.as_ref().unwrap();
    assert_eq!(
        (volumes[0].name.as_str(), claim.claim_name.as_str()),
        ("pvc-datasets", "datasets")
    );
    let memory = volumes[1].empty_dir.as_ref().unwrap();
    assert_eq!(memory.medium.as_deref(), Some("Memory"));
    assert_eq!(memory.size_limit.as_ref().unwrap().0, "2Gi");
    assert_eq!(
        volumes[2].secret.as_ref().unwrap().secret_name.as_deref(),
        Some("gcp-credentials")
    );
    // `scratch` is created for each run (one claim, though two tasks mount it).
    let claims = workflow.spec.volume_claim_templates.as_ref().unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].metadata.name.as_deref(), Some("scratch"));
    let spec = claims[0].spec.as_ref().unwrap();
    assert_eq!(spec.access_modes, Some(vec!["ReadWriteOnce".to_owned()]));
    assert_eq!(
        spec.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0,
        "1Gi"
    );
    assert!(
        container!(template(&workflow, "make-data"))
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| m.name == "scratch" && m.mount_path == "/scratch")
    );
}

#[test]
fn the_gpu_task_is_scheduled_on_gpu_nodes() {
    let workflow = workflow();
    let train = template(&workflow, "train");
    let limits = container!(train)
        .resources
        .as_ref()
        .unwrap()
        .limits
        .as_ref()
        .unwrap();
    assert_eq!(limits["nvidia.com/gpu"].0, "1");
    assert_eq!(
        train.node_selector.as_ref().unwrap()["cloud.google.com/gke-accelerator"],
        "nvidia-tesla-t4"
    );
    let toleration = &train.tolerations.as_ref().unwrap()[0];
    assert_eq!(toleration.key.as_deref(), Some("nvidia.com/gpu"));
    assert_eq!(toleration.operator.as_deref(), Some("Exists"));
    assert_eq!(toleration.effect.as_deref(), Some("NoSchedule"));
    let term = &train
        .affinity
        .as_ref()
        .unwrap()
        .node_affinity
        .as_ref()
        .unwrap()
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .unwrap()
        .node_selector_terms[0];
    let requirement = &term.match_expressions.as_ref().unwrap()[0];
    assert_eq!(requirement.key, "topology.kubernetes.io/zone");
    assert_eq!(requirement.operator, "In");
    assert_eq!(
        container!(train).image_pull_policy.as_deref(),
        Some("IfNotPresent")
    );
    // Other tasks are not.
    assert!(template(&workflow, "report").node_selector.is_none());
}

#[test]
fn retries_on_any_error_with_a_capped_backoff() {
    let workflow = workflow();
    let train = template(&workflow, "train");
    let retry = train.retry_strategy.as_ref().unwrap();
    assert_eq!(retry.retry_policy.as_deref(), Some("Always"));
    assert_eq!(serde_json::to_value(&retry.limit).unwrap(), json!(3));
    let backoff = retry.backoff.as_ref().unwrap();
    assert_eq!(backoff.duration.as_deref(), Some("30s"));
    assert_eq!(backoff.cap.as_deref(), Some("5m"));
    assert_eq!(
        serde_json::to_value(&train.active_deadline_seconds).unwrap(),
        json!(3600)
    );
}

#[test]
fn memoization_keys_cover_every_input() {
    let workflow = workflow();
    let make = template(&workflow, "make-data").memoize.as_ref().unwrap();
    assert_eq!(make.cache.config_map.name, "kfp-rs-cache");
    assert_eq!(make.max_age, "168h");
    assert!(make.key.starts_with("kfp-make-data-"), "{}", make.key);
    assert!(
        make.key
            .ends_with("-{{=sprig.sha256sum(toJson([inputs.parameters['rows']]))}}"),
        "{}",
        make.key
    );
    // Artifacts cannot be keyed by content: the key is scoped to the run.
    let train = template(&workflow, "train").memoize.as_ref().unwrap();
    assert!(
        train.key.ends_with(
            "-{{=sprig.sha256sum(toJson([inputs.parameters['epochs']]))}}-{{workflow.uid}}"
        ),
        "{}",
        train.key
    );
    // Caching turned off: not memoized.
    assert!(template(&workflow, "report").memoize.is_none());
}

#[test]
fn pipeline_defaults_reach_every_task() {
    let workflow = workflow();
    for name in ["make-data", "train", "report"] {
        let t = template(&workflow, name);
        assert_eq!(
            t.service_account_name.as_deref(),
            Some("pipeline-runner"),
            "{name}"
        );
        let labels = t.metadata.as_ref().unwrap().labels.as_ref().unwrap();
        assert_eq!(labels["team"], "vision", "{name}");
    }
    let secrets = workflow.spec.image_pull_secrets.as_ref().unwrap();
    assert_eq!(secrets[0].name, "regcred");
}

#[test]
fn workflow_options_come_from_flags() {
    let text = yaml(&[
        "--name",
        "kc-run-1",
        "--namespace",
        "ml",
        "--service-account",
        "runner",
        "--parallelism",
        "2",
        "--pod-gc",
        "on-pod-success",
        "--ttl-seconds",
        "3600",
        "--active-deadline-seconds",
        "7200",
        "--artifact-repository",
        "artifact-repositories:minio",
        "--label",
        "env=dev",
        "--annotation",
        "owner=me",
        "--priority",
        "10",
        "--volume-claim-gc",
        "on-workflow-completion",
        "--image-pull-secret",
        "other",
    ]);
    let workflow: Workflow = parse(&text);
    let m = &workflow.metadata;
    assert_eq!(m.name.as_deref(), Some("kc-run-1"));
    assert_eq!(m.generate_name, None);
    assert_eq!(m.namespace.as_deref(), Some("ml"));
    assert_eq!(m.labels.as_ref().unwrap()["env"], "dev");
    assert_eq!(m.annotations.as_ref().unwrap()["owner"], "me");
    let s = &workflow.spec;
    assert_eq!(s.service_account_name.as_deref(), Some("runner"));
    assert_eq!(s.parallelism, Some(2));
    assert_eq!(
        s.pod_gc.as_ref().unwrap().strategy.as_deref(),
        Some("OnPodSuccess")
    );
    assert_eq!(
        s.ttl_strategy.as_ref().unwrap().seconds_after_completion,
        Some(3600)
    );
    assert_eq!(s.active_deadline_seconds, Some(7200));
    let repository = s.artifact_repository_ref.as_ref().unwrap();
    assert_eq!(
        (repository.config_map.as_deref(), repository.key.as_deref()),
        (Some("artifact-repositories"), Some("minio"))
    );
    assert_eq!(s.priority, Some(10));
    assert_eq!(
        s.volume_claim_gc.as_ref().unwrap().strategy.as_deref(),
        Some("OnWorkflowCompletion")
    );
    let secrets: Vec<&str> = s
        .image_pull_secrets
        .iter()
        .flatten()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(secrets, ["other", "regcred"]);
    // A task's own service account wins over the workflow's.
    assert_eq!(
        template(&workflow, "train").service_account_name.as_deref(),
        Some("pipeline-runner")
    );
    let dir = tempfile::tempdir().unwrap();
    if let Some(ok) = validate(&[write(dir.path(), "options.yaml", &text)]) {
        assert_eq!(ok, 1);
    }
}

#[test]
fn a_cron_workflow_runs_the_pipeline_on_a_schedule() {
    let text = yaml(&[
        "--kind",
        "cron-workflow",
        "--schedule",
        "0 3 * * *",
        "--schedule",
        "30 12 * * mon-fri",
        "--timezone",
        "Europe/Paris",
        "--concurrency-policy",
        "forbid",
        "--starting-deadline-seconds",
        "300",
        "--successful-history-limit",
        "3",
        "--failed-history-limit",
        "1",
    ]);
    let cron: CronWorkflow = parse(&text);
    assert_eq!(cron.kind, "CronWorkflow");
    assert_eq!(cron.metadata.name.as_deref(), Some("kubernetes-config"));
    let spec = &cron.spec;
    assert_eq!(spec.schedules, ["0 3 * * *", "30 12 * * mon-fri"]);
    assert_eq!(spec.timezone.as_deref(), Some("Europe/Paris"));
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
    assert_eq!(spec.starting_deadline_seconds, Some(300));
    assert_eq!(spec.successful_jobs_history_limit, Some(3));
    assert_eq!(spec.failed_jobs_history_limit, Some(1));
    assert_eq!(
        spec.workflow_spec.entrypoint.as_deref(),
        Some("kubernetes-config")
    );
    assert!(spec.workflow_spec.volume_claim_templates.is_some());
    let dir = tempfile::tempdir().unwrap();
    if let Some(ok) = validate(&[write(dir.path(), "cron.yaml", &text)]) {
        assert_eq!(ok, 1);
    }
}

#[test]
fn a_workflow_template_and_the_workflow_that_runs_it() {
    let text = yaml(&["--kind", "workflow-template", "--namespace", "ml"]);
    let documents: Vec<&str> = text.split("\n---\n").collect();
    assert_eq!(documents.len(), 2, "{text}");
    let template: WorkflowTemplate = parse(documents[0]);
    assert_eq!(template.kind, "WorkflowTemplate");
    assert_eq!(template.metadata.name.as_deref(), Some("kubernetes-config"));
    assert_eq!(template.metadata.namespace.as_deref(), Some("ml"));
    assert_eq!(
        template.spec.entrypoint.as_deref(),
        Some("kubernetes-config")
    );
    assert_eq!(template.spec.templates.as_ref().unwrap().len(), 4);
    let workflow: Workflow = parse(documents[1]);
    assert_eq!(
        workflow.metadata.generate_name.as_deref(),
        Some("kubernetes-config-")
    );
    assert_eq!(workflow.metadata.namespace.as_deref(), Some("ml"));
    let reference = workflow.spec.workflow_template_ref.as_ref().unwrap();
    assert_eq!(reference.name.as_deref(), Some("kubernetes-config"));
    assert!(workflow.spec.templates.is_none());
    let dir = tempfile::tempdir().unwrap();
    if let Some(ok) = validate(&[write(dir.path(), "template.yaml", &text)]) {
        assert_eq!(ok, 2);
    }
}

#[test]
fn lint_errors_stop_compile_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.yaml");
    let long = "n".repeat(53);
    let out = compile_with(&[
        "-o",
        output.to_str().unwrap(),
        "--kind",
        "cron-workflow",
        "--schedule",
        "0 25 * * *",
        "--timezone",
        "Mars/Olympus",
        "--name",
        &long,
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "CronWorkflow '",
        "spec.schedules[0]: cron schedule 0 25 * * * is malformed: end of range (25) above maximum (23): 25",
        "spec.timezone: invalid timezone \"Mars/Olympus\"",
        "must not be more than 52 characters long (currently 53)",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
    assert!(!output.exists());
    let out = compile_with(&["--schedule", "@daily"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--schedule is for --kind cron-workflow")
    );
    let out = compile_with(&["--name", "Not_A_Name"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("metadata.name: 'Not_A_Name' is not a valid Kubernetes object name"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
