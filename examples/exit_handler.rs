//! A task that runs when the pipeline ends, whatever the outcome, and reads the run's
//! status (Argo's exit hook).
//!
//! ```text
//! cargo run --release --example exit_handler -- compile
//! cargo run --release --example exit_handler -- run -p fail=true    # the handler still runs
//! ```
use kfp_sdk::dsl::{on_exit, workflow_status};
use kfp_sdk::prelude::*;

/// Does the work, or fails when asked to.
#[component]
fn work(fail: bool) -> Result<String, String> {
    if fail {
        Err("failing on purpose".into())
    } else {
        Ok("done".into())
    }
}

/// Reports how the run ended (a stand-in for a Slack message or a cleanup).
#[component]
fn report(status: String, owner: String) -> String {
    let line = format!("run finished with status {status}; telling {owner}");
    println!("{line}");
    line
}

/// Works, then always reports.
#[pipeline]
fn exit_handler(#[default(false)] fail: bool, #[default("ml-team")] owner: String) {
    work::task(fail);
    on_exit(|| {
        report::task(workflow_status(), &owner);
    });
}

kfp_sdk::main!();
