//! The scheduler: runs a plan's steps in dependency order, in parallel up to a limit,
//! keeping the run record up to date.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::exec::{InputValue, Outcome, StepRunner, cache_key, hash_file, log_tail};
use super::lease::{RunLock, is_live, stop_orphans};
use super::plan::{self, Binding, PlanError, Step, StepKind, plan};
use super::report;
use super::store::{
    RunRecord, Store, StoreError, TaskRecord, TaskStatus, check_run_id, new_run_id, now_rfc3339,
};
use crate::ir::control::{LoopItems, Operand};
use crate::ir::graph::PipelineGraph;
use crate::ir::param::json_to_text;

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
    /// Set (by a signal handler, say: see [`interrupt_on_signals`]) to stop the run: running
    /// tasks get SIGTERM, then SIGKILL after [`RunOptions::grace`]; the run is recorded as
    /// `interrupted` and can be resumed.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// How long a task may take to stop after SIGTERM.
    pub grace: Duration,
    /// Hash every file of a cache entry before reusing it (by default only entries whose
    /// file metadata changed are hashed).
    pub verify_cache: bool,
}

/// A flag set when the process gets SIGINT or SIGTERM, for [`RunOptions::interrupt`]. The
/// signals then no longer end the process by themselves: the runner stops its tasks, records
/// the run and returns.
pub fn interrupt_on_signals() -> std::io::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&flag))?;
    }
    Ok(flag)
}

/// The message of a task stopped because the run was stopped.
const STOPPED: &str = "killed: the run was stopped";

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
            interrupt: None,
            grace: Duration::from_secs(5),
            verify_cache: false,
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

/// A group being run: the steps of each of its iterations, and their outputs.
struct GroupRun {
    iterations: Vec<(BTreeMap<String, Binding>, Vec<usize>)>,
    repeated: bool,
}

/// The state of every step of a run; steps are added as groups expand.
struct State {
    steps: Vec<Step>,
    outputs: BTreeMap<String, Binding>,
    status: Vec<TaskStatus>,
    outcomes: Vec<Option<Outcome>>,
    keys: Vec<String>,
    started: Vec<Option<f64>>,
    groups: BTreeMap<usize, GroupRun>,
    /// The run's status as the exit handler sees it.
    run_status: String,
    /// The folder of the run's tasks, where loops collect artifacts.
    tasks_dir: PathBuf,
    /// Whether the run was interrupted (see [`RunOptions::interrupt`]).
    interrupted: bool,
}

impl State {
    fn push(&mut self, step: Step) {
        self.steps.push(step);
        self.status.push(TaskStatus::Pending);
        self.outcomes.push(None);
        self.keys.push(String::new());
        self.started.push(None);
    }

    /// The text of a binding whose producer has finished.
    fn text(&self, binding: &Binding) -> Option<String> {
        match binding {
            Binding::Text(text) => Some(text.clone()),
            Binding::Status => Some(self.run_status.clone()),
            Binding::Item => None,
            Binding::Output { step, output } => {
                self.outcomes[*step].as_ref()?.outputs.get(output).cloned()
            }
        }
    }

    /// The value a binding has now (its producer has finished).
    fn resolve(&self, binding: &Binding) -> InputValue {
        match binding {
            Binding::Output { step, output } => {
                let outcome = self.outcomes[*step].as_ref();
                if let Some(path) = outcome.and_then(|o| o.artifacts.get(output)) {
                    InputValue::Artifact {
                        path: path.clone(),
                        identity: format!("{}/{output}", self.keys[*step]),
                    }
                } else {
                    InputValue::Text(self.text(binding).unwrap_or_default())
                }
            }
            other => InputValue::Text(self.text(other).unwrap_or_default()),
        }
    }

    fn finish(&mut self, i: usize, status: TaskStatus, message: Option<String>) {
        self.status[i] = status;
        self.outcomes[i] = Some(Outcome {
            status,
            attempts: 0,
            exit_code: None,
            outputs: BTreeMap::new(),
            artifacts: BTreeMap::new(),
            message,
            seconds: 0.0,
        });
    }

    /// Expands a ready group: evaluates its condition, resolves its items, and adds the
    /// steps of each iteration (or marks it skipped).
    fn expand(&mut self, i: usize) {
        let step = self.steps[i].clone();
        let StepKind::Group {
            graph,
            when,
            repeat,
        } = &step.kind
        else {
            return;
        };
        if let Some((condition, bindings)) = when.as_deref() {
            let operands = condition.operands();
            let value = |operand: &Operand| {
                let index = operands.iter().position(|o| std::ptr::eq(*o, operand))?;
                self.text(&bindings[index])
            };
            match condition.evaluate(&value) {
                Ok(true) => {}
                Ok(false) => {
                    self.finish(
                        i,
                        TaskStatus::Skipped,
                        Some("its condition is false".into()),
                    );
                    return;
                }
                Err(message) => {
                    self.finish(i, TaskStatus::Failed, Some(format!("condition: {message}")));
                    return;
                }
            }
        }
        let items: Vec<Option<String>> = match repeat.as_deref() {
            None => vec![None],
            Some((repeat, binding)) => match &repeat.items {
                LoopItems::Static(values) => values.iter().map(|v| Some(json_to_text(v))).collect(),
                LoopItems::Range { start, end } => {
                    (*start..*end).map(|n| Some(n.to_string())).collect()
                }
                LoopItems::Param(_) => {
                    let text = binding
                        .as_ref()
                        .and_then(|b| self.text(b))
                        .unwrap_or_default();
                    match serde_json::from_str::<Vec<serde_json::Value>>(&text) {
                        Ok(values) => values.iter().map(|v| Some(json_to_text(v))).collect(),
                        Err(e) => {
                            self.finish(
                                i,
                                TaskStatus::Failed,
                                Some(format!("loop items are not a JSON list ({e}): {text}")),
                            );
                            return;
                        }
                    }
                }
            },
        };
        let window = repeat
            .as_deref()
            .and_then(|(r, _)| r.parallelism)
            .map(|n| n as usize);
        let mut iterations: Vec<(BTreeMap<String, Binding>, Vec<usize>)> = Vec::new();
        for (k, item) in items.iter().enumerate() {
            let inputs: BTreeMap<String, Binding> = step
                .inputs
                .iter()
                .map(|(name, binding)| {
                    let bound = match (binding, item) {
                        (Binding::Item, Some(item)) => Binding::Text(item.clone()),
                        (other, _) => other.clone(),
                    };
                    (name.clone(), bound)
                })
                .collect();
            let prefix = if repeat.is_some() {
                format!("{}/{k}/", step.path)
            } else {
                format!("{}/", step.path)
            };
            let mut new_steps = Vec::new();
            let offset = self.steps.len();
            // The new steps are numbered after the existing ones, so that bindings to steps
            // outside the group (its inputs) and inside it never collide.
            let (outputs, _) = plan::flatten(graph, &prefix, &inputs, &mut new_steps, offset);
            let count = new_steps.len();
            for mut new in new_steps.clone() {
                // At most `window` iterations at once: iteration k waits for k - window.
                if let Some(window) = window
                    && k >= window
                {
                    new.upstream
                        .extend(iterations[k - window].1.iter().copied());
                }
                new.upstream.sort_unstable();
                new.upstream.dedup();
                self.push(new);
            }
            iterations.push((outputs, (offset..offset + count).collect()));
        }
        self.status[i] = TaskStatus::Running;
        self.groups.insert(
            i,
            GroupRun {
                iterations,
                repeated: repeat.is_some(),
            },
        );
    }

    /// Finishes every expanded group whose steps have all finished.
    fn settle_groups(&mut self) -> bool {
        let mut changed = false;
        let ready: Vec<usize> =
            self.groups
                .iter()
                .filter(|(_, g)| {
                    g.iterations.iter().flat_map(|(_, steps)| steps).all(|&s| {
                        !matches!(self.status[s], TaskStatus::Pending | TaskStatus::Running)
                    })
                })
                .map(|(&i, _)| i)
                .collect();
        for i in ready {
            let Some(group) = self.groups.remove(&i) else {
                continue;
            };
            changed = true;
            let failed = group
                .iterations
                .iter()
                .flat_map(|(_, steps)| steps)
                .any(|&s| self.status[s] == TaskStatus::Failed);
            if failed {
                self.finish(
                    i,
                    TaskStatus::Failed,
                    Some("a task inside it failed".into()),
                );
                continue;
            }
            let mut outputs = BTreeMap::new();
            let mut artifacts = BTreeMap::new();
            // A loop has its outputs even with no iterations (then empty lists).
            let names: Vec<String> = match &self.steps[i].kind {
                StepKind::Group { graph, .. } if group.repeated => {
                    graph.outputs.iter().map(|o| o.spec.name.clone()).collect()
                }
                _ => group
                    .iterations
                    .first()
                    .map(|(o, _)| o.keys().cloned().collect())
                    .unwrap_or_default(),
            };
            let collected: Vec<String> = match &self.steps[i].kind {
                StepKind::Group { graph, .. } if group.repeated => graph
                    .outputs
                    .iter()
                    .filter(|o| o.spec.ty.is_artifact())
                    .map(|o| o.spec.name.clone())
                    .collect(),
                _ => Vec::new(),
            };
            let mut identities = Vec::new();
            let mut failure = None;
            for name in &collected {
                match self.collect_artifacts(i, name, &group) {
                    Ok((path, identity)) => {
                        artifacts.insert(name.clone(), path);
                        identities.push(identity);
                    }
                    Err(message) => failure = Some(message),
                }
            }
            if let Some(message) = failure {
                self.finish(i, TaskStatus::Failed, Some(message));
                continue;
            }
            for name in names {
                if collected.contains(&name) {
                    continue;
                }
                if group.repeated {
                    // As Argo collects a loop's outputs: a JSON list of each iteration's text.
                    let values: Vec<String> = group
                        .iterations
                        .iter()
                        .map(|(o, _)| o.get(&name).and_then(|b| self.text(b)).unwrap_or_default())
                        .collect();
                    outputs.insert(name, serde_json::to_string(&values).unwrap_or_default());
                } else if let Some(binding) = group.iterations[0].0.get(&name) {
                    match self.resolve(binding) {
                        InputValue::Text(text) => {
                            outputs.insert(name, text);
                        }
                        InputValue::Artifact { path, identity } => {
                            identities.push(format!("{name}:{identity}"));
                            artifacts.insert(name, path);
                        }
                    }
                }
            }
            if !identities.is_empty() {
                // What identifies the content of the group's artifacts (see `resolve`).
                self.keys[i] = super::exec::hash_text(&identities.join("\n"));
            }
            self.status[i] = TaskStatus::Succeeded;
            self.outcomes[i] = Some(Outcome {
                status: TaskStatus::Succeeded,
                attempts: 0,
                exit_code: None,
                outputs,
                artifacts,
                message: None,
                seconds: 0.0,
            });
        }
        changed
    }

    /// Collects artifact output `name` of every iteration of loop step `i` into one folder
    /// with an entry per iteration that made one, named by the zero-padded iteration number
    /// (so that name order is iteration order); returns the folder and what identifies its
    /// content.
    fn collect_artifacts(
        &self,
        i: usize,
        name: &str,
        group: &GroupRun,
    ) -> Result<(PathBuf, String), String> {
        let folder = self
            .tasks_dir
            .join(&self.steps[i].path)
            .join("collected")
            .join(name);
        let text = |e: std::io::Error, path: &std::path::Path| {
            format!("collecting '{name}': {}: {e}", path.display())
        };
        if folder.exists() {
            std::fs::remove_dir_all(&folder).map_err(|e| text(e, &folder))?;
        }
        std::fs::create_dir_all(&folder).map_err(|e| text(e, &folder))?;
        let width = group.iterations.len().to_string().len().max(5);
        let mut identity = format!("{name}:");
        for (k, (outputs, _)) in group.iterations.iter().enumerate() {
            // An iteration whose producer was skipped made nothing.
            let Some(InputValue::Artifact { path, identity: of }) =
                outputs.get(name).map(|b| self.resolve(b))
            else {
                continue;
            };
            let entry = folder.join(format!("{k:0width$}"));
            super::exec::link_artifact(&path, &entry).map_err(|e| text(e, &entry))?;
            identity.push_str(&format!("{k}={of};"));
        }
        Ok((folder, identity))
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
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let outcome = self.outcomes[i].as_ref();
                TaskRecord {
                    name: step.path.clone(),
                    component: step.label().to_owned(),
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
        let failed = self.status.contains(&TaskStatus::Failed)
            || self.outcomes.iter().flatten().any(|o| {
                o.status == TaskStatus::Skipped
                    && o.message.as_deref() != Some("its condition is false")
            });
        let mut outputs = BTreeMap::new();
        let mut artifacts = BTreeMap::new();
        if finished && !failed {
            for (name, binding) in &self.outputs {
                match self.resolve(binding) {
                    InputValue::Text(text) => {
                        outputs.insert(name.clone(), text);
                    }
                    InputValue::Artifact { path, .. } => {
                        artifacts.insert(name.clone(), path);
                    }
                }
            }
        }
        RunRecord {
            id: id.to_owned(),
            pipeline: pipeline.to_owned(),
            status: match (self.interrupted, finished, failed) {
                (true, true, _) => "interrupted",
                (_, false, _) => "running",
                (false, true, false) => "succeeded",
                (false, true, true) => "failed",
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
    if options.resume.is_none() {
        settle_stale_runs(&store);
    }
    let (id, params, previous) = match &options.resume {
        Some(id) => {
            check_run_id(id)?;
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
        None => (fresh_run_id(&store, &graph.name)?, params, None),
    };
    // Held until this function returns: no other runner can run this run meanwhile.
    let _lock = RunLock::acquire(&store, &id)?;
    if previous.is_some() {
        // Its runner may have been killed, leaving tasks running: stop them before their
        // folders are reused.
        stop_orphans(&store.run_dir(&id), Duration::from_secs(10));
    }
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
        grace: options.grace,
        verify_cache: options.verify_cache,
    };
    let mut state = State {
        steps: Vec::new(),
        outputs: plan.outputs.clone(),
        status: Vec::new(),
        outcomes: Vec::new(),
        keys: Vec::new(),
        started: Vec::new(),
        groups: BTreeMap::new(),
        run_status: "Succeeded".into(),
        tasks_dir: store.run_dir(&id).join("tasks"),
        interrupted: false,
    };
    for step in plan.steps.clone() {
        state.push(step);
    }
    let started = previous
        .as_ref()
        .map_or_else(now_rfc3339, |p| p.started.clone());
    let clock = Instant::now();
    let progress = report::Progress::new(plan.steps.len(), options.progress);
    let mut stopping = false;
    // Recorded from the start, so that a run killed early can still be resumed.
    store.save(&state.record(&id, &graph.name, &started, 0.0, &params, &store))?;
    let context = Context {
        options,
        runner: &runner,
        binary_hash: &binary_hash,
        previous: previous.as_ref(),
        progress: &progress,
        store: &store,
        id: &id,
        pipeline: &graph.name,
        started: &started,
        params: &params,
        clock,
        cancel: &cancel,
    };
    context.drive(&mut state, &mut stopping)?;
    if let Some(exit) = plan.exit_handler.clone().filter(|_| !state.interrupted) {
        // The exit handler runs whatever happened, and sees how the rest ended.
        let failed = state.status.contains(&TaskStatus::Failed);
        state.run_status = if failed { "Failed" } else { "Succeeded" }.into();
        for status in state.status.iter_mut() {
            if *status == TaskStatus::Pending {
                *status = TaskStatus::Skipped;
            }
        }
        state.push(exit);
        cancel.store(false, Ordering::Relaxed);
        let mut exit_stopping = false;
        context.drive(&mut state, &mut exit_stopping)?;
        stopping |= exit_stopping;
    }
    for i in 0..state.steps.len() {
        if state.status[i] == TaskStatus::Pending
            || (state.status[i] == TaskStatus::Skipped && state.outcomes[i].is_none())
        {
            let reason = if state.interrupted {
                "not run: the run was interrupted"
            } else if stopping {
                "not run: an upstream or earlier task failed"
            } else {
                "not run"
            };
            state.finish(i, TaskStatus::Skipped, Some(reason.to_owned()));
        }
    }
    if state.interrupted {
        for i in 0..state.steps.len() {
            let stopped = state.outcomes[i].as_ref().is_some_and(|o| {
                o.status == TaskStatus::Failed && o.message.as_deref() == Some(STOPPED)
            });
            if stopped {
                state.status[i] = TaskStatus::Interrupted;
                if let Some(outcome) = state.outcomes[i].as_mut() {
                    outcome.status = TaskStatus::Interrupted;
                }
            }
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
    report::write_graph(&store.run_dir(&id), &state.steps, &state.status);
    Ok(record)
}

/// What the scheduling loop needs besides the state.
struct Context<'a> {
    options: &'a RunOptions,
    runner: &'a StepRunner<'a>,
    binary_hash: &'a str,
    previous: Option<&'a RunRecord>,
    progress: &'a report::Progress,
    store: &'a Store,
    id: &'a str,
    pipeline: &'a str,
    started: &'a str,
    params: &'a BTreeMap<String, serde_json::Value>,
    clock: Instant,
    cancel: &'a AtomicBool,
}

impl Context<'_> {
    /// Writes the record as the run stands. One that cannot be written now (a full disk,
    /// say) does not stop the run: the last one written stays whole, and the final save,
    /// which must succeed, reports.
    fn save_quietly(&self, state: &State) {
        let record = state.record(
            self.id,
            self.pipeline,
            self.started,
            self.clock.elapsed().as_secs_f64(),
            self.params,
            self.store,
        );
        if let Err(e) = self.store.save(&record) {
            eprintln!("warning: could not update the run record: {e}");
        }
    }

    /// Reuses a task's outputs from the cache, or from the run being resumed.
    fn reuse(&self, step: &Step, key: &str, caching: bool) -> Option<Outcome> {
        if caching && let Some(outcome) = self.runner.cached(step, key) {
            return Some(outcome);
        }
        let task = self.previous?.tasks.iter().find(|t| t.name == step.path)?;
        let intact = |path: &PathBuf| {
            path.exists()
                && path
                    .parent()
                    .and_then(|out| out.parent())
                    .filter(|entry| {
                        entry.parent() == Some(self.store.root().join("cache").as_path())
                    })
                    .is_none_or(|entry| self.runner.entry_is_intact(entry, &step.path))
        };
        (task.status.is_done() && task.cache_key == key && task.artifacts.values().all(intact))
            .then(|| Outcome {
                status: TaskStatus::Cached,
                attempts: 0,
                exit_code: None,
                outputs: task.outputs.clone(),
                artifacts: task.artifacts.clone(),
                message: None,
                seconds: 0.0,
            })
    }

    /// Runs steps until none can start and none is running.
    fn drive(&self, state: &mut State, stopping: &mut bool) -> Result<(), RunError> {
        // Due at once, so that the record says which tasks run from the first pass on.
        let mut last_save = Instant::now()
            .checked_sub(Duration::from_secs(1))
            .unwrap_or_else(Instant::now);
        let mut running = 0usize;
        let (sender, receiver) = mpsc::channel::<(usize, Outcome)>();
        std::thread::scope(|scope| -> Result<(), RunError> {
            loop {
                if !state.interrupted
                    && self
                        .options
                        .interrupt
                        .as_ref()
                        .is_some_and(|flag| flag.load(Ordering::Relaxed))
                {
                    state.interrupted = true;
                    *stopping = true;
                    self.cancel.store(true, Ordering::Relaxed);
                }
                // Start (or expand) every step that can start; repeat while groups expand.
                let mut progressed = true;
                while progressed && !*stopping {
                    progressed = state.settle_groups();
                    for i in 0..state.steps.len() {
                        if running >= self.options.parallelism.max(1) {
                            break;
                        }
                        if state.status[i] != TaskStatus::Pending
                            || !state.steps[i].upstream.iter().all(|&u| {
                                state.status[u].is_done()
                                    || state.status[u] == TaskStatus::Skipped
                                        && state.outcomes[u]
                                            .as_ref()
                                            .and_then(|o| o.message.as_deref())
                                            == Some("its condition is false")
                            })
                        {
                            continue;
                        }
                        progressed = true;
                        let step = state.steps[i].clone();
                        if matches!(step.kind, StepKind::Group { .. }) {
                            state.started[i] = Some(self.clock.elapsed().as_secs_f64());
                            state.expand(i);
                            if state.status[i] == TaskStatus::Failed {
                                *stopping = true;
                            }
                            continue;
                        }
                        let inputs: BTreeMap<String, InputValue> = step
                            .inputs
                            .iter()
                            .map(|(k, b)| (k.clone(), state.resolve(b)))
                            .collect();
                        let key = cache_key(&step, &inputs, self.binary_hash);
                        state.keys[i] = key.clone();
                        let caching = self.options.cache && step.config.caching != Some(false);
                        if let Some(outcome) = self.reuse(&step, &key, caching) {
                            state.status[i] = TaskStatus::Cached;
                            state.outcomes[i] = Some(outcome);
                            self.progress.finished(&step.path, TaskStatus::Cached);
                            continue;
                        }
                        state.status[i] = TaskStatus::Running;
                        state.started[i] = Some(self.clock.elapsed().as_secs_f64());
                        running += 1;
                        self.progress.started(&step.path);
                        let sender = sender.clone();
                        let runner = self.runner;
                        scope.spawn(move || {
                            let outcome = runner.run(&step, &inputs, &key, caching);
                            let _ = sender.send((i, outcome));
                        });
                    }
                }
                if running == 0 {
                    if state.settle_groups() && !*stopping {
                        continue;
                    }
                    // Every step that could start has; what is left waits behind a failure.
                    break;
                }
                if last_save.elapsed() > Duration::from_millis(250) {
                    self.save_quietly(state);
                    last_save = Instant::now();
                }
                let (i, outcome) = match receiver.recv_timeout(Duration::from_millis(200)) {
                    Ok(done) => done,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.progress.tick();
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                };
                running -= 1;
                state.status[i] = outcome.status;
                if outcome.status == TaskStatus::Failed && state.interrupted {
                    self.progress
                        .finished(&state.steps[i].path, TaskStatus::Interrupted);
                } else if outcome.status == TaskStatus::Failed {
                    let path = &state.steps[i].path;
                    let folder = self.store.task_dir(self.id, path);
                    self.progress.failed(
                        path,
                        outcome.message.as_deref().unwrap_or("failed"),
                        &folder,
                    );
                    *stopping = true;
                    if self.options.fail_fast {
                        self.cancel.store(true, Ordering::Relaxed);
                    }
                } else {
                    self.progress.finished(&state.steps[i].path, outcome.status);
                }
                state.outcomes[i] = Some(outcome);
                if last_save.elapsed() > Duration::from_millis(250) {
                    self.save_quietly(state);
                    last_save = Instant::now();
                }
            }
            Ok(())
        })
    }
}

/// A new run id whose folder this call made (so two runners never share one).
fn fresh_run_id(store: &Store, pipeline: &str) -> Result<String, StoreError> {
    let runs = store.root().join("runs");
    std::fs::create_dir_all(&runs).map_err(super::store::io(&runs))?;
    loop {
        let id = new_run_id(pipeline);
        let dir = store.run_dir(&id);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(id),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(super::store::io(&dir)(e)),
        }
    }
}

/// Runs whose record says `running` but whose runner is gone (killed): stops what they left
/// running and records them as `interrupted`, with their running tasks likewise.
fn settle_stale_runs(store: &Store) {
    let Ok(records) = store.list() else { return };
    for mut record in records {
        if record.status != "running" || is_live(store, &record.id) {
            continue;
        }
        // Take its lock, so that a runner resuming it right now is not disturbed.
        let Ok(_lock) = RunLock::acquire(store, &record.id) else {
            continue;
        };
        stop_orphans(&store.run_dir(&record.id), Duration::from_secs(10));
        record.status = "interrupted".into();
        for task in &mut record.tasks {
            if task.status == TaskStatus::Running {
                task.status = TaskStatus::Interrupted;
                task.message = Some("its runner was killed".into());
            }
        }
        let _ = store.save(&record);
    }
}

/// The last lines of a failed task's error log, for messages.
pub fn failure_tail(task: &TaskRecord) -> String {
    log_tail(&task.folder.join("stderr.log"), 10)
}
