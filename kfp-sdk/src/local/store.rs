//! The local store: run folders, the result cache and run records.
//!
//! ```text
//! STORE/runs/RUN_ID/run.json            the run record (rewritten atomically as the run goes)
//! STORE/runs/RUN_ID/graph.dot|.svg      the pipeline graph, tasks coloured by state
//! STORE/runs/RUN_ID/tasks/TASK/         a task's working folder: what a container's /tmp/kfp
//!                                       holds (in/, out/), plus stdout.log and stderr.log
//! STORE/cache/KEY/out/                  outputs of a finished task, reused by any run whose
//!                                       task has the same key; moved in by one rename, so a
//!                                       half-written entry is never seen
//! ```
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::runtime::fs::write_atomic;

/// Where runs and the cache live.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// What happened to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting for upstream tasks.
    Pending,
    /// Running now.
    Running,
    /// Ran and succeeded.
    Succeeded,
    /// Its outputs were reused from the cache.
    Cached,
    /// Failed (after its retries).
    Failed,
    /// Not run, because an upstream task failed or the run stopped.
    Skipped,
    /// Stopped by a signal to the runner while it ran; runs again on `--resume`.
    Interrupted,
}

impl TaskStatus {
    /// Whether the task has its outputs.
    pub fn is_done(self) -> bool {
        matches!(self, TaskStatus::Succeeded | TaskStatus::Cached)
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Cached => "cached",
            TaskStatus::Failed => "failed",
            TaskStatus::Skipped => "skipped",
            TaskStatus::Interrupted => "interrupted",
        })
    }
}

/// One task of a run, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRecord {
    /// The task's path (`outer/inner` inside nested pipelines).
    pub name: String,
    /// The component it runs.
    pub component: String,
    /// What happened.
    pub status: TaskStatus,
    /// The cache key of its inputs and code.
    pub cache_key: String,
    /// Tries made (0 when cached or not run).
    pub attempts: u32,
    /// Seconds since the run started, when it started.
    pub started_at: Option<f64>,
    /// How long it took, in seconds.
    pub seconds: Option<f64>,
    /// The exit code of its last try, if it ran.
    pub exit_code: Option<i32>,
    /// Its parameter outputs, as text.
    pub outputs: BTreeMap<String, String>,
    /// Where its artifact outputs are.
    pub artifacts: BTreeMap<String, PathBuf>,
    /// Its working folder (logs are there).
    pub folder: PathBuf,
    /// Why it failed or was skipped.
    pub message: Option<String>,
}

/// A whole run, as recorded in `run.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's id.
    pub id: String,
    /// The pipeline.
    pub pipeline: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// When it started (RFC 3339, UTC).
    pub started: String,
    /// Seconds it took (so far).
    pub seconds: f64,
    /// The parameter values it ran with, as JSON.
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// The tasks, in plan order.
    pub tasks: Vec<TaskRecord>,
    /// The pipeline's parameter outputs.
    pub outputs: BTreeMap<String, String>,
    /// The pipeline's artifact outputs.
    pub artifacts: BTreeMap<String, PathBuf>,
}

/// Why the store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A run record could not be read.
    #[error("{path}: not a run record: {message}")]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Another runner holds the run's lock: it is running now.
    #[error("run '{id}' is running now ({holder}); wait for it or stop it first")]
    RunInUse {
        /// The run.
        id: String,
        /// Who holds the lock, as the lock file says.
        holder: String,
    },
    /// A run id that cannot name a run folder.
    #[error(
        "'{id}' is not a run id (letters, digits, '-', '_' and '.', not starting with '.', \
         at most 200 characters; `runs list` shows the ids)"
    )]
    BadRunId {
        /// What was given.
        id: String,
    },
    /// No run has this id.
    #[error("no run '{id}' in {store} (runs list shows them)")]
    NoSuchRun {
        /// The id asked for.
        id: String,
        /// The store.
        store: PathBuf,
    },
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Store {
    /// The store at `root` (created when first written).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    /// `$KFP_LOCAL_STORE`, else `.kfp-local` in the current folder.
    pub fn default_root() -> PathBuf {
        std::env::var_os("KFP_LOCAL_STORE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".kfp-local"))
    }

    /// The store's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of a run.
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.root.join("runs").join(id)
    }

    /// The working folder of a task of a run.
    pub fn task_dir(&self, run: &str, task: &str) -> PathBuf {
        self.run_dir(run).join("tasks").join(task)
    }

    /// The cache entry for a key.
    pub fn cache_dir(&self, key: &str) -> PathBuf {
        self.root.join("cache").join(key)
    }

    /// Writes a run record atomically.
    pub fn save(&self, record: &RunRecord) -> Result<(), StoreError> {
        let path = self.run_dir(&record.id).join("run.json");
        let json = serde_json::to_vec_pretty(record).map_err(|e| StoreError::BadRecord {
            path: path.clone(),
            message: e.to_string(),
        })?;
        write_atomic(&path, &json).map_err(io(&path))
    }

    /// Reads a run record.
    pub fn load(&self, id: &str) -> Result<RunRecord, StoreError> {
        check_run_id(id)?;
        let path = self.run_dir(id).join("run.json");
        // Bytes, not text: a record that is not UTF-8 is a bad record, not an I/O error.
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NoSuchRun {
                    id: id.to_owned(),
                    store: self.root.clone(),
                });
            }
            Err(e) => return Err(io(&path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| StoreError::BadRecord {
            path,
            message: e.to_string(),
        })
    }

    /// Every run record, oldest first (unreadable ones are skipped with a warning).
    pub fn list(&self) -> Result<Vec<RunRecord>, StoreError> {
        let dir = self.root.join("runs");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&dir)(e)),
        };
        let mut runs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(&dir))?;
            let id = entry.file_name().to_string_lossy().into_owned();
            match self.load(&id) {
                Ok(record) => runs.push(record),
                // A run that has only just started: no record yet.
                Err(StoreError::NoSuchRun { .. }) => {}
                Err(e) => eprintln!("warning: {e}"),
            }
        }
        runs.sort_by(|a, b| (&a.started, &a.id).cmp(&(&b.started, &b.id)));
        Ok(runs)
    }
}

/// A new run id: the pipeline's name, the UTC time and a few random-ish hex digits.
/// Checks that `id` can name a run folder: letters, digits, `-`, `_` and `.`, not starting
/// with `.` (so never `..`, never a path), at most 200 characters.
pub fn check_run_id(id: &str) -> Result<(), StoreError> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadRunId { id: id.to_owned() })
    }
}

/// A new run id for `pipeline`: the pipeline's name, the time and a random suffix.
pub fn new_run_id(pipeline: &str) -> String {
    let now = std::time::SystemTime::now();
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    let compact: String = stamp.chars().filter(|c| c.is_ascii_digit()).collect();
    let nanos = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let seed = format!("{nanos} {} {count} {:?}", std::process::id(), now);
    let salt = &crate::runtime::digest::sha256_hex(seed.as_bytes())[..8];
    format!("{pipeline}-{}-{}-{salt}", &compact[..8], &compact[8..14])
}

/// The current UTC time, RFC 3339.
pub fn now_rfc3339() -> String {
    // Microseconds, so that records of runs started within one second sort in start order.
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_from_the_command_line_cannot_name_other_folders() {
        let store = Store::new("/nonexistent-store");
        for bad in [
            "",
            "..",
            "../x",
            "a/b",
            ".hidden",
            "a\\b",
            "a\0b",
            "x y",
            &"a".repeat(201),
        ] {
            assert!(
                matches!(store.load(bad), Err(StoreError::BadRunId { .. })),
                "{bad:?}"
            );
        }
        for good in ["add-numbers-20261205-101010-0a1b2c3d", "run_1.2"] {
            assert!(check_run_id(good).is_ok(), "{good}");
        }
        check_run_id(&new_run_id("add-numbers")).unwrap();
    }

    #[test]
    fn run_ids_name_the_pipeline_and_time() {
        let id = new_run_id("add-numbers");
        let parts: Vec<&str> = id.rsplitn(4, '-').collect();
        assert_eq!(parts[3], "add-numbers", "{id}");
        assert_eq!(parts[2].len(), 8, "{id}");
        assert_eq!(parts[1].len(), 6, "{id}");
    }

    #[test]
    fn records_round_trip_and_missing_runs_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let record = RunRecord {
            id: "p-1".into(),
            pipeline: "p".into(),
            status: "succeeded".into(),
            started: now_rfc3339(),
            seconds: 1.5,
            parameters: BTreeMap::new(),
            tasks: Vec::new(),
            outputs: [("output".to_string(), "3".to_string())].into(),
            artifacts: BTreeMap::new(),
        };
        store.save(&record).unwrap();
        assert_eq!(store.load("p-1").unwrap().outputs["output"], "3");
        assert_eq!(store.list().unwrap().len(), 1);
        let err = store.load("nope").unwrap_err().to_string();
        assert!(err.starts_with("no run 'nope' in"), "{err}");
    }

    #[test]
    fn a_record_that_is_not_utf8_is_a_bad_record() {
        // Found by damaged_run_records_never_panic: it was an I/O error.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        std::fs::create_dir_all(store.run_dir("p-1")).unwrap();
        std::fs::write(store.run_dir("p-1").join("run.json"), [128u8]).unwrap();
        assert!(matches!(
            store.load("p-1"),
            Err(StoreError::BadRecord { .. })
        ));
    }

    /// A valid record to mutate.
    fn sample_json() -> Vec<u8> {
        let record = serde_json::json!({
            "id": "p-1", "pipeline": "p", "status": "succeeded", "started": "2026-12-05T00:00:00Z",
            "seconds": 1.5, "parameters": {"n": 3}, "outputs": {"output": "9"}, "artifacts": {},
            "tasks": [{"name": "t", "component": "c", "status": "cached", "cache_key": "k",
                       "attempts": 1, "started_at": 0.1, "seconds": 0.2, "exit_code": 0,
                       "outputs": {"output": "9"}, "artifacts": {"m": "/x"}, "folder": "/f",
                       "message": null}]
        });
        serde_json::to_vec_pretty(&record).unwrap_or_default()
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(
            std::env::var("KFP_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
        ))]

        /// Any bytes as `run.json` (a valid record with bytes changed, cut short, or random
        /// bytes): `load` gives a record or a `BadRecord` error naming the file, never a panic;
        /// `list` skips it with a warning; a record it accepts survives a save and a load.
        #[test]
        fn damaged_run_records_never_panic(
            edits in proptest::collection::vec((0usize..2048, proptest::prelude::any::<u8>()), 0..16),
            cut in 0usize..2048,
            random in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            mode in 0usize..3,
        ) {
            let dir = tempfile::tempdir().map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let store = Store::new(dir.path());
            let mut bytes = sample_json();
            match mode {
                0 => for (at, value) in &edits {
                    let at = at % bytes.len();
                    bytes[at] = *value;
                },
                1 => bytes.truncate(cut.min(bytes.len())),
                _ => bytes = random,
            }
            let run = store.run_dir("p-1");
            std::fs::create_dir_all(&run).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            std::fs::write(run.join("run.json"), &bytes).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            match store.load("p-1") {
                Ok(mut record) => {
                    record.id = "p-1".into();
                    store.save(&record).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
                    let again = store.load("p-1").map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
                    proptest::prop_assert_eq!(
                        serde_json::to_value(&again).ok(),
                        serde_json::to_value(&record).ok()
                    );
                }
                Err(StoreError::BadRecord { path, .. }) => {
                    proptest::prop_assert_eq!(path, run.join("run.json"));
                    proptest::prop_assert!(store.list().is_ok_and(|runs| runs.is_empty()));
                }
                Err(other) => proptest::prop_assert!(false, "unexpected error: {other}"),
            }
        }
    }
}
