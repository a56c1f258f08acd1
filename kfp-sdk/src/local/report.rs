//! What a run shows: a live progress bar, failure messages, the summary table, and the
//! pipeline graph as a picture (Graphviz DOT, rendered to SVG when `dot` is installed).
use std::fmt::Write as _;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use super::exec::{log_tail, write_text};
use super::plan::Step;
use super::store::{RunRecord, TaskStatus};

/// The live view of a run on the terminal (silent when not asked for or not a terminal):
/// a bar over the tasks, the counts by state, and the tasks running now.
pub struct Progress {
    bar: Option<ProgressBar>,
    state: std::sync::Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    running: Vec<String>,
    succeeded: usize,
    cached: usize,
    failed: usize,
}

impl Progress {
    /// A progress bar over `total` tasks, if `show`.
    pub fn new(total: usize, show: bool) -> Self {
        let bar = show.then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            state: std::sync::Mutex::default(),
        }
    }

    fn update(&self, change: impl FnOnce(&mut Counts)) {
        let Some(bar) = &self.bar else { return };
        let mut counts = self.state.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut counts);
        let mut running = counts
            .running
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if counts.running.len() > 3 {
            running.push_str(&format!(" +{}", counts.running.len() - 3));
        }
        bar.set_message(format!(
            "done {} cached {} failed {} | running {}",
            counts.succeeded, counts.cached, counts.failed, running
        ));
    }

    /// A task started.
    pub fn started(&self, task: &str) {
        self.update(|c| c.running.push(task.to_owned()));
    }

    /// A task finished (ran or came from the cache).
    pub fn finished(&self, task: &str, status: TaskStatus) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.update(|c| {
            c.running.retain(|t| t != task);
            match status {
                TaskStatus::Cached => c.cached += 1,
                _ => c.succeeded += 1,
            }
        });
    }

    /// A task failed: always said, with where its logs are.
    pub fn failed(&self, task: &str, message: &str, folder: &Path) {
        let text = format!(
            "task '{task}' failed: {message}\n  logs: {}",
            folder.join("stderr.log").display()
        );
        self.update(|c| {
            c.running.retain(|t| t != task);
            c.failed += 1;
        });
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    /// Redraws the elapsed time.
    pub fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.tick();
        }
    }

    /// Removes the bar.
    pub fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The summary of a run: one line per task, then the outputs.
pub fn summary(record: &RunRecord) -> String {
    let width = record
        .tasks
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:<9}  {:>9}  {:>5}  component",
        "task", "status", "seconds", "tries"
    );
    for task in &record.tasks {
        let seconds = task
            .seconds
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.3}"));
        let _ = writeln!(
            out,
            "{:<width$}  {:<9}  {:>9}  {:>5}  {}",
            task.name,
            task.status.to_string(),
            seconds,
            task.attempts,
            task.component
        );
    }
    let count = |status: TaskStatus| record.tasks.iter().filter(|t| t.status == status).count();
    let _ = writeln!(
        out,
        "run {} {} in {:.2} s: {} ran, {} cached, {} failed, {} skipped",
        record.id,
        record.status,
        record.seconds,
        count(TaskStatus::Succeeded),
        count(TaskStatus::Cached),
        count(TaskStatus::Failed),
        count(TaskStatus::Skipped),
    );
    for (name, value) in &record.outputs {
        let shown: String = value.chars().take(200).collect();
        let _ = writeln!(out, "output {name} = {shown}");
    }
    for (name, path) in &record.artifacts {
        let _ = writeln!(out, "output {name}: {}", path.display());
    }
    for task in record
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Failed)
    {
        let tail = log_tail(&task.folder.join("stderr.log"), 10);
        let _ = writeln!(
            out,
            "\n{} failed (exit {:?}); last lines of its log:\n{tail}",
            task.name, task.exit_code
        );
    }
    out
}

fn colour(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Pending => "white",
        TaskStatus::Running => "lightblue",
        TaskStatus::Succeeded => "palegreen",
        TaskStatus::Cached => "lightgrey",
        TaskStatus::Failed => "salmon",
        TaskStatus::Skipped => "lightyellow",
        TaskStatus::Interrupted => "orange",
    }
}

/// The plan as Graphviz DOT, each task coloured by its status.
pub fn dot(steps: &[Step], status: &[TaskStatus]) -> String {
    let mut out = String::from(
        "digraph pipeline {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n",
    );
    for (i, step) in steps.iter().enumerate() {
        let label = format!("{}\\n{} ({})", step.path, step.label(), status[i]);
        let _ = writeln!(
            out,
            "  t{i} [label=\"{}\", fillcolor={}];",
            label.replace('"', "\\\""),
            colour(status[i])
        );
    }
    for (i, step) in steps.iter().enumerate() {
        for up in &step.upstream {
            let _ = writeln!(out, "  t{up} -> t{i};");
        }
    }
    out.push_str("}\n");
    out
}

/// Writes `graph.dot` into the run folder and, when Graphviz is installed, `graph.svg`.
pub fn write_graph(run_dir: &Path, steps: &[Step], status: &[TaskStatus]) {
    let dot_path = run_dir.join("graph.dot");
    if write_text(&dot_path, &dot(steps, status)).is_err() {
        return;
    }
    let _ = std::process::Command::new("dot")
        .arg("-Tsvg")
        .arg("-o")
        .arg(run_dir.join("graph.svg"))
        .arg(&dot_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}
