//! A diamond: one task fans out to two branches that run in parallel, then a task joins
//! them. Each task can take a while and can be told to fail, which the local runner's
//! tests use (parallelism, caching, resuming, failures).
//!
//! ```text
//! cargo run --release --example diamond -- run                     # run it here
//! cargo run --release --example diamond -- run -p left=L           # reruns only `left` and `join`
//! cargo run --release --example diamond -- run -p fail_on=right    # a failing branch
//! cargo run --release --example diamond -- compile                 # Argo Workflow YAML
//! ```
use kfp_sdk::prelude::*;

/// Appends `label` to `trail` after `millis` milliseconds; fails at once if
/// `label == fail_on`.
#[component]
fn work(label: String, trail: String, millis: u64, fail_on: String) -> Result<String, String> {
    if label == fail_on {
        return Err(format!("asked to fail at '{label}'"));
    }
    std::thread::sleep(std::time::Duration::from_millis(millis));
    println!("{trail} > {label}");
    Ok(format!("{trail}>{label}"))
}

/// Joins two trails.
#[component]
fn join(left: String, right: String) -> String {
    format!("({left} | {right})")
}

/// first → (left, right) → join.
#[pipeline]
fn diamond(
    #[default(20)] millis: u64,
    #[default("left")] left: String,
    #[default("")] fail_on: String,
) -> ParamRef<String> {
    let first = work::task("first", "start", &millis, &fail_on).name("first");
    let left = work::task(left, &first.outputs.output, &millis, &fail_on)
        .name("left")
        .retries_with_backoff(2, "100ms", 2);
    let right = work::task("right", &first.outputs.output, &millis, &fail_on)
        .name("right")
        .timeout_seconds(2);
    join::task(&left.outputs.output, &right.outputs.output)
        .outputs
        .output
        .clone()
}

kfp_sdk::main!();
