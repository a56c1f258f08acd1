//! The local runner: run a pipeline on this machine with the semantics it has on Argo.
//!
//! [`run`] flattens the pipeline into component steps ([`plan`]), then starts each step as a
//! child process of the pipeline binary, `BINARY component-exec NAME --root TASK_FOLDER`,
//! the same entry point a step's container runs, so a crash or `process::exit` fails that
//! task only. Independent tasks run in parallel up to [`RunOptions::parallelism`].
//!
//! Everything lands in a [`Store`] (default `.kfp-local/` in the current folder): each run's
//! record (`run.json`), each task's folder and logs, and a cache of finished tasks' outputs
//! keyed by a hash of the component, the binary and the inputs, so an unchanged task is
//! never run twice and a run that was killed finishes, when run again (or with
//! [`RunOptions::resume`]), without redoing finished tasks. Outputs enter the cache by a
//! single rename, so a killed task never leaves an entry that a later run would trust.
//!
//! ```no_run
//! # fn graph() -> kfp_sdk::PipelineGraph { unimplemented!() }
//! use kfp_sdk::local::{RunOptions, run, report};
//!
//! let record = run(&graph(), Default::default(), &RunOptions::default()).unwrap();
//! print!("{}", report::summary(&record));
//! ```
mod exec;
pub mod integrity;
pub mod lease;
pub mod plan;
pub mod report;
mod run;
pub mod store;

pub use plan::{Binding, Plan, PlanError, Step};
pub use run::{RunError, RunOptions, failure_tail, interrupt_on_signals, run};
pub use store::{RunRecord, Store, StoreError, TaskRecord, TaskStatus};
