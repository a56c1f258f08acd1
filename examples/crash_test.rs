//! Pipelines that exercise the local runner's promises (docs/reliability.md): the tests kill
//! them at random moments, interrupt them, feed them a full disk and let a component write to
//! its input. Each is also an ordinary pipeline that can be run by hand.
//!
//! ```text
//! cargo run --example crash_test -- run --pipeline crash-chain -p 'factors=[1, 2, 3]'
//! cargo run --example crash_test -- run --pipeline long-task -p seconds=30   # then Ctrl-C
//! ```
use kfp_sdk::dsl;
use kfp_sdk::prelude::*;

/// Writes a dataset of `rows` lines derived from `seed`.
#[component]
fn produce(rows: u32, seed: u64, pause_ms: u64, data: Output<Dataset>) -> Result<(), String> {
    std::thread::sleep(std::time::Duration::from_millis(pause_ms));
    let text: String = (0..rows)
        .map(|i| format!("{}\n", u64::from(i).wrapping_mul(seed | 1) % 1000))
        .collect();
    std::fs::write(data.path(), text).map_err(|e| e.to_string())?;
    data.set_metadata("rows", rows);
    Ok(())
}

/// Sums the dataset's numbers times `factor`; fails on its first try when `factor` is a
/// multiple of 3, so that retries are exercised.
#[component(retries = 2)]
fn work(data: Input<Dataset>, factor: u64, pause_ms: u64) -> Result<u64, String> {
    let attempt: u32 = std::env::var("KFP_TASK_ATTEMPT")
        .ok()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    std::thread::sleep(std::time::Duration::from_millis(pause_ms));
    if factor.is_multiple_of(3) && attempt == 1 {
        return Err(format!("a transient failure of factor {factor}"));
    }
    let text = std::fs::read_to_string(data.path()).map_err(|e| e.to_string())?;
    let sum: u64 = text.lines().filter_map(|l| l.parse::<u64>().ok()).sum();
    Ok(sum * factor)
}

/// Adds the loop's results.
#[component]
fn combine(values: Vec<u64>) -> u64 {
    values.iter().sum()
}

/// A dataset, a loop of retried tasks reading it (one per factor), their sum: what the
/// crash test kills.
#[pipeline(name = "crash-chain")]
fn crash_chain(
    #[default(vec![1, 2, 3, 4])] factors: Vec<u64>,
    #[default(200)] rows: u32,
    #[default(1)] seed: u64,
    #[default(20)] pause_ms: u64,
) -> ParamRef<u64> {
    let data = produce::task(&rows, &seed, &pause_ms).outputs.data.clone();
    let results = dsl::parallel_for(&factors)
        .each(|factor| work::task(&data, factor, &pause_ms).outputs.output.clone());
    combine::task(&results).outputs.output.clone()
}

/// Starts a child process (`sleep`) and waits `seconds` for it: stopping the task must stop
/// the child too.
#[component]
fn wait_with_child(seconds: u64) -> Result<String, String> {
    let mut child = std::process::Command::new("sleep")
        .arg(seconds.to_string())
        .spawn()
        .map_err(|e| e.to_string())?;
    println!("child {}", child.id());
    let status = child.wait().map_err(|e| e.to_string())?;
    Ok(format!("{status}"))
}

/// One long task, to be interrupted.
#[pipeline(name = "long-task")]
fn long_task(#[default(30)] seconds: u64) -> ParamRef<String> {
    wait_with_child::task(&seconds).outputs.output.clone()
}

/// Reads its input dataset and, if `tamper`, appends to it: a component that writes to its
/// input by mistake.
#[component]
fn read_input(data: Input<Dataset>, tamper: bool) -> Result<u64, String> {
    if tamper {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(data.path())
            .map_err(|e| format!("opening the input to write: {e}"))?;
        writeln!(file, "999").map_err(|e| e.to_string())?;
    }
    let text = std::fs::read_to_string(data.path()).map_err(|e| e.to_string())?;
    Ok(text.lines().count() as u64)
}

/// A dataset, then a task that reads (and with `tamper`, writes) it.
#[pipeline(name = "tamper")]
fn tamper(#[default(10)] rows: u32, #[default(false)] tamper: bool) -> ParamRef<u64> {
    let data = produce::task(&rows, 7u64, 0u64).outputs.data.clone();
    read_input::task(&data, &tamper).outputs.output.clone()
}

kfp_sdk::main!();
