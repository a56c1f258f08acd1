//! The scheduler: runs a plan's steps in dependency order, in parallel up to a limit,
//! keeping the run record up to date.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::exec::{InputValue, Outcome, StepRunner, cache_key, hash_file, log_tail};
use super::plan::{Binding, Plan, PlanError, plan};
use super::report;
use super::store::{RunRecord, Store, StoreError, TaskRecord, TaskStatus, new_run_id, now_rfc3339};
use crate::graph::PipelineGraph;

/// How to run a pipeline locally.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where runs and the cache are kept.
    pub store: PathBuf,
    /// How many tasks may run at once.
    pub parallelism: usize,
    /// Reuse outputs of earlier runs whose task had the same component, binary and inputs.
    pub cache: bool,
    /// On the first failure, kill running tasks instead of letting them finish.
    pub fail_fast: bool,
    /// Print every task's output lines, prefixed by its name, while it runs.
    pub stream_logs: bool,
    /// Continue this earlier run (same id and parameters) instead of starting a new one.
    pub resume: Option<String>,
    /// Show a progress bar on the terminal.
    pub progress: bool,
    /// The pipeline binary to run steps with (default: this executable).
    pub binary: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            store: Store::default_root(),
            parallelism: std::thread::available_parallelism().map_or(2, |n| n.get()),
            cache: true,
            fail_fast: false,
            stream_logs: false,
            resume: None,
            progress: false,
            binary: None,
        }
    }
}

/// Why a run could not start (a run whose tasks fail still returns its record).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The parameters do not fit the pipeline.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run to resume is of another pipeline.
    #[error("run '{id}' is of pipeline '{found}', not '{expected}'")]
    WrongPipeline {
        /// The run.
        id: String,
        /// Its pipeline.
        found: String,
        /// The pipeline asked for.
        expected: String,
    },
    /// The pipeline binary could not be found.
    #[error("cannot find the pipeline binary: {0}")]
    Binary(std::io::Error),
}

struct State<'a> {
    plan: &'a Plan,
    status: Vec<TaskStatus>,
    outcomes: Vec<Option<Outcome>>,
    keys: Vec<String>,
    started: Vec<Option<f64>>,
}

impl State<'_> {
    /// The value a binding has now (its producer has finished).
    fn resolve(&self, binding: &Binding) -> InputValue {
        match binding {
            Binding::Text(text) => InputValue::Text(text.clone()),
            Binding::Output { step, output } => {
                let outcome = self.outcomes[*step].as_ref();
                if let Some(path) = outcome.and_then(|o| o.artifacts.get(output)) {
                    InputValue::Artifact {
                        path: path.clone(),
                        identity: format!("{}/{output}", self.keys[*step]),
                    }
                } else {
                    let text = outcome.and_then(|o| o.outputs.get(output)).cloned();
                    InputValue::Text(text.unwrap_or_default())
                }
            }
        }
    }

    fn record(
        &self,
        id: &str,
        pipeline: &str,
        started: &str,
        seconds: f64,
        params: &BTreeMap<String, serde_json::Value>,
        store: &Store,
    ) -> RunRecord {
        let tasks = self
            .plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let outcome = self.outcomes[i].as_ref();
                TaskRecord {
                    name: step.path.clone(),
                    component: step.component.name.clone(),
                    status: self.status[i],
                    cache_key: self.keys[i].clone(),
                    attempts: outcome.map_or(0, |o| o.attempts),
                    started_at: self.started[i],
                    seconds: outcome.map(|o| o.seconds),
                    exit_code: outcome.and_then(|o| o.exit_code),
                    outputs: outcome.map(|o| o.outputs.clone()).unwrap_or_default(),
                    artifacts: outcome.map(|o| o.artifacts.clone()).unwrap_or_default(),
                    folder: store.task_dir(id, &step.path),
                    message: outcome.and_then(|o| o.message.clone()),
                }
            })
            .collect();
        let finished = self
            .status
            .iter()
            .all(|s| !matches!(s, TaskStatus::Pending | TaskStatus::Running));
        let failed = self
            .status
            .iter()
            .any(|s| matches!(s, TaskStatus::Failed | TaskStatus::Skipped));
        let mut outputs = BTreeMap::new();
        let mut artifacts = BTreeMap::new();
        if finished && !failed {
            for (name, binding) in &self.plan.outputs {
                match self.resolve(binding) {
                    InputValue::Text(text) => outputs.insert(name.clone(), text),
                    InputValue::Artifact { path, .. } => {
                        artifacts.insert(name.clone(), path).map(|_| String::new())
                    }
                };
            }
        }
        RunRecord {
            id: id.to_owned(),
            pipeline: pipeline.to_owned(),
            status: match (finished, failed) {
                (false, _) => "running",
                (true, false) => "succeeded",
                (true, true) => "failed",
            }
            .to_owned(),
            started: started.to_owned(),
            seconds,
            parameters: params.clone(),
            tasks,
            outputs,
            artifacts,
        }
    }
}

/// Runs `graph` on this machine with these parameter values (JSON by name; missing ones
/// take their defaults) and returns the run record. Task failures are in the record
/// (`status: "failed"`), not an `Err`.
pub fn run(
    graph: &PipelineGraph,
    params: BTreeMap<String, serde_json::Value>,
    options: &RunOptions,
) -> Result<RunRecord, RunError> {
    // Absolute, since each task runs in its own folder.
    let root = std::path::absolute(&options.store).map_err(|e| StoreError::Io {
        path: options.store.clone(),
        source: e,
    })?;
    let store = Store::new(root);
    let (id, params, previous) = match &options.resume {
        Some(id) => {
            let previous = store.load(id)?;
            if previous.pipeline != graph.name {
                return Err(RunError::WrongPipeline {
                    id: id.clone(),
                    found: previous.pipeline,
                    expected: graph.name.clone(),
                });
            }
            (id.clone(), previous.parameters.clone(), Some(previous))
        }
        None => (new_run_id(&graph.name), params, None),
    };
    let plan = plan(graph, &params)?;
    let binary = match &options.binary {
        Some(path) => path.clone(),
        None => std::env::current_exe().map_err(RunError::Binary)?,
    };
    let binary_hash = hash_file(&binary)?;
    let cancel = AtomicBool::new(false);
    let runner = StepRunner {
        store: &store,
        run_id: &id,
        binary: &binary,
        stream_logs: options.stream_logs,
        cancel: &cancel,
    };
    let n = plan.steps.len();
    let mut state = State {
        plan: &plan,
        status: vec![TaskStatus::Pending; n],
        outcomes: vec![None; n],
        keys: vec![String::new(); n],
        started: vec![None; n],
    };
    let started = previous
        .as_ref()
        .map_or_else(now_rfc3339, |p| p.started.clone());
    let clock = Instant::now();
    let progress = report::Progress::new(n, options.progress);
    let mut last_save = Instant::now();
    let mut stopping = false;
    let mut running = 0usize;
    let (sender, receiver) = mpsc::channel::<(usize, Outcome)>();
    std::thread::scope(|scope| -> Result<(), RunError> {
        loop {
            // Start every step that can start.
            if !stopping {
                for i in 0..n {
                    if running >= options.parallelism.max(1) {
                        break;
                    }
                    if state.status[i] != TaskStatus::Pending
                        || !plan.steps[i]
                            .upstream
                            .iter()
                            .all(|&u| state.status[u].is_done())
                    {
                        continue;
                    }
                    let step = &plan.steps[i];
                    let inputs: BTreeMap<String, InputValue> = step
                        .inputs
                        .iter()
                        .map(|(k, b)| (k.clone(), state.resolve(b)))
                        .collect();
                    let key = cache_key(step, &inputs, &binary_hash);
                    state.keys[i] = key.clone();
                    let caching = options.cache && step.config.caching != Some(false);
                    let reused = caching
                        .then(|| runner.cached(step, &key))
                        .flatten()
                        .or_else(|| {
                            // A resumed run keeps what its earlier attempt finished, cached or not.
                            let task = previous
                                .as_ref()?
                                .tasks
                                .iter()
                                .find(|t| t.name == step.path)?;
                            (task.status.is_done()
                                && task.cache_key == key
                                && task.artifacts.values().all(|p| p.exists()))
                            .then(|| Outcome {
                                status: TaskStatus::Cached,
                                attempts: 0,
                                exit_code: None,
                                outputs: task.outputs.clone(),
                                artifacts: task.artifacts.clone(),
                                message: None,
                                seconds: 0.0,
                            })
                        });
                    if let Some(outcome) = reused {
                        state.status[i] = TaskStatus::Cached;
                        state.outcomes[i] = Some(outcome);
                        progress.finished(&step.path, TaskStatus::Cached);
                        continue;
                    }
                    state.status[i] = TaskStatus::Running;
                    state.started[i] = Some(clock.elapsed().as_secs_f64());
                    running += 1;
                    progress.started(&step.path);
                    let sender = sender.clone();
                    let runner = &runner;
                    scope.spawn(move || {
                        let outcome = runner.run(step, &inputs, &key, caching);
                        let _ = sender.send((i, outcome));
                    });
                }
            }
            if running == 0 {
                // Every step that could start has; what is left waits behind a failure.
                break;
            }
            let (i, outcome) = match receiver.recv_timeout(Duration::from_millis(200)) {
                Ok(done) => done,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    progress.tick();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            running -= 1;
            state.status[i] = outcome.status;
            if outcome.status == TaskStatus::Failed {
                let step = &plan.steps[i];
                let folder = store.task_dir(&id, &step.path);
                progress.failed(
                    &step.path,
                    outcome.message.as_deref().unwrap_or("failed"),
                    &folder,
                );
                stopping = true;
                if options.fail_fast {
                    cancel.store(true, Ordering::Relaxed);
                }
            } else {
                progress.finished(&plan.steps[i].path, outcome.status);
            }
            state.outcomes[i] = Some(outcome);
            if last_save.elapsed() > Duration::from_millis(250) {
                store.save(&state.record(
                    &id,
                    &graph.name,
                    &started,
                    clock.elapsed().as_secs_f64(),
                    &params,
                    &store,
                ))?;
                last_save = Instant::now();
            }
        }
        Ok(())
    })?;
    for (i, status) in state.status.iter_mut().enumerate() {
        if *status == TaskStatus::Pending {
            *status = TaskStatus::Skipped;
            let reason = if stopping {
                "not run: an upstream or earlier task failed"
            } else {
                "not run"
            };
            state.outcomes[i] = Some(Outcome {
                status: TaskStatus::Skipped,
                attempts: 0,
                exit_code: None,
                outputs: BTreeMap::new(),
                artifacts: BTreeMap::new(),
                message: Some(reason.to_owned()),
                seconds: 0.0,
            });
        }
    }
    progress.done();
    let record = state.record(
        &id,
        &graph.name,
        &started,
        clock.elapsed().as_secs_f64(),
        &params,
        &store,
    );
    store.save(&record)?;
    report::write_graph(&store.run_dir(&id), &plan, &state.status);
    Ok(record)
}

/// The last lines of a failed task's error log, for messages.
pub fn failure_tail(task: &TaskRecord) -> String {
    log_tail(&task.folder.join("stderr.log"), 10)
}
