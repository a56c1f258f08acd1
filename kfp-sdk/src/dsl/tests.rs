//! Tests of the pipeline builder.
use super::*;
use crate::param::ParamType;

fn add() -> Arc<ComponentSpec> {
    let d = || IoType::Parameter(ParamType::Double);
    Arc::new(
        ComponentSpec::new("add")
            .input("x", d())
            .input("y", d())
            .output("sum", d()),
    )
}

#[test]
fn explicit_names_win_and_generated_ones_avoid_them() {
    let graph = PipelineBuilder::new("p")
        .build(|| {
            let first = TaskBuilder::new(add())
                .param("x", 1.0)
                .param("y", 2.0)
                .add();
            TaskRef::new(first.clone(), ()).name("add-2");
            TaskBuilder::new(add())
                .param("x", first.output::<ParamRef<f64>>("sum"))
                .param("y", 2.0)
                .add();
        })
        .unwrap();
    let names: Vec<&str> = graph.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["add-2", "add"]);
    assert_eq!(
        graph.tasks[1].argument("x"),
        Some(&ValueSource::TaskOutput {
            task: "add-2".into(),
            output: "sum".into()
        })
    );
}

#[test]
fn values_from_another_pipeline_are_rejected() {
    let other = PipelineBuilder::new("other");
    let foreign: ParamRef<f64> = other.input("x");
    let err = PipelineBuilder::new("p")
        .build(|| {
            TaskBuilder::new(add())
                .param("x", foreign)
                .param("y", 2.0)
                .add();
        })
        .unwrap_err();
    assert!(
        err.to_string().contains("belongs to another pipeline"),
        "{err}"
    );
}

#[test]
fn non_finite_constants_are_rejected() {
    let err = PipelineBuilder::new("p")
        .build(|| {
            TaskBuilder::new(add())
                .param("x", f64::NAN)
                .param("y", 2.0)
                .add();
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("task 'add', input 'x': a float constant must be finite"),
        "{err}"
    );
}

#[test]
fn tuples_of_handles_are_outputs_named_by_position() {
    let train = Arc::new(
        ComponentSpec::new("train")
            .output("model", IoType::artifact::<crate::Model>())
            .output("score", IoType::Parameter(ParamType::Double)),
    );
    let inner = Arc::new(
        PipelineBuilder::new("inner")
            .build(|| {
                let task = TaskBuilder::new(train.clone()).add();
                (
                    task.output::<ParamRef<f64>>("score"),
                    task.output::<ArtifactRef<crate::Model>>("model"),
                )
            })
            .unwrap(),
    );
    let names: Vec<&str> = inner.outputs.iter().map(|o| o.spec.name.as_str()).collect();
    assert_eq!(names, ["output-0", "output-1"]);
    assert_eq!(inner.outputs[1].spec.ty, IoType::artifact::<crate::Model>());
    let outer = PipelineBuilder::new("outer")
        .build(|| {
            let step = TaskBuilder::pipeline(inner.clone()).add();
            let (score, model) = <(ParamRef<f64>, ArtifactRef<crate::Model>)>::refs(&step);
            let _ = score;
            model
        })
        .unwrap();
    assert_eq!(
        outer.outputs[0].source,
        ValueSource::TaskOutput {
            task: "inner".into(),
            output: "output-1".into()
        }
    );
}

#[test]
#[should_panic(expected = "created outside a pipeline")]
fn tasks_need_a_pipeline() {
    TaskBuilder::new(add()).add();
}
