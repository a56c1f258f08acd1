//! Kubernetes settings of tasks: a Secret and a ConfigMap as environment variables, volumes
//! (an existing PersistentVolumeClaim, a claim made for each run, a Secret, memory), a GPU
//! with its node selector and toleration, node affinity, retries on any error with a capped
//! backoff, Argo memoization, pod labels, service account and image pull secret for every
//! task.
//!
//! ```text
//! cargo run --release --example kubernetes_config -- compile                   # Argo Workflow YAML
//! cargo run --release --example kubernetes_config -- compile --kind cron-workflow \
//!     --schedule "0 3 * * *" --timezone Europe/Paris                            # run nightly
//! cargo run --release --example kubernetes_config -- run                       # here (Kubernetes settings ignored)
//! ```
//!
//! The cluster needs what the settings name: Secrets `wandb` (key `api-key`) and
//! `gcp-credentials`, ConfigMap `training-config` (key `log-level`), claim `datasets`,
//! service account `pipeline-runner`, pull secret `regcred`, and a node pool with T4 GPUs.
use std::io::Write;

use kfp_sdk::config::{RetryOn, RetryPolicy, TaskConfig};
use kfp_sdk::kubernetes::{KubernetesConfig, Mount, PullPolicy, TaintEffect, Toleration};
use kfp_sdk::prelude::*;

/// Writes `rows` numbers, one per line.
#[component]
fn make_data(rows: u32, data: Output<Dataset>) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(data.path())?);
    for i in 1..=rows {
        writeln!(file, "{i}")?;
    }
    file.flush()?;
    data.set_metadata("rows", rows);
    Ok(())
}

/// "Trains" on the numbers: their mean, times `epochs`. Reports to an experiment tracker when
/// the cluster gives it a key (`WANDB_API_KEY`, from a Secret); here, without one, it does not.
#[component]
fn train(data: Input<Dataset>, epochs: u32) -> Result<f64, String> {
    let text = std::fs::read_to_string(data.path()).map_err(|e| e.to_string())?;
    let values: Vec<f64> = text
        .lines()
        .map(|l| l.parse::<f64>().map_err(|_| format!("bad line {l:?}")))
        .collect::<Result<_, _>>()?;
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    let tracked = std::env::var("WANDB_API_KEY").is_ok_and(|k| !k.is_empty());
    let level = std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".into());
    eprintln!("[{level}] mean {mean}, {epochs} epochs, tracked: {tracked}");
    Ok(mean * f64::from(epochs))
}

/// Formats the score.
#[component]
fn report(score: f64) -> String {
    let line = format!("score: {score}");
    println!("{line}");
    line
}

/// Data, training on a GPU, report.
#[pipeline]
fn kubernetes_config(#[default(10)] rows: u32, #[default(3)] epochs: u32) -> ParamRef<String> {
    // Every task: this service account, pull secret and label, and results memoized for a week.
    kfp_sdk::dsl::task_defaults(TaskConfig {
        kubernetes: KubernetesConfig::new()
            .service_account("pipeline-runner")
            .image_pull_secret("regcred")
            .pod_label("team", "vision")
            .memoize("kfp-rs-cache", "168h"),
        ..TaskConfig::default()
    });
    let data = make_data::task(rows)
        .mount_new_pvc("scratch", "1Gi", "/scratch")
        .env_from_field("POD_NAME", "metadata.name");
    let model = train::task(&data.outputs.data, epochs)
        .cpu_request("2")
        .memory_limit("8Gi")
        .gpus(1)
        .accelerator_type("nvidia-tesla-t4")
        .toleration(Toleration::exists("nvidia.com/gpu").effect(TaintEffect::NoSchedule))
        .require_node_label(
            "topology.kubernetes.io/zone",
            ["us-central1-a", "us-central1-b"],
        )
        .env_from_secret("WANDB_API_KEY", "wandb", "api-key")
        .env_from_config_map("LOG_LEVEL", "training-config", "log-level")
        .mount_pvc("datasets", "/datasets")
        .mount_new_pvc("scratch", "1Gi", "/scratch")
        .mount_secret("gcp-credentials", "/var/secrets/gcp")
        .mount("/dev/shm", Mount::memory("2Gi"))
        .image_pull_policy(PullPolicy::IfNotPresent)
        .retry(
            RetryPolicy::new(3)
                .on(RetryOn::Always)
                .with_backoff("30s", 2)
                .cap("5m"),
        )
        .timeout_seconds(3600);
    report::task(&model.outputs.output)
        .caching(false)
        .mount_empty_dir("/tmp/work")
        .pod_annotation("example.com/owner", "ml-platform")
        .outputs
        .output
        .clone()
}

kfp_sdk::main!();
