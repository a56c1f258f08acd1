//! Running one step: from the cache, or as a child process of the pipeline binary
//! (`BINARY component-exec NAME --root TASK_FOLDER`, the same entry point a container uses).
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::integrity::{Manifest, remove_tree, set_read_only};
use super::lease::{RUN_DIR_ENV, Signal, signal};
use super::plan::Step;
use super::store::{Store, StoreError, TaskStatus, io};
use crate::ir::config::RetryOn;
use crate::runtime::digest::{hex, sha256_file, sha256_hex};
use crate::runtime::fs::write_atomic;

/// A resolved input of a step.
#[derive(Debug, Clone)]
pub(crate) enum InputValue {
    /// A parameter, as text.
    Text(String),
    /// An artifact: where it is, and the identity of its content (the producer's cache key
    /// and output name).
    Artifact {
        /// Its folder (or file).
        path: PathBuf,
        /// What identifies its content.
        identity: String,
    },
}

/// What running a step gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Succeeded, cached or failed.
    pub status: TaskStatus,
    /// Tries made.
    pub attempts: u32,
    /// The last try's exit code.
    pub exit_code: Option<i32>,
    /// Parameter outputs.
    pub outputs: BTreeMap<String, String>,
    /// Artifact outputs (folders).
    pub artifacts: BTreeMap<String, PathBuf>,
    /// Why it failed.
    pub message: Option<String>,
    /// How long it took.
    pub seconds: f64,
}

/// The fixed parts of running steps.
pub struct StepRunner<'a> {
    /// The store.
    pub store: &'a Store,
    /// The run.
    pub run_id: &'a str,
    /// The pipeline binary.
    pub binary: &'a Path,
    /// Print each task's output lines, prefixed by its name, as they come.
    pub stream_logs: bool,
    /// Set to stop running steps: each task's process group gets SIGTERM, then SIGKILL
    /// after [`StepRunner::grace`].
    pub cancel: &'a AtomicBool,
    /// How long a task may take to stop after SIGTERM.
    pub grace: Duration,
    /// Hash every file of a cache entry before reusing it (else only when its metadata
    /// changed).
    pub verify_cache: bool,
}

/// The file beside a cache entry's `out/` that lists what it held when it was made.
const MANIFEST: &str = "manifest.json";

/// The SHA-256 of a file, in hex.
pub fn hash_file(path: &Path) -> Result<String, StoreError> {
    sha256_file(path).map_err(io(path))
}

/// The cache key of a step: its component, settings that change results, the binary, and
/// its inputs (artifacts by the identity of their content).
pub(crate) fn cache_key(
    step: &Step,
    inputs: &BTreeMap<String, InputValue>,
    binary_hash: &str,
) -> String {
    let mut hasher = Sha256::new();
    let mut field = |label: &str, value: &str| {
        hasher.update(label.as_bytes());
        hasher.update((value.len() as u64).to_le_bytes());
        hasher.update(value.as_bytes());
    };
    field("binary", binary_hash);
    field("component", &format!("{:?}", step.component()));
    field("image", step.config.image.as_deref().unwrap_or(""));
    for (name, value) in &step.config.env {
        field("env", &format!("{name}={value}"));
    }
    for (name, value) in inputs {
        match value {
            InputValue::Text(text) => {
                field("param", name);
                field("value", text);
            }
            InputValue::Artifact { identity, .. } => {
                field("artifact", name);
                field("identity", identity);
            }
        }
    }
    hex(&hasher.finalize())[..32].to_owned()
}

/// A finished step's outputs.
struct Collected {
    params: BTreeMap<String, String>,
    artifacts: BTreeMap<String, PathBuf>,
}

/// Reads a finished step's outputs from its `out` folder.
fn collect_outputs(step: &Step, out: &Path) -> Result<Collected, String> {
    let mut params = BTreeMap::new();
    let mut artifacts = BTreeMap::new();
    let outputs = step
        .component()
        .map(|c| c.outputs.as_slice())
        .unwrap_or_default();
    for output in outputs {
        let path = out.join(&output.name);
        if output.ty.is_artifact() {
            if !path.exists() {
                return Err(format!(
                    "it wrote no artifact '{}' ({})",
                    output.name,
                    path.display()
                ));
            }
            artifacts.insert(output.name.clone(), path);
        } else {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("output '{}' ({}): {e}", output.name, path.display()))?;
            params.insert(output.name.clone(), text);
        }
    }
    Ok(Collected { params, artifacts })
}

/// How the tries of a step ended.
struct Tries {
    attempts: u32,
    exit_code: Option<i32>,
    /// Why the last try failed, if it did.
    failure: Option<String>,
}

impl StepRunner<'_> {
    /// The outputs of an earlier run of the same key, if the cache has them.
    pub fn cached(&self, step: &Step, key: &str) -> Option<Outcome> {
        let entry = self.store.cache_dir(key);
        if !entry.exists() || !self.entry_is_intact(&entry, &step.path) {
            return None;
        }
        let out = entry.join("out");
        let collected = collect_outputs(step, &out).ok()?;
        Some(Outcome {
            status: TaskStatus::Cached,
            attempts: 0,
            exit_code: None,
            outputs: collected.params,
            artifacts: collected.artifacts,
            message: None,
            seconds: 0.0,
        })
    }

    /// Runs the step (with its retries), then moves its outputs into the cache when `cache`.
    pub fn run(
        &self,
        step: &Step,
        inputs: &BTreeMap<String, InputValue>,
        key: &str,
        cache: bool,
    ) -> Outcome {
        let start = Instant::now();
        let folder = self.store.task_dir(self.run_id, &step.path);
        let before = fingerprints(inputs);
        let tries = self.attempts(step, inputs, &folder);
        let changed = changed_input(inputs, &before);
        if let Some((_, path, _)) = &changed
            && let Some(entry) = self.cache_entry_of(path)
        {
            evict(&entry);
        }
        let result = match (tries.failure, changed) {
            (Some(message), _) => Err(message),
            (None, Some((name, _, difference))) => Err(format!(
                "it changed its input artifact '{name}' ({difference}): inputs are read-only"
            )),
            (None, None) => {
                let out = folder.join("out");
                // Check the outputs are all there before trusting (and caching) them.
                collect_outputs(step, &out).and_then(|_| {
                    let kept = if cache {
                        self.commit(&out, key).unwrap_or(out)
                    } else {
                        out
                    };
                    collect_outputs(step, &kept)
                })
            }
        };
        let mut outcome = match result {
            Ok(collected) => Outcome {
                status: TaskStatus::Succeeded,
                attempts: tries.attempts,
                exit_code: tries.exit_code,
                outputs: collected.params,
                artifacts: collected.artifacts,
                message: None,
                seconds: 0.0,
            },
            Err(message) => failed(tries.attempts, tries.exit_code, message),
        };
        outcome.seconds = start.elapsed().as_secs_f64();
        outcome
    }

    /// Whether the cache entry still holds what its manifest lists (see
    /// [`super::integrity`]); a damaged or unlisted entry is reported, naming `task`, and
    /// removed, so that the task runs again.
    pub(crate) fn entry_is_intact(&self, entry: &Path, task: &str) -> bool {
        let manifest: Option<Manifest> = std::fs::read(entry.join(MANIFEST))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let problem = match manifest {
            None => "it has no readable manifest".to_owned(),
            Some(manifest) => match manifest.check(&entry.join("out"), self.verify_cache) {
                Ok(()) => return true,
                Err(difference) => difference.to_string(),
            },
        };
        eprintln!(
            "warning: task {task}: the cached result {} is damaged ({problem}); \
             removing it and running the task again",
            entry.display()
        );
        evict(entry);
        false
    }

    /// Moves `out` into the cache under `key`: made read-only and listed in a manifest in a
    /// staging folder, then renamed into place in one step; returns where it now is. On any
    /// error (a full disk, say) nothing enters the cache and `out` stays where it was.
    fn commit(&self, out: &Path, key: &str) -> Option<PathBuf> {
        let entry = self.store.cache_dir(key);
        if entry.join("out").exists() {
            return Some(entry.join("out"));
        }
        let parent = entry.parent()?;
        std::fs::create_dir_all(parent).ok()?;
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{key}.tmp-{}-", std::process::id()))
            .tempdir_in(parent)
            .ok()?
            .keep();
        let staged = staging.join("out");
        if std::fs::rename(out, &staged).is_err() {
            let _ = remove_tree(&staging);
            return None;
        }
        let sealed = set_read_only(&staged, true)
            .and_then(|()| Manifest::of(&staged))
            .and_then(|manifest| {
                let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
                write_atomic(&staging.join(MANIFEST), &json)
            })
            .and_then(|()| std::fs::rename(&staging, &entry));
        match sealed {
            Ok(()) => Some(entry.join("out")),
            Err(_) => {
                // A full disk, or another run committed the same key meanwhile: keep ours
                // where it was.
                let _ = set_read_only(&staged, false);
                let _ = std::fs::rename(&staged, out);
                let _ = remove_tree(&staging);
                Some(out.to_owned())
            }
        }
    }

    fn prepare(
        &self,
        step: &Step,
        inputs: &BTreeMap<String, InputValue>,
        folder: &Path,
    ) -> Result<(), String> {
        let text = |e: std::io::Error, path: &Path| format!("{}: {e}", path.display());
        if folder.exists() {
            std::fs::remove_dir_all(folder).map_err(|e| text(e, folder))?;
        }
        let input_dir = folder.join("in");
        std::fs::create_dir_all(&input_dir).map_err(|e| text(e, &input_dir))?;
        std::fs::create_dir_all(folder.join("out")).map_err(|e| text(e, folder))?;
        for (name, value) in inputs {
            let target = input_dir.join(name);
            match value {
                InputValue::Text(value) => {
                    std::fs::write(&target, value).map_err(|e| text(e, &target))?;
                }
                InputValue::Artifact { path, .. } => {
                    let source = std::fs::canonicalize(path).map_err(|e| text(e, path))?;
                    link(&source, &target).map_err(|e| text(e, &target))?;
                }
            }
        }
        let _ = step;
        Ok(())
    }

    /// Tries the step up to 1 + retries times, as Argo's retry strategy says: a non-zero exit
    /// or a timeout is a failure, a step that could not be started an error; the policy says
    /// which are retried, and the backoff how long to wait (growing by its factor up to its
    /// cap, within its maximum duration).
    fn attempts(&self, step: &Step, inputs: &BTreeMap<String, InputValue>, folder: &Path) -> Tries {
        let retry = step.config.retry.as_ref();
        let limit = retry.map_or(0, |r| r.limit);
        let policy = retry.and_then(|r| r.policy).unwrap_or(RetryOn::OnFailure);
        let backoff = retry.and_then(|r| r.backoff.as_ref());
        let parse = |text: &str| humantime::parse_duration(text).ok();
        let mut wait = backoff.and_then(|b| parse(&b.duration));
        let factor = backoff.map_or(1, |b| b.factor.max(1));
        let cap = backoff.and_then(|b| b.cap.as_deref()).and_then(parse);
        let max_total = backoff
            .and_then(|b| b.max_duration.as_deref())
            .and_then(parse);
        let first = Instant::now();
        let mut last = (None, String::new());
        let mut attempt = 0;
        loop {
            attempt += 1;
            if self.cancel.load(Ordering::Relaxed) {
                return Tries {
                    attempts: attempt - 1,
                    exit_code: last.0,
                    failure: Some("the run was stopped".into()),
                };
            }
            if let Err(message) = self.prepare(step, inputs, folder) {
                return Tries {
                    attempts: attempt,
                    exit_code: None,
                    failure: Some(message),
                };
            }
            let is_error = match self.spawn(step, folder, attempt) {
                Ok(code) if code == Some(0) => {
                    return Tries {
                        attempts: attempt,
                        exit_code: code,
                        failure: None,
                    };
                }
                Ok(code) => {
                    let tail = log_tail(&folder.join("stderr.log"), 8);
                    let how = code
                        .map_or_else(|| "was killed".to_owned(), |c| format!("exited with {c}"));
                    let message = if tail.is_empty() {
                        how
                    } else {
                        format!("{how}:\n{tail}")
                    };
                    last = (code, message);
                    false
                }
                Err(message) if self.cancel.load(Ordering::Relaxed) => {
                    return Tries {
                        attempts: attempt,
                        exit_code: None,
                        failure: Some(message),
                    };
                }
                Err(message) => {
                    let timed_out = message.starts_with("killed: timed out");
                    last = (None, message);
                    !timed_out
                }
            };
            let retried = match policy {
                RetryOn::OnFailure => !is_error,
                RetryOn::OnError | RetryOn::OnTransientError => is_error,
                RetryOn::Always => true,
            };
            if !retried || attempt > limit {
                break;
            }
            if let Some(duration) = wait {
                if max_total.is_some_and(|max| first.elapsed() + duration > max) {
                    break;
                }
                std::thread::sleep(duration);
                let next = duration * factor;
                wait = Some(cap.map_or(next, |cap| next.min(cap)));
            }
        }
        Tries {
            attempts: attempt,
            exit_code: last.0,
            failure: Some(last.1),
        }
    }

    fn spawn(&self, step: &Step, folder: &Path, attempt: u32) -> Result<Option<i32>, String> {
        let mut command = Command::new(self.binary);
        command
            .arg("component-exec")
            .arg(step.label())
            .arg("--root")
            .arg(folder)
            .current_dir(folder)
            .envs(&step.config.env)
            .env("KFP_TASK_NAME", &step.path)
            .env("KFP_RUN_ID", self.run_id)
            .env("KFP_TASK_ATTEMPT", attempt.to_string())
            .env(RUN_DIR_ENV, self.store.run_dir(self.run_id))
            .stdin(Stdio::null());
        // Its own process group, so that stopping it stops whatever it started.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let open = |name: &str| {
            let path = folder.join(name);
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| format!("{}: {e}", path.display()))
        };
        let (stdout_log, stderr_log) = (open("stdout.log")?, open("stderr.log")?);
        if self.stream_logs {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        } else {
            command.stdout(stdout_log.try_clone().map_err(|e| e.to_string())?);
            command.stderr(stderr_log.try_clone().map_err(|e| e.to_string())?);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", self.binary.display()))?;
        let mut pumps = Vec::new();
        if self.stream_logs {
            let prefix = step.path.clone();
            if let Some(out) = child.stdout.take() {
                pumps.push(pump(out, stdout_log, prefix.clone(), false));
            }
            if let Some(err) = child.stderr.take() {
                pumps.push(pump(err, stderr_log, prefix, true));
            }
        }
        // Poll, so that a stopped run can kill the child; the first checks come quickly so
        // that short tasks pay little.
        let mut pause = Duration::from_micros(20);
        let started = Instant::now();
        let deadline = step.config.timeout_seconds.map(Duration::from_secs);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => return Err(format!("waiting for the task: {e}")),
            }
            if self.cancel.load(Ordering::Relaxed) {
                stop(&mut child, self.grace);
                return Err("killed: the run was stopped".into());
            }
            if let Some(limit) = deadline
                && started.elapsed() > limit
            {
                stop(&mut child, Duration::ZERO);
                return Err(format!("killed: timed out after {} s", limit.as_secs()));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(2));
        };
        for handle in pumps {
            let _ = handle.join();
        }
        Ok(status.code())
    }
}

/// Stops a task and everything it started: SIGTERM to its process group, up to `grace` for
/// it to exit, then SIGKILL to the group.
fn stop(child: &mut std::process::Child, grace: Duration) {
    let pid = child.id() as i32;
    if !grace.is_zero() {
        signal(pid, Signal::Term, true);
        let start = Instant::now();
        while start.elapsed() < grace {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // The group may hold children of the task even when the task itself has exited.
    signal(pid, Signal::Kill, true);
    let _ = child.kill();
    let _ = child.wait();
}

/// Removes a cache entry: renamed aside first, so that no run finds half of it.
fn evict(entry: &Path) {
    let Some(parent) = entry.parent() else { return };
    let Ok(aside) = tempfile::Builder::new()
        .prefix(".evicted-")
        .tempdir_in(parent)
        .map(tempfile::TempDir::keep)
    else {
        return;
    };
    let target = aside.join("entry");
    if std::fs::rename(entry, &target).is_ok() {
        let _ = remove_tree(&aside);
    } else {
        let _ = std::fs::remove_dir(&aside);
    }
}

/// The metadata of every artifact input, before the task runs.
fn fingerprints(inputs: &BTreeMap<String, InputValue>) -> BTreeMap<String, Option<Manifest>> {
    inputs
        .iter()
        .filter_map(|(name, value)| match value {
            InputValue::Artifact { path, .. } => {
                Some((name.clone(), Manifest::fingerprint(path).ok()))
            }
            InputValue::Text(_) => None,
        })
        .collect()
}

/// The first artifact input that is not as it was before the task ran: its name, path and
/// what changed.
fn changed_input(
    inputs: &BTreeMap<String, InputValue>,
    before: &BTreeMap<String, Option<Manifest>>,
) -> Option<(String, PathBuf, String)> {
    for (name, value) in inputs {
        let InputValue::Artifact { path, .. } = value else {
            continue;
        };
        let Some(Some(was)) = before.get(name) else {
            continue;
        };
        let now = Manifest::fingerprint(path).ok();
        let difference = match now {
            None => Some("it is gone".to_owned()),
            Some(now) if now != *was => {
                let file = was
                    .files
                    .iter()
                    .find(|(k, v)| now.files.get(*k) != Some(v))
                    .map(|(k, _)| k.clone())
                    .or_else(|| {
                        now.files
                            .keys()
                            .find(|k| !was.files.contains_key(*k))
                            .cloned()
                    })
                    .unwrap_or_default();
                Some(format!("'{file}' differs"))
            }
            Some(_) => None,
        };
        if let Some(difference) = difference {
            return Some((name.clone(), path.clone(), difference));
        }
    }
    None
}

impl StepRunner<'_> {
    /// The cache entry an artifact path lies in, if it lies in one.
    fn cache_entry_of(&self, path: &Path) -> Option<PathBuf> {
        let cache = self.store.root().join("cache");
        let relative = std::fs::canonicalize(path).ok()?;
        let cache = std::fs::canonicalize(cache).ok()?;
        let key = relative.strip_prefix(&cache).ok()?.components().next()?;
        Some(cache.join(key))
    }
}

fn failed(attempts: u32, exit_code: Option<i32>, message: String) -> Outcome {
    Outcome {
        status: TaskStatus::Failed,
        attempts,
        exit_code,
        outputs: BTreeMap::new(),
        artifacts: BTreeMap::new(),
        message: Some(message),
        seconds: 0.0,
    }
}

/// Copies a child's output lines to its log file and, prefixed, to the terminal.
fn pump<R: std::io::Read + Send + 'static>(
    source: R,
    mut log: std::fs::File,
    prefix: String,
    to_stderr: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let reader = std::io::BufReader::new(source);
        for line in reader.split(b'\n').map_while(Result::ok) {
            let _ = log.write_all(&line);
            let _ = log.write_all(b"\n");
            let text = String::from_utf8_lossy(&line);
            if to_stderr {
                eprintln!("[{prefix}] {text}");
            } else {
                println!("[{prefix}] {text}");
            }
        }
    })
}

/// The last `n` lines of a log file.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(unix)]
fn link(source: &Path, target: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(source, target)
}

#[cfg(not(unix))]
fn link(source: &Path, target: &Path) -> std::io::Result<()> {
    fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
        if from.is_dir() {
            std::fs::create_dir_all(to)?;
            for entry in std::fs::read_dir(from)? {
                let entry = entry?;
                copy(&entry.path(), &to.join(entry.file_name()))?;
            }
            Ok(())
        } else {
            std::fs::copy(from, to).map(|_| ())
        }
    }
    copy(source, target)
}

/// Makes `target` stand for the artifact at `source` (a link where the platform has them,
/// else a copy).
pub(crate) fn link_artifact(source: &Path, target: &Path) -> std::io::Result<()> {
    link(&std::fs::canonicalize(source)?, target)
}

/// The SHA-256 of a text, in hex, shortened like cache keys.
pub(crate) fn hash_text(text: &str) -> String {
    let mut digest = sha256_hex(text.as_bytes());
    digest.truncate(32);
    digest
}

/// Writes a marker file atomically (used for the run's graph and records).
pub fn write_text(path: &Path, text: &str) -> Result<(), StoreError> {
    write_atomic(path, text.as_bytes()).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::config::{RetryPolicy, TaskConfig};
    use crate::local::plan::StepKind;

    /// A step whose every try fails: the "binary" is `false`.
    fn tries(retry: RetryPolicy) -> u32 {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let cancel = AtomicBool::new(false);
        let runner = StepRunner {
            store: &store,
            run_id: "r",
            binary: Path::new("false"),
            stream_logs: false,
            cancel: &cancel,
            grace: Duration::from_secs(1),
            verify_cache: false,
        };
        let step = Step {
            path: "t".into(),
            kind: StepKind::Component(std::sync::Arc::new(crate::ComponentSpec::new("c"))),
            config: TaskConfig {
                retry: Some(retry),
                ..TaskConfig::default()
            },
            inputs: BTreeMap::new(),
            upstream: Vec::new(),
        };
        let outcome = runner.run(&step, &BTreeMap::new(), "k", false);
        assert_eq!(outcome.status, TaskStatus::Failed);
        outcome.attempts
    }

    #[test]
    fn the_retry_policy_decides_which_failures_are_retried() {
        assert_eq!(tries(RetryPolicy::new(2)), 3, "OnFailure by default");
        assert_eq!(tries(RetryPolicy::new(2).on(RetryOn::Always)), 3);
        assert_eq!(
            tries(RetryPolicy::new(2).on(RetryOn::OnError)),
            1,
            "an exit is a failure"
        );
    }

    #[test]
    fn retries_stop_at_the_backoff_maximum_duration() {
        // Waits of 400 ms then 800 ms: the second would end past 1 s, so two tries.
        let policy = RetryPolicy::new(5)
            .with_backoff("400ms", 2)
            .max_duration("1s");
        assert_eq!(tries(policy), 2);
    }
}
