//! Control flow through the DSL: what the graph and the Argo YAML say.
use kfp_sdk::argo::{self, ArgoOptions};
use kfp_sdk::control::{Condition, LoopItems};
use kfp_sdk::dsl::{on_exit, parallel_for, when, workflow_status};
use kfp_sdk::graph::{Executable, ValueSource};
use kfp_sdk::prelude::*;

#[component]
fn square(x: i64) -> i64 {
    x * x
}

#[component]
fn total(values: Vec<i64>) -> i64 {
    values.iter().sum()
}

#[component]
fn note(text: String) {
    let _ = text;
}

fn yaml(graph: &kfp_sdk::PipelineGraph) -> String {
    let workflow = argo::compile(graph, &ArgoOptions::new("img:1", "/bin/x")).unwrap();
    argo::to_yaml(&workflow).unwrap()
}

/// Squares `0..N` and sums.
#[pipeline]
fn ten() -> ParamRef<i64> {
    let squares = parallel_for(0..10).each(|x| square::task(x).outputs.output.clone());
    total::task(squares).outputs.output.clone()
}

/// Squares `0..N` and sums.
#[pipeline(name = "ten")]
fn ten_thousand() -> ParamRef<i64> {
    let squares = parallel_for(0..10_000).each(|x| square::task(x).outputs.output.clone());
    total::task(squares).outputs.output.clone()
}

#[test]
fn ten_thousand_iterations_take_as_much_yaml_as_ten() {
    let small = yaml(&ten::graph().unwrap());
    let big = yaml(&ten_thousand::graph().unwrap());
    assert_eq!(
        big.len(),
        small.len() + 3,
        "only the count differs: 10 vs 10000"
    );
    assert!(
        big.contains("withSequence:\n          count: 10000\n          start: 0"),
        "{big}"
    );
}

/// Loops inside loops read the outer item.
#[pipeline]
fn nested(#[default(vec![1, 2])] outer: Vec<i64>, #[default("tag")] label: String) {
    parallel_for(&outer).each(|a| {
        parallel_for(vec![10i64, 20]).each(|b| {
            square::task(&b);
            square::task(&a);
            note::task(&label);
        });
    });
}

#[test]
fn values_from_enclosing_scopes_become_group_inputs() {
    let graph = nested::graph().unwrap();
    let outer = &graph.tasks[0];
    assert!(
        matches!(&outer.repeat.as_ref().unwrap().items, LoopItems::Param(ValueSource::PipelineInput(p)) if p == "outer")
    );
    let Executable::Pipeline(outer_body) = &outer.executable else {
        panic!()
    };
    let names: Vec<&str> = outer_body.inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        ["item", "label"],
        "the item, then the captured parameter"
    );
    let inner = &outer_body.tasks[0];
    let Executable::Pipeline(inner_body) = &inner.executable else {
        panic!()
    };
    let inner_inputs: Vec<&str> = inner_body.inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        inner_inputs,
        ["item", "item-2", "label"],
        "its item, the outer item, the label"
    );
    assert_eq!(
        inner.argument("item-2"),
        Some(&ValueSource::PipelineInput("item".into())),
        "the outer item is passed in"
    );
    let text = yaml(&graph);
    assert!(
        text.contains("withItems:\n        - 10\n        - 20"),
        "{text}"
    );
}

/// Three branches.
#[pipeline]
fn branches(#[default(5)] x: i64) {
    when(x.lt(0i64), || {
        note::task("negative");
    })
    .elif(x.eq(0i64), || {
        note::task("zero");
    })
    .otherwise(|| {
        note::task("positive");
    });
}

#[test]
fn elif_and_otherwise_exclude_earlier_branches() {
    let graph = branches::graph().unwrap();
    let conditions: Vec<&Condition> = graph
        .tasks
        .iter()
        .map(|t| t.when.as_ref().unwrap())
        .collect();
    // Each operand reads x or a constant; evaluate with the constants' own text.
    let eval = |c: &Condition, x: &str| {
        let x = x.to_owned();
        c.evaluate(&|o| match &o.source {
            ValueSource::Constant(v) => Some(v.to_string()),
            _ => Some(x.clone()),
        })
        .unwrap()
    };
    for (x, expected) in [
        ("-3", [true, false, false]),
        ("0", [false, true, false]),
        ("7", [false, false, true]),
    ] {
        let got: Vec<bool> = conditions.iter().map(|c| eval(c, x)).collect();
        assert_eq!(got, expected, "x = {x}");
    }
    let text = yaml(&graph);
    // One expression tag per branch, the value read as a number (argo/condition.rs).
    assert!(
        text.contains("when: \"{{=asFloat(inputs.parameters['x']) < 0}}\""),
        "{text}"
    );
    let x = "asFloat(inputs.parameters['x'])";
    let workflow: kfp_sdk::argo::model::Workflow = serde_saphyr::from_str(&text).unwrap();
    let dag = workflow.spec.templates.as_ref().unwrap()[0]
        .dag
        .as_ref()
        .unwrap();
    let whens: Vec<String> = dag.tasks.iter().map(|t| t.when.clone().unwrap()).collect();
    assert_eq!(
        whens,
        [
            format!("{{{{={x} < 0}}}}"),
            format!("{{{{=(!({x} < 0)) && ({x} == 0)}}}}"),
            format!("{{{{=!(({x} < 0) || ({x} == 0))}}}}"),
        ]
    );
}

#[component]
fn produce() -> String {
    "x".into()
}

/// An exit handler that reads a task output: not allowed.
#[pipeline]
fn bad_exit() {
    let made = produce::task();
    on_exit(move || {
        note::task(&made.outputs.output);
    });
}

/// Reading the run status outside an exit handler: not allowed.
#[pipeline]
fn status_outside_exit() {
    note::task(workflow_status());
}

#[test]
fn misuse_that_only_building_can_see_is_reported() {
    let err = bad_exit::graph().unwrap_err().to_string();
    assert!(
        err.contains("an exit handler runs whatever happened, so it cannot read task outputs"),
        "{err}"
    );
    let err = status_outside_exit::graph().unwrap_err().to_string();
    assert!(
        err.contains("task 'note', arguments: reads the run status"),
        "{err}"
    );
}
