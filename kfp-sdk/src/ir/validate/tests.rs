//! Tests of the backend-neutral validation.
use std::sync::Arc;

use super::*;
use crate::ir::component::{ComponentSpec, IoType};
use crate::ir::config::TaskConfig;
use crate::ir::graph::{Executable, PipelineGraph, Task, ValueSource};

fn double() -> IoType {
    IoType::Parameter(ParamType::Double)
}

fn add() -> Arc<ComponentSpec> {
    Arc::new(
        ComponentSpec::new("add")
            .input("x", double())
            .input("y", double())
            .output("sum", double()),
    )
}

fn task(name: &str, args: &[(&str, ValueSource)]) -> Task {
    Task {
        name: name.into(),
        executable: Executable::Component(add()),
        arguments: args
            .iter()
            .map(|(n, s)| (n.to_string(), s.clone()))
            .collect(),
        after: vec![],
        config: TaskConfig::default(),
        when: None,
        repeat: None,
    }
}

fn out(task: &str) -> ValueSource {
    ValueSource::TaskOutput {
        task: task.into(),
        output: "sum".into(),
    }
}

fn one() -> ValueSource {
    ValueSource::Constant(1.0.into())
}

fn errors_of(graph: &PipelineGraph) -> Vec<String> {
    match validate(graph) {
        Ok(()) => vec![],
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

fn pipeline(tasks: Vec<Task>) -> PipelineGraph {
    PipelineGraph {
        tasks,
        ..PipelineGraph::new("p")
    }
}

#[test]
fn a_correct_chain_passes() {
    let g = pipeline(vec![
        task("a", &[("x", one()), ("y", one())]),
        task("b", &[("x", out("a")), ("y", one())]),
    ]);
    assert_eq!(errors_of(&g), Vec::<String>::new());
}

#[test]
fn missing_and_unknown_inputs_name_the_task_and_field() {
    let g = pipeline(vec![task("a", &[("x", one()), ("z", one())])]);
    let errors = errors_of(&g);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("task 'a', input 'z'") && e.contains("no such input")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("task 'a', input 'y': is required")),
        "{errors:?}"
    );
}

#[test]
fn unknown_tasks_outputs_and_after_are_reported() {
    let mut b = task(
        "b",
        &[
            ("x", out("nope")),
            (
                "y",
                ValueSource::TaskOutput {
                    task: "a".into(),
                    output: "product".into(),
                },
            ),
        ],
    );
    b.after.push("ghost".into());
    let g = pipeline(vec![task("a", &[("x", one()), ("y", one())]), b]);
    let errors = errors_of(&g);
    assert!(
        errors.iter().any(|e| e.contains("there is no task 'nope'")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("has no output 'product'")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("after: there is no task 'ghost'")),
        "{errors:?}"
    );
}

#[test]
fn cycles_are_reported_with_their_path() {
    let g = pipeline(vec![
        task("a", &[("x", out("c")), ("y", one())]),
        task("b", &[("x", out("a")), ("y", one())]),
        task("c", &[("x", out("b")), ("y", one())]),
    ]);
    let errors = errors_of(&g);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("dependency cycle: a waits for c waits for b waits for a")),
        "{errors:?}"
    );
}

#[test]
fn names_follow_kubernetes_rules() {
    let long = "x".repeat(64);
    let g = PipelineGraph {
        tasks: vec![
            task("Upper", &[("x", one()), ("y", one())]),
            task("1st", &[("x", one()), ("y", one())]),
            task(&long, &[("x", one()), ("y", one())]),
            task("dup", &[("x", one()), ("y", one())]),
            task("dup", &[("x", one()), ("y", one())]),
        ],
        ..PipelineGraph::new("My_Pipeline")
    };
    let errors = errors_of(&g);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("pipeline 'My_Pipeline', name")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("task 'Upper', name")),
        "{errors:?}"
    );
    // A name may begin with a digit here; Argo's DAG rule against it is the Argo compiler's.
    assert!(
        !errors.iter().any(|e| e.contains("task '1st'")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains(&format!("task '{long}', name"))),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("task 'dup', name: two tasks have this name")),
        "{errors:?}"
    );
}

#[test]
fn types_are_checked_for_hand_built_graphs() {
    let text = ValueSource::Constant("ten".into());
    let mut g = pipeline(vec![task(
        "a",
        &[("x", text), ("y", ValueSource::PipelineInput("lr".into()))],
    )]);
    g.inputs.push(crate::ir::component::InputSpec {
        name: "lr".into(),
        ty: IoType::Parameter(ParamType::String),
        default: None,
        description: None,
    });
    let errors = errors_of(&g);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("input 'x': the constant \"ten\" is not a NUMBER_DOUBLE")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains(
            "input 'y': expects parameter NUMBER_DOUBLE, but is wired to parameter STRING"
        )),
        "{errors:?}"
    );
}

#[test]
fn an_empty_pipeline_is_rejected() {
    let errors = errors_of(&pipeline(vec![]));
    assert!(
        errors.iter().any(|e| e.contains("at least one task")),
        "{errors:?}"
    );
}

mod fan_in {
    use super::*;
    use crate::Model;
    use crate::dsl::{ParamRef, PipelineBuilder, TaskBuilder, parallel_for};

    use crate::test_fixtures::fan_in::{pick, trained};

    fn build_error(body: impl FnOnce()) -> String {
        PipelineBuilder::new("p")
            .build(body)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_collected_list_is_typed_and_feeds_only_list_inputs() {
        let graph = PipelineBuilder::new("p")
            .build(|| {
                let models = parallel_for(vec![0.1, 0.2]).each(trained);
                TaskBuilder::new(pick())
                    .artifact_list("models", models)
                    .add();
            })
            .unwrap();
        assert_eq!(
            graph.tasks[0].output_type("output"),
            Some(IoType::artifact_list::<Model>())
        );
        // A single artifact where a list is expected, and the other way round.
        let use_one =
            Arc::new(ComponentSpec::new("use_one").input("model", IoType::artifact::<Model>()));
        let err = build_error(|| {
            let one = trained(ParamRef::constant(&0.1));
            let models = parallel_for(vec![0.1]).each(trained);
            // By name, as hand-written graphs do; the typed task functions do not compile.
            TaskBuilder::new(pick()).artifact("models", one).add();
            TaskBuilder::new(use_one)
                .artifact_list("model", models)
                .add();
        });
        assert!(
            err.contains("input 'models': expects list of artifacts system.Model, but is wired to artifact system.Model"),
            "{err}"
        );
        assert!(
            err.contains("input 'model': expects artifact system.Model, but is wired to list of artifacts system.Model"),
            "{err}"
        );
    }

    #[test]
    fn artifacts_of_a_loop_inside_a_loop_cannot_be_collected() {
        let err = build_error(|| {
            parallel_for(vec![1.0, 2.0]).each(|_| {
                let models = parallel_for(vec![0.1, 0.2]).each(trained);
                TaskBuilder::new(pick())
                    .artifact_list("models", models)
                    .add();
            });
        });
        assert!(
            err.contains("pipeline 'p/for-each', task 'for-each', output 'output': collecting artifacts made in a loop that is itself inside a loop is not supported"),
            "{err}"
        );
    }

    #[test]
    fn a_loop_collects_only_artifacts_its_iterations_make() {
        let builder = PipelineBuilder::new("p");
        let data = builder.artifact_input::<Model>("data");
        let err = builder
            .build(|| {
                parallel_for(vec![1.0]).each(|_| data.clone());
            })
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("task 'for-each', output 'output': a loop collects artifacts its iterations make; this one comes from outside the loop"),
            "{err}"
        );
    }

    #[test]
    fn lists_of_artifacts_are_not_component_or_pipeline_outputs() {
        let writes_list = Arc::new(
            ComponentSpec::new("writes_list").output("all", IoType::artifact_list::<Model>()),
        );
        let mut graph = PipelineGraph::new("p");
        graph.tasks.push(Task {
            name: "writes-list".into(),
            executable: Executable::Component(writes_list),
            arguments: Vec::new(),
            after: Vec::new(),
            config: TaskConfig::default(),
            when: None,
            repeat: None,
        });
        graph.outputs.push(crate::ir::graph::PipelineOutput {
            spec: crate::ir::component::OutputSpec::new("all", IoType::artifact_list::<Model>()),
            source: ValueSource::TaskOutput {
                task: "writes-list".into(),
                output: "all".into(),
            },
        });
        let errors = errors_of(&graph);
        assert!(
            errors.iter().any(|e| e.contains(
                "component 'writes_list', output 'all': a component writes single artifacts"
            )),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e
                .contains("output 'all': a pipeline cannot return a collected list of artifacts")),
            "{errors:?}"
        );
    }
}
