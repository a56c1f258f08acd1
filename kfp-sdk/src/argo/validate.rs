//! Argo's own limits on a pipeline graph, checked by [`compile`](super::compile) on top of the
//! backend-neutral rules of [`crate::validate`].
//!
//! Argo appends 6 characters (`-xxxxx`) to a pipeline's name to make a 63-character workflow
//! name, names parameters and artifacts with `^[-a-zA-Z0-9_]+$`, and rejects DAG task names
//! that begin with a digit. A second backend does not inherit these rules.
use std::collections::HashSet;

use crate::ir::component::ComponentSpec;
use crate::ir::graph::{Executable, PipelineGraph};
use crate::ir::validate::{ValidationError, ValidationErrors, validate};

/// The longest pipeline name: Argo appends 6 characters (`-xxxxx`) to make a 63-character
/// workflow name.
pub const MAX_PIPELINE_NAME: usize = 57;

/// Whether `name` is a valid Argo parameter or artifact name (`^[-a-zA-Z0-9_]+$`).
pub(crate) fn is_io_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks the graph against the backend-neutral rules and Argo's own, and reports every
/// problem of both at once.
pub(crate) fn validate_for_argo(graph: &PipelineGraph) -> Result<(), ValidationErrors> {
    let mut errors = match validate(graph) {
        Ok(()) => Vec::new(),
        Err(ValidationErrors(errors)) => errors,
    };
    if graph.name.len() > MAX_PIPELINE_NAME {
        errors.push(ValidationError {
            pipeline: graph.name.clone(),
            task: None,
            field: "name".into(),
            message: format!(
                "must be at most {MAX_PIPELINE_NAME} characters on Argo, which appends 6 to make \
                 a workflow's name (has {})",
                graph.name.len()
            ),
        });
    }
    let mut seen = HashSet::new();
    check_pipeline(graph, &graph.name, &mut seen, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errors))
    }
}

const IO_NAME_RULE: &str = "names may only hold letters, digits, '-' and '_'";

/// Argo's rules for one pipeline and the pipelines and components it runs; `seen` holds the
/// components already checked (by address).
fn check_pipeline(
    graph: &PipelineGraph,
    path: &str,
    seen: &mut HashSet<*const ComponentSpec>,
    errors: &mut Vec<ValidationError>,
) {
    let mut error = |task: Option<&str>, field: String, message: &str| {
        errors.push(ValidationError {
            pipeline: path.to_owned(),
            task: task.map(str::to_owned),
            field,
            message: message.to_owned(),
        })
    };
    for input in &graph.inputs {
        if !is_io_name(&input.name) {
            error(None, format!("input '{}'", input.name), IO_NAME_RULE);
        }
    }
    for task in &graph.tasks {
        if task.name.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            error(
                Some(&task.name),
                "name".into(),
                "must not begin with a digit (Argo's DAG rule)",
            );
        }
    }
    for task in graph.tasks.iter().chain(graph.exit_handler.as_deref()) {
        match &task.executable {
            Executable::Component(spec) => {
                if seen.insert(std::sync::Arc::as_ptr(spec)) {
                    check_component(spec, path, errors);
                }
            }
            Executable::Pipeline(inner) => {
                check_pipeline(inner, &format!("{path}/{}", task.name), seen, errors)
            }
        }
    }
}

fn check_component(spec: &ComponentSpec, path: &str, errors: &mut Vec<ValidationError>) {
    for (name, what) in spec.io_names() {
        if !is_io_name(name) {
            errors.push(ValidationError {
                pipeline: path.to_owned(),
                task: None,
                field: format!("component '{}', {what} '{name}'", spec.name),
                message: IO_NAME_RULE.to_owned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::component::IoType;
    use crate::ir::graph::{Task, ValueSource};
    use crate::ir::param::ParamType;
    use std::sync::Arc;

    fn task(name: &str, spec: &Arc<ComponentSpec>) -> Task {
        Task {
            name: name.into(),
            executable: Executable::Component(spec.clone()),
            arguments: vec![("x y".into(), ValueSource::Constant(1.into()))],
            after: Vec::new(),
            config: Default::default(),
            when: None,
            repeat: None,
        }
    }

    fn errors_of(graph: &PipelineGraph) -> Vec<String> {
        match validate_for_argo(graph) {
            Ok(()) => Vec::new(),
            Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn argo_rules_come_on_top_of_the_neutral_ones() {
        let spec =
            Arc::new(ComponentSpec::new("odd").input("x y", IoType::Parameter(ParamType::Integer)));
        let name = "p".repeat(60);
        let graph = PipelineGraph {
            tasks: vec![task("1st", &spec), task("second", &spec)],
            ..PipelineGraph::new(name.clone())
        };
        // The neutral rules accept all of this: a 60-character DNS label, a task name that
        // begins with a digit, an input name with a space.
        assert_eq!(validate(&graph), Ok(()));
        let errors = errors_of(&graph);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].contains("must be at most 57 characters on Argo"),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("task '1st', name: must not begin with a digit"),
            "{errors:?}"
        );
        assert!(
            errors[2].ends_with(
                "component 'odd', input 'x y': names may only hold letters, digits, '-' and '_'"
            ),
            "{errors:?}"
        );
        // A name of 57 characters is fine.
        let fits = PipelineGraph {
            name: "p".repeat(57),
            tasks: vec![task("second", &spec)],
            ..graph
        };
        assert_eq!(errors_of(&fits).len(), 1, "only the input name");
    }

    #[test]
    fn io_names() {
        assert!(is_io_name("a-B_1"));
        for bad in ["", "a b", "a.b", "ü"] {
            assert!(!is_io_name(bad), "{bad}");
        }
    }
}
