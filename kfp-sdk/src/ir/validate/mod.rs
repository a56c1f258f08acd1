//! Backend-neutral validation of a pipeline graph, before anything is written.
//!
//! [`validate`] runs every check and reports every problem at once, each naming the
//! pipeline, the task and the field. The checks cover the rules of the graph itself, whatever
//! runs it: names (DNS labels, unique), unknown or cyclic dependencies, unsupplied inputs,
//! references to outputs that do not exist, control flow, and type errors that hand-built
//! graphs can contain. A backend adds its own limits on top (the Argo compiler checks
//! Argo's name rules in `argo::validate`).
use std::collections::{BTreeSet, HashMap};

use super::component::{CommandPart, ComponentSpec, Implementation, IoType};
use super::control::LoopItems;
use super::graph::{Executable, PipelineGraph, Task, ValueSource};
use super::names::is_dns_label;
use super::param::ParamType;

/// One problem found in a pipeline graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The pipeline (a nested one is named `outer/inner`).
    pub pipeline: String,
    /// The task, when the problem is in one.
    pub task: Option<String>,
    /// The field: `name`, `input 'x'`, `after`, `output 'y'`, ...
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pipeline '{}'", self.pipeline)?;
        if let Some(task) = &self.task {
            write!(f, ", task '{task}'")?;
        }
        write!(f, ", {}: {}", self.field, self.message)
    }
}

/// All problems found in a pipeline graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} problem{} in the pipeline:",
            if n == 1 { "" } else { "s" }
        )?;
        for error in &self.0 {
            write!(f, "\n  - {error}")?;
        }
        Ok(())
    }
}

/// The longest pipeline or task name (a DNS label, so that it can appear in Kubernetes
/// names). A backend may allow less (Argo allows 57 characters for a pipeline's name).
pub const MAX_TASK_NAME: usize = 63;

/// Checks the whole graph (nested pipelines included) and returns every problem found.
pub fn validate(graph: &PipelineGraph) -> Result<(), ValidationErrors> {
    let mut errors = Vec::new();
    if graph.name.len() > MAX_TASK_NAME || !is_dns_label(&graph.name) {
        errors.push(ValidationError {
            pipeline: graph.name.clone(),
            task: None,
            field: "name".into(),
            message: format!(
                "must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending \
                 with a letter or digit) of at most {MAX_TASK_NAME} characters (has {})",
                graph.name.len()
            ),
        });
    }
    check_pipeline(graph, &graph.name, false, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errors))
    }
}

struct Checker<'a> {
    graph: &'a PipelineGraph,
    /// Tasks by name (the first of each name), so that lookups stay O(1) in big graphs.
    tasks: HashMap<&'a str, &'a Task>,
    path: &'a str,
    errors: &'a mut Vec<ValidationError>,
    /// Whether this pipeline runs inside an iteration of a loop (at any depth).
    in_loop: bool,
}

impl Checker<'_> {
    fn error(&mut self, task: Option<&str>, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ValidationError {
            pipeline: self.path.to_owned(),
            task: task.map(str::to_owned),
            field: field.into(),
            message: message.into(),
        });
    }

    /// The type of the value a source yields, or an error message.
    fn source_type(&self, source: &ValueSource, expected: &IoType) -> Result<IoType, String> {
        match source {
            ValueSource::Constant(value) => match expected {
                IoType::Artifact(_) | IoType::ArtifactList(_) => {
                    Err("an artifact input needs an artifact, not a constant".to_owned())
                }
                IoType::Parameter(t) if json_fits(value, *t) => Ok(expected.clone()),
                IoType::Parameter(t) => Err(format!("the constant {value} is not a {t}")),
            },
            ValueSource::PipelineInput(name) => match self.graph.input(name) {
                Some(input) => Ok(input.ty.clone()),
                None => Err(format!("the pipeline has no input '{name}'")),
            },
            ValueSource::TaskOutput { task, output } => {
                let Some(producer) = self.tasks.get(task.as_str()) else {
                    return Err(format!("there is no task '{task}'"));
                };
                producer.output_type(output).ok_or_else(|| {
                    format!(
                        "task '{task}' ({}) has no output '{output}'",
                        producer.executable.name()
                    )
                })
            }
            ValueSource::LoopItem => Ok(expected.clone()),
            ValueSource::WorkflowStatus => Ok(IoType::Parameter(ParamType::String)),
        }
    }

    /// Checks a task's condition and loop.
    fn check_control(&mut self, task: &Task) {
        let name = task.name.as_str();
        if let Some(condition) = &task.when {
            for operand in condition.operands() {
                let expected = IoType::Parameter(operand.ty);
                match self.source_type(&operand.source, &expected) {
                    Err(message) => self.error(Some(name), "condition", message),
                    Ok(IoType::Parameter(_)) => {}
                    Ok(found) => self.error(
                        Some(name),
                        "condition",
                        format!("compares {found}; conditions compare parameters only"),
                    ),
                }
                if matches!(
                    operand.source,
                    ValueSource::LoopItem | ValueSource::WorkflowStatus
                ) {
                    self.error(
                        Some(name),
                        "condition",
                        "may not read the loop item or the run status",
                    );
                }
            }
        }
        let item_used = task
            .arguments
            .iter()
            .any(|(_, s)| matches!(s, ValueSource::LoopItem));
        match &task.repeat {
            Some(repeat) => {
                if let LoopItems::Param(source) = &repeat.items {
                    let list = IoType::Parameter(ParamType::List);
                    match self.source_type(source, &list) {
                        Err(message) => self.error(Some(name), "loop items", message),
                        Ok(found) if found != list => self.error(
                            Some(name),
                            "loop items",
                            format!("a loop needs a list, not {found}"),
                        ),
                        Ok(_) => {}
                    }
                }
                if let LoopItems::Range { start, end } = repeat.items
                    && end < start
                {
                    self.error(
                        Some(name),
                        "loop items",
                        format!("the range {start}..{end} is reversed"),
                    );
                }
                if repeat.parallelism == Some(0) {
                    self.error(Some(name), "loop parallelism", "must be at least 1");
                }
            }
            None if item_used => {
                self.error(
                    Some(name),
                    "arguments",
                    "reads the loop item, but the task has no loop",
                );
            }
            None => {}
        }
        if task.repeat.is_some() {
            self.check_fan_in(task);
        }
    }

    /// Checks a loop whose iterations make artifacts that it collects (fan-in).
    fn check_fan_in(&mut self, task: &Task) {
        let name = task.name.as_str();
        for output in task.executable.outputs() {
            match &output.ty {
                IoType::Artifact(_) if self.in_loop => self.error(
                    Some(name),
                    format!("output '{}'", output.name),
                    "collecting artifacts made in a loop that is itself inside a loop is not \
                     supported (on Argo a DAG has no storage key unique to each iteration of the \
                     outer loop); collect them in the outer loop's body with a nested pipeline \
                     instead, or return a parameter",
                ),
                IoType::Artifact(_) => {
                    if let Err(message) = made_inside(&task.executable, &output.name) {
                        self.error(Some(name), format!("output '{}'", output.name), message);
                    }
                }
                IoType::ArtifactList(_) => self.error(
                    Some(name),
                    format!("output '{}'", output.name),
                    "a loop cannot collect lists of artifacts (lists of lists are not supported)",
                ),
                IoType::Parameter(_) => {}
            }
        }
    }

    fn check_task(&mut self, task: &Task) {
        let name = task.name.as_str();
        if name.len() > MAX_TASK_NAME || !is_dns_label(name) {
            self.error(
                Some(name),
                "name",
                format!(
                    "must be a DNS-1123 label of at most {MAX_TASK_NAME} characters \
                     (lowercase letters, digits and '-')"
                ),
            );
        }
        let inputs = task.executable.inputs();
        let mut seen = BTreeSet::new();
        for (input_name, source) in &task.arguments {
            // Made only when there is something to report: this runs for every argument.
            let field = || format!("input '{input_name}'");
            if !seen.insert(input_name.as_str()) {
                self.error(Some(name), field(), "is set twice");
                continue;
            }
            let Some(input) = inputs.iter().find(|i| &i.name == input_name) else {
                let known: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
                self.error(
                    Some(name),
                    field(),
                    format!(
                        "'{}' has no such input (its inputs: {})",
                        task.executable.name(),
                        known.join(", ")
                    ),
                );
                continue;
            };
            if let ValueSource::TaskOutput { task: producer, .. } = source
                && producer == name
            {
                self.error(Some(name), field(), "a task cannot consume its own output");
                continue;
            }
            match self.source_type(source, &input.ty) {
                Err(message) => self.error(Some(name), field(), message),
                Ok(found) if found != input.ty => self.error(
                    Some(name),
                    field(),
                    format!("expects {}, but is wired to {found}", input.ty),
                ),
                Ok(_) => {}
            }
        }
        for input in inputs {
            if input.default.is_none() && task.argument(&input.name).is_none() {
                self.error(
                    Some(name),
                    format!("input '{}'", input.name),
                    format!("is required ({}) but not set", input.ty),
                );
            }
        }
        for other in &task.after {
            if other == name {
                self.error(Some(name), "after", "a task cannot run after itself");
            } else if !self.tasks.contains_key(other.as_str()) {
                self.error(Some(name), "after", format!("there is no task '{other}'"));
            }
        }
    }

    /// Reports one cycle, if the dependencies have any.
    fn check_cycles(&mut self) {
        let graph = self.graph;
        let index: HashMap<&str, usize> = graph
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        // 0 = unvisited, 1 = on the current path, 2 = done.
        let mut state = vec![0u8; graph.tasks.len()];
        for start in 0..graph.tasks.len() {
            if state[start] != 0 {
                continue;
            }
            // Iterative depth-first search, so that a 10,000-task chain cannot overflow the stack.
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            state[start] = 1;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                let upstream = graph.tasks[node].upstream();
                if let Some(dep) = upstream.get(*next) {
                    *next += 1;
                    let Some(&d) = index.get(dep) else { continue };
                    match state[d] {
                        0 => {
                            state[d] = 1;
                            stack.push((d, 0));
                        }
                        1 => {
                            let from = stack.iter().position(|&(n, _)| n == d).unwrap_or(0);
                            let mut names: Vec<&str> = stack[from..]
                                .iter()
                                .map(|&(n, _)| graph.tasks[n].name.as_str())
                                .collect();
                            names.push(graph.tasks[d].name.as_str());
                            self.error(
                                Some(&graph.tasks[d].name),
                                "dependencies",
                                format!("dependency cycle: {}", names.join(" waits for ")),
                            );
                            return;
                        }
                        _ => {}
                    }
                } else {
                    state[node] = 2;
                    stack.pop();
                }
            }
        }
    }
}

fn check_component(spec: &ComponentSpec, path: &str, errors: &mut Vec<ValidationError>) {
    let mut error = |field: String, message: String| {
        errors.push(ValidationError {
            pipeline: path.to_owned(),
            task: None,
            field: format!("component '{}', {field}", spec.name),
            message,
        })
    };
    let mut names = BTreeSet::new();
    for (name, what) in spec.io_names() {
        if !names.insert(name) {
            error(
                format!("{what} '{name}'"),
                "is declared twice (input and output names share one namespace)".into(),
            );
        }
    }
    for output in &spec.outputs {
        if output.ty.is_artifact_list() {
            error(
                format!("output '{}'", output.name),
                "a component writes single artifacts; lists of artifacts come from loops".into(),
            );
        }
    }
    if let Implementation::Container { image, command } = &spec.implementation {
        if image.trim().is_empty() {
            error(
                "image".into(),
                "a container component needs an image".into(),
            );
        }
        for part in command {
            let (name, ok) = match part {
                CommandPart::Literal(_) => continue,
                CommandPart::InputValue(n) => (
                    n,
                    spec.find_input(n)
                        .is_some_and(|i| matches!(i.ty, IoType::Parameter(_))),
                ),
                CommandPart::InputPath(n) => (
                    n,
                    spec.find_input(n)
                        .is_some_and(|i| !matches!(i.ty, IoType::Parameter(_))),
                ),
                CommandPart::OutputPath(n) => (n, spec.find_output(n).is_some()),
            };
            if !ok {
                error(
                    "command".into(),
                    format!(
                        "the placeholder {part:?} names no matching input or output ('{name}')"
                    ),
                );
            }
        }
    }
}

fn check_pipeline(
    graph: &PipelineGraph,
    path: &str,
    in_loop: bool,
    errors: &mut Vec<ValidationError>,
) {
    let mut tasks = HashMap::with_capacity(graph.tasks.len());
    for task in &graph.tasks {
        tasks.entry(task.name.as_str()).or_insert(task);
    }
    let mut checker = Checker {
        graph,
        tasks,
        path,
        errors,
        in_loop,
    };
    let mut names = BTreeSet::new();
    for input in &graph.inputs {
        let field = format!("input '{}'", input.name);
        if !names.insert(input.name.as_str()) {
            checker.error(None, field.clone(), "is declared twice");
        }
        if let (Some(default), IoType::Parameter(t)) = (&input.default, &input.ty)
            && !json_fits(default, *t)
        {
            checker.error(None, field, format!("the default {default} is not a {t}"));
        }
    }
    if graph.tasks.is_empty() {
        checker.error(None, "tasks", "a pipeline needs at least one task");
    }
    for task in &graph.tasks {
        checker.check_control(task);
        if task
            .arguments
            .iter()
            .any(|(_, s)| matches!(s, ValueSource::WorkflowStatus))
        {
            checker.error(
                Some(&task.name),
                "arguments",
                "reads the run status, which only an exit handler's tasks may",
            );
        }
    }
    if let Some(exit) = &graph.exit_handler {
        if path.contains('/') {
            checker.error(
                Some(&exit.name),
                "exit handler",
                "only the whole pipeline has one",
            );
        }
        for (input, source) in &exit.arguments {
            if !matches!(
                source,
                ValueSource::PipelineInput(_) | ValueSource::Constant(_)
            ) {
                checker.error(
                    Some(&exit.name),
                    format!("input '{input}'"),
                    "an exit handler reads pipeline parameters only",
                );
            }
        }
    }
    let mut task_names = HashMap::with_capacity(graph.tasks.len());
    for task in &graph.tasks {
        if task_names.insert(task.name.as_str(), ()).is_some() {
            checker.error(Some(&task.name), "name", "two tasks have this name");
        }
        checker.check_task(task);
    }
    checker.check_cycles();
    let mut output_names = BTreeSet::new();
    for output in &graph.outputs {
        let field = format!("output '{}'", output.spec.name);
        if !output_names.insert(output.spec.name.as_str()) {
            checker.error(None, field.clone(), "is declared twice");
        }
        if output.spec.ty.is_artifact_list() {
            checker.error(
                None,
                field.clone(),
                "a pipeline cannot return a collected list of artifacts (not supported yet): \
                 consume it inside the pipeline that runs the loop",
            );
        }
        match checker.source_type(&output.source, &output.spec.ty) {
            Err(message) => checker.error(None, field, message),
            Ok(found) if found != output.spec.ty => checker.error(
                None,
                field,
                format!("is declared as {}, but is wired to {found}", output.spec.ty),
            ),
            Ok(_) => {}
        }
    }
    let mut seen_components: Vec<&ComponentSpec> = Vec::new();
    let exit = graph.exit_handler.as_deref();
    for task in graph.tasks.iter().chain(exit) {
        match &task.executable {
            Executable::Component(spec) => {
                if !seen_components.iter().any(|s| std::ptr::eq(*s, &**spec)) {
                    seen_components.push(spec);
                    check_component(spec, path, errors);
                }
            }
            Executable::Pipeline(inner) => {
                let allow_status = exit.is_some_and(|e| std::ptr::eq(e, task));
                check_group(
                    inner,
                    &format!("{path}/{}", task.name),
                    allow_status,
                    in_loop || task.repeat.is_some(),
                    errors,
                )
            }
        }
    }
}

/// Checks a nested pipeline; inside an exit handler, tasks may read the run status.
fn check_group(
    graph: &PipelineGraph,
    path: &str,
    allow_status: bool,
    in_loop: bool,
    errors: &mut Vec<ValidationError>,
) {
    let before = errors.len();
    check_pipeline(graph, path, in_loop, errors);
    if allow_status {
        let mut index = before;
        while index < errors.len() {
            if errors[index].message.starts_with("reads the run status") {
                errors.remove(index);
            } else {
                index += 1;
            }
        }
    }
}

/// Whether artifact output `output` of `executable` is made by a task inside it (so that a
/// loop repeating it can collect one per iteration), or why not.
fn made_inside(executable: &Executable, output: &str) -> Result<(), String> {
    let Executable::Pipeline(graph) = executable else {
        return Ok(());
    };
    let Some(found) = graph.outputs.iter().find(|o| o.spec.name == output) else {
        return Ok(()); // reported as a missing output elsewhere
    };
    match &found.source {
        ValueSource::TaskOutput { task, output } => match graph.task(task) {
            Some(producer) if producer.repeat.is_none() => {
                made_inside(&producer.executable, output)
            }
            _ => Ok(()), // a missing task or a loop inside the loop: reported elsewhere
        },
        _ => Err(
            "a loop collects artifacts its iterations make; this one comes from outside \
                  the loop (pass it on directly instead)"
                .into(),
        ),
    }
}

/// Whether a JSON constant is a value of the parameter type.
fn json_fits(value: &serde_json::Value, ty: ParamType) -> bool {
    use serde_json::Value;
    match ty {
        ParamType::String => value.is_string(),
        ParamType::Integer => value.is_i64() || value.is_u64(),
        ParamType::Double => value.is_number(),
        ParamType::Boolean => value.is_boolean(),
        ParamType::List => value.is_array(),
        ParamType::Struct => !matches!(value, Value::String(_)),
    }
}

#[cfg(test)]
mod tests;
