//! One test per rule: a resource that breaks it, and the message.
use super::*;

/// A valid workflow: a DAG of two tasks of one container template.
const BASE: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: lint-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: p, value: "1"}]}
  templates:
  - name: main
    inputs: {parameters: [{name: p}]}
    dag:
      tasks:
      - name: a
        template: step
        arguments: {parameters: [{name: x, value: "{{inputs.parameters.p}}"}]}
      - name: b
        template: step
        depends: a
        arguments: {parameters: [{name: x, value: "{{tasks.a.outputs.parameters.y}}"}]}
  - name: step
    inputs: {parameters: [{name: x}]}
    outputs: {parameters: [{name: y, valueFrom: {path: /tmp/y}}]}
    container: {image: alpine, command: [sh, -c, "echo {{inputs.parameters.x}} > /tmp/y"]}
"#;

fn parse(yaml: &str) -> model::Workflow {
    serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn messages(result: Result<(), LintErrors>) -> Vec<String> {
    match result {
        Ok(()) => Vec::new(),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

/// The messages for BASE changed by `edit`.
fn lint(edit: impl FnOnce(&mut model::Workflow)) -> Vec<String> {
    let mut workflow = parse(BASE);
    edit(&mut workflow);
    messages(check_workflow(&workflow))
}

/// The messages for a workflow with these templates (entrypoint `main`).
fn lint_templates(templates: &str) -> Vec<String> {
    let yaml = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {{generateName: t-}}\nspec:\n  entrypoint: main\n  templates:\n{}",
        indent(templates, "  ")
    );
    messages(check_workflow(&parse(&yaml)))
}

fn indent(text: &str, by: &str) -> String {
    text.trim_matches('\n')
        .lines()
        .map(|l| format!("{by}{l}\n"))
        .collect()
}

#[track_caller]
fn assert_has(messages: &[String], expected: &str) {
    assert!(
        messages.iter().any(|m| m == expected),
        "expected `{expected}` among:\n{}",
        messages.join("\n")
    );
}

fn templates(workflow: &mut model::Workflow) -> &mut Vec<model::Template> {
    workflow.spec.templates.as_mut().unwrap()
}

fn dag(workflow: &mut model::Workflow) -> &mut Vec<model::DAGTask> {
    &mut templates(workflow)[0].dag.as_mut().unwrap().tasks
}

fn step(workflow: &mut model::Workflow) -> &mut model::Template {
    &mut templates(workflow)[1]
}

#[test]
fn the_base_workflow_is_valid() {
    assert_eq!(lint(|_| {}), Vec::<String>::new());
}

#[test]
fn object_names() {
    let long = "x".repeat(64);
    let m = lint(|w| w.metadata.name = Some(long.clone()));
    assert_has(
        &m,
        &format!(
            "metadata.name: workflow name \"{long}\" must not be more than 63 characters long (currently 64)"
        ),
    );
    let m = lint(|w| w.metadata.name = Some("Upper".into()));
    assert_has(
        &m,
        "metadata.name: 'Upper' is not a valid Kubernetes object name (lowercase letters, digits, '-' and '.')",
    );
    let m = lint(|w| w.metadata.generate_name = None);
    assert_has(&m, "metadata: name or generateName is required");
    let m = lint(|w| w.metadata.generate_name = Some("Bad_".into()));
    assert_has(
        &m,
        "metadata.generateName: 'Bad_' is not a valid Kubernetes name prefix",
    );
    let m = lint(|w| w.metadata.namespace = Some("my.ns".into()));
    assert_has(
        &m,
        "metadata.namespace: 'my.ns' is not a valid namespace (a DNS label)",
    );
    let m = lint(|w| {
        w.metadata.labels = Some([("team/".to_owned(), "x".to_owned())].into());
    });
    assert!(
        m[0].starts_with("metadata.labels.team/: label key 'team/' is invalid"),
        "{m:?}"
    );
}

#[test]
fn entrypoint_is_required_and_must_exist() {
    let m = lint(|w| w.spec.entrypoint = None);
    assert_has(&m, "spec.entrypoint: spec.entrypoint is required");
    let m = lint(|w| w.spec.entrypoint = Some("nope".into()));
    assert_has(&m, "spec.entrypoint: template name 'nope' undefined");
}

#[test]
fn template_names_are_present_valid_and_unique() {
    let m = lint(|w| step(w).name = Some("main".into()));
    assert_has(&m, "spec.templates[1].name: 'main' is not unique");
    let m = lint(|w| step(w).name = Some("a_b".into()));
    assert!(m.iter().any(|e| e.starts_with("spec.templates[1].name: 'a_b' is invalid: name must consist of alpha-numeric characters or '-'")), "{m:?}");
    let m = lint(|w| step(w).name = None);
    assert_has(&m, "spec.templates[1].name: is required");
    let long = "a".repeat(129);
    let m = lint(|w| step(w).name = Some(long.clone()));
    assert!(
        m.iter()
            .any(|e| e.contains("must be no more than 128 characters")),
        "{m:?}"
    );
}

#[test]
fn a_template_has_exactly_one_type() {
    let m = lint(|w| step(w).container = None);
    assert_has(
        &m,
        "templates.step: template type unspecified. choose one of: container, containerSet, steps, script, resource, dag, suspend, template, template ref",
    );
    let m = lint(|w| step(w).suspend = Some(model::SuspendTemplate::default()));
    assert_has(
        &m,
        "templates.step: multiple template types specified. choose one of: container, containerSet, steps, script, resource, dag, suspend, template, template ref",
    );
}

#[test]
fn images_may_not_be_empty() {
    let m = lint(|w| step(w).container.as_mut().unwrap().image = None);
    assert_has(&m, "templates.step.container.image: may not be empty");
    // Unless templateDefaults gives one.
    let m = lint(|w| {
        step(w).container.as_mut().unwrap().image = None;
        w.spec.template_defaults = Some(Box::new(model::Template {
            container: Some(corev1::Container {
                image: Some("busybox".into()),
                ..Default::default()
            }),
            ..Default::default()
        }));
    });
    assert_eq!(m, Vec::<String>::new());
    let m = lint_templates(
        r#"
- name: main
  script: {image: "", source: "print(1)"}
"#,
    );
    assert_has(&m, "templates.main.script.image: may not be empty");
}

#[test]
fn a_dag_has_tasks_with_valid_unique_names() {
    let m = lint(|w| dag(w).clear());
    assert_has(&m, "templates.main: must have at least one task");
    let m = lint(|w| dag(w)[1].name = "a".into());
    assert_has(&m, "templates.main.tasks[1].name: 'a' is not unique");
    let m = lint(|w| dag(w)[1].name = "b.c".into());
    assert!(
        m.iter()
            .any(|e| e.starts_with("templates.main.tasks[1].name: 'b.c' is invalid")),
        "{m:?}"
    );
}

#[test]
fn dependencies_exist() {
    let m = lint(|w| dag(w)[1].depends = Some("a && c".into()));
    assert_has(&m, "templates.main.tasks.b: dependency 'c' not defined");
    let m = lint(|w| {
        dag(w)[1].depends = None;
        dag(w)[1].dependencies = Some(vec!["z".into()]);
        dag(w)[1].arguments = None;
    });
    assert_has(&m, "templates.main.tasks.b: dependency 'z' not defined");
}

#[test]
fn depends_expressions_name_results() {
    // Results, negations and groups are understood.
    let m = lint(|w| dag(w)[1].depends = Some("(a.Succeeded || a.Skipped) && !a.Failed".into()));
    assert_eq!(m, Vec::<String>::new());
    let m = lint(|w| dag(w)[1].depends = Some("a.Finished".into()));
    assert_has(
        &m,
        "templates.main.tasks.b: task result 'Finished' for task 'a' is invalid",
    );
    let m = lint(|w| dag(w)[1].depends = Some("a.AnySucceeded".into()));
    assert_has(
        &m,
        "templates.main.tasks.b: dependency 'a' uses an items-based condition such as .AnySucceeded or .AllFailed but does not contain any items",
    );
    // `tasks.a.Succeeded` is not Argo's syntax: `tasks` reads as a task name.
    let m = lint(|w| dag(w)[1].depends = Some("tasks.a.Succeeded".into()));
    assert_has(&m, "templates.main.tasks.b: dependency 'tasks' not defined");
}

#[test]
fn dags_have_no_cycles() {
    let m = lint(|w| {
        dag(w)[0].depends = Some("b".into());
        dag(w)[0].arguments = Some(model::Arguments {
            parameters: Some(vec![model::Parameter {
                name: "x".into(),
                value: Some("1".into()),
                ..Default::default()
            }]),
            artifacts: None,
        });
    });
    assert_has(
        &m,
        "templates.main.tasks: dependency cycle detected: a->b->a",
    );
}

#[test]
fn task_names_may_not_start_with_a_digit_when_depends_is_used() {
    let m = lint(|w| {
        dag(w)[0].name = "1a".into();
        dag(w)[1].depends = Some("1a".into());
        dag(w)[1]
            .arguments
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .value = Some("{{tasks.1a.outputs.parameters.y}}".into());
    });
    assert_has(
        &m,
        "templates.main.tasks.1a: name cannot begin with a digit when using either 'depends' or 'dependencies'",
    );
}

#[test]
fn depends_and_dependencies_are_exclusive_and_continue_on_needs_dependencies() {
    let m = lint(|w| {
        dag(w)[0].dependencies = Some(vec![]);
        let mut c = dag(w)[1].clone();
        c.name = "c".into();
        c.depends = None;
        c.dependencies = Some(vec!["a".into()]);
        dag(w).push(c);
    });
    assert_has(
        &m,
        "templates.main: cannot use both 'depends' and 'dependencies' in the same DAG template",
    );
    let m = lint(|w| {
        dag(w)[0].continue_on = Some(model::ContinueOn {
            failed: Some(true),
            error: None,
        });
    });
    assert_has(
        &m,
        "templates.main.tasks.a: cannot use 'continueOn' when using 'depends'. Instead use 'dep-task.Failed'/'dep-task.Errored'",
    );
}

#[test]
fn tasks_name_existing_templates() {
    let m = lint(|w| dag(w)[0].template = Some("nope".into()));
    assert_has(&m, "templates.main.tasks.a: template name 'nope' undefined");
    let m = lint(|w| {
        dag(w)[0].template_ref = Some(model::TemplateRef {
            name: Some("lib".into()),
            template: Some("x".into()),
            cluster_scope: None,
        });
    });
    assert_has(
        &m,
        "templates.main.tasks.a: template name cannot be specified with templateRef",
    );
    let m = lint(|w| dag(w)[0].template = None);
    assert_has(
        &m,
        "templates.main.tasks.a: a template, templateRef or inline template is required",
    );
}

#[test]
fn dag_targets_are_tasks() {
    let m = lint(|w| templates(w)[0].dag.as_mut().unwrap().target = Some("a z".into()));
    assert_has(&m, "templates.main.targets: target 'z' is not defined");
}

#[test]
fn every_variable_resolves() {
    let m = lint(|w| {
        dag(w)[0]
            .arguments
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .value = Some("{{inputs.parameters.q}}".into());
    });
    assert_has(
        &m,
        "templates.main.tasks.a: failed to resolve {{inputs.parameters.q}}",
    );
    let m = lint(|w| {
        dag(w)[1]
            .arguments
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .value = Some("{{tasks.a.outputs.parameters.z}}".into());
    });
    assert_has(
        &m,
        "templates.main.tasks.b: failed to resolve {{tasks.a.outputs.parameters.z}}",
    );
    let m = lint(|w| {
        dag(w)[0]
            .arguments
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .value = Some("{{workflow.parameters.nope}}".into());
    });
    assert_has(
        &m,
        "templates.main.tasks.a: failed to resolve {{workflow.parameters.nope}}",
    );
    let m = lint(|w| {
        step(w).container.as_mut().unwrap().args = Some(vec!["{{inputs.parameters.y}}".into()]);
    });
    assert_has(
        &m,
        "templates.step: failed to resolve {{inputs.parameters.y}}",
    );
    // Globals, expressions and variables of other tools are fine.
    let m = lint(|w| {
        step(w).container.as_mut().unwrap().args = Some(vec![
            "{{workflow.name}} {{workflow.uid}} {{workflow.parameters.p}} {{pod.name}}".into(),
            "{{=sprig.sha256sum(inputs.parameters['x'])}} {{ .Values.helm }} {{workflow.creationTimestamp.Y}}".into(),
            "{{inputs.parameters}} {{outputs.parameters.y.path}} {{node.name}}".into(),
        ]);
    });
    assert_eq!(m, Vec::<String>::new());
}

#[test]
fn unclosed_tags_are_reported() {
    let m = lint(|w| {
        step(w).container.as_mut().unwrap().args = Some(vec!["{{inputs.parameters.x".into()]);
    });
    assert_has(
        &m,
        "templates.step: cannot find end tag \"}}\" in \"{{inputs.parameters.x\"",
    );
}

#[test]
fn a_task_reads_only_tasks_it_depends_on() {
    let m = lint(|w| dag(w)[1].depends = None);
    assert_has(
        &m,
        "templates.main.tasks.b: missing dependency 'a' for {{tasks.a.outputs.parameters.y}}",
    );
    // In a condition too.
    let m = lint(|w| {
        dag(w)[1].depends = None;
        dag(w)[1]
            .arguments
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .value = Some("1".into());
        dag(w)[1].when = Some("{{tasks.a.outputs.parameters.y}} == 'heads'".into());
    });
    assert_has(
        &m,
        "templates.main.tasks.b: missing dependency 'a' for {{tasks.a.outputs.parameters.y}}",
    );
}

#[test]
fn conditions_loops_and_exit_handlers_use_their_variables() {
    let m = lint(|w| {
        let b = &mut dag(w)[1];
        b.depends = Some("a.Succeeded || a.Failed".into());
        b.when = Some("'{{tasks.a.outputs.parameters.y}}' == 'heads' && '{{tasks.a.status}}' == 'Succeeded' && {{workflow.status}} == Running".into());
        b.with_param = Some("{{tasks.a.outputs.parameters.y}}".into());
        b.arguments.as_mut().unwrap().parameters.as_mut().unwrap()[0].value =
            Some("{{item}} {{item.name}} {{tasks.a.outputs.result}} {{tasks.a.exitCode}}".into());
    });
    assert_eq!(m, Vec::<String>::new());
    // withItems of objects define their keys only.
    let m = lint(|w| {
        let b = &mut dag(w)[1];
        b.with_items = Some(vec![model::Item(serde_json::json!({"name": "x"}))]);
        b.arguments.as_mut().unwrap().parameters.as_mut().unwrap()[0].value =
            Some("{{item.name}} {{item.size}}".into());
    });
    assert_eq!(
        m,
        ["templates.main.tasks.b: failed to resolve {{item.size}}"]
    );
    // `{{item}}` outside a loop.
    let m = lint(|w| {
        dag(w)[0]
            .arguments
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .value = Some("{{item}}".into());
    });
    assert_has(
        &m,
        "templates.main.tasks.a: {{item}} is only defined in a task or step with withItems, withParam or withSequence",
    );
    // A looped task's outputs are collected lists.
    let m = lint(|w| {
        dag(w)[0].with_items = Some(vec![model::Item(serde_json::json!(1))]);
        dag(w)[0]
            .arguments
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .value = Some("{{item}}".into());
        templates(w)[0].outputs = Some(model::Outputs {
            parameters: Some(vec![model::Parameter {
                name: "all".into(),
                value_from: Some(model::ValueFrom {
                    parameter: Some("{{tasks.a.outputs.parameters}}".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        });
    });
    assert_eq!(m, Vec::<String>::new());
    // `workflow.failures` needs an exit handler.
    let m = lint(|w| {
        step(w).container.as_mut().unwrap().args = Some(vec!["{{workflow.failures}}".into()]);
    });
    assert_has(
        &m,
        "templates.step: failed to resolve {{workflow.failures}}",
    );
    let m = lint(|w| {
        step(w).container.as_mut().unwrap().args = Some(vec!["{{workflow.failures}}".into()]);
        w.spec.on_exit = Some("step".into());
    });
    assert!(!m.iter().any(|e| e.contains("workflow.failures")), "{m:?}");
}

#[test]
fn a_task_status_needs_the_task_upstream() {
    let m = lint(|w| {
        dag(w)[1].when = Some("{{tasks.b.status}} == Succeeded".into());
    });
    assert_has(
        &m,
        "templates.main.tasks.b: failed to resolve {{tasks.b.status}}",
    );
}

#[test]
fn inputs_are_supplied() {
    let m = lint(|w| dag(w)[0].arguments = None);
    assert_has(
        &m,
        "templates.main.tasks.a: inputs.parameters.x was not supplied",
    );
    let m = lint(|w| {
        step(w).inputs.as_mut().unwrap().artifacts = Some(vec![model::Artifact {
            name: "data".into(),
            path: Some("/data".into()),
            ..Default::default()
        }]);
    });
    assert_has(
        &m,
        "templates.main.tasks.a: inputs.artifacts.data was not supplied",
    );
    // The entrypoint's inputs come from spec.arguments.
    let m = lint(|w| w.spec.arguments = None);
    assert_has(&m, "templates.main: inputs.parameters.p was not supplied");
    // Defaults and optional artifacts need nothing.
    let m = lint(|w| {
        dag(w)[0].arguments = None;
        step(w)
            .inputs
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .default = Some("0".into());
    });
    assert_eq!(m, Vec::<String>::new());
}

#[test]
fn arguments_have_values_and_valid_names() {
    let m = lint(|w| {
        dag(w)[0]
            .arguments
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .value = None;
    });
    assert_has(
        &m,
        "templates.main.tasks.a.arguments.parameters.x: value or valueFrom is required",
    );
    let m = lint(|w| {
        w.spec
            .arguments
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .name = "p q".into();
    });
    assert!(m.iter().any(|e| e.starts_with("spec.arguments.parameters[0].name: 'p q' is invalid: Parameter/Artifact name must consist of alpha-numeric characters, '_' or '-'")), "{m:?}");
    let m = lint(|w| {
        dag(w)[0].arguments.as_mut().unwrap().artifacts = Some(vec![model::Artifact {
            name: "data".into(),
            ..Default::default()
        }]);
    });
    assert_has(
        &m,
        "templates.main.tasks.a.arguments.artifacts.data: from, artifact location, or key is required",
    );
    let m = lint(|w| {
        let p = &mut w
            .spec
            .arguments
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0];
        p.r#enum = Some(vec!["2".into(), "3".into()]);
    });
    assert_has(
        &m,
        "spec.arguments.parameters.p: value should be present in the enum list",
    );
}

#[test]
fn outputs_say_where_their_value_comes_from() {
    let m = lint(|w| {
        step(w)
            .outputs
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .value_from = Some(model::ValueFrom {
            expression: Some("1".into()),
            ..Default::default()
        });
    });
    assert_has(
        &m,
        "templates.step.outputs.parameters.y: path must be specified for Container templates",
    );
    let m = lint(|w| {
        step(w)
            .outputs
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .value_from = None;
    });
    assert_has(
        &m,
        "templates.step.outputs.parameters.y: does not have valueFrom or value specified",
    );
    let m = lint(|w| {
        step(w)
            .outputs
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .value = Some("1".into());
    });
    assert_has(
        &m,
        "templates.step.outputs.parameters.y: has both valueFrom and value specified, choose one",
    );
    let m = lint(|w| {
        let from = step(w)
            .outputs
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .value_from
            .as_mut()
            .unwrap();
        from.json_path = Some("{.x}".into());
    });
    assert_has(
        &m,
        "templates.step.outputs.parameters.y: multiple valueFrom types specified. choose one of: path, jqFilter, jsonPath, parameter, raw",
    );
    let m = lint(|w| {
        templates(w)[0].outputs = Some(model::Outputs {
            parameters: Some(vec![model::Parameter {
                name: "out".into(),
                value_from: Some(model::ValueFrom {
                    path: Some("/tmp/out".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            artifacts: Some(vec![model::Artifact {
                name: "art".into(),
                path: Some("/tmp/art".into()),
                ..Default::default()
            }]),
            ..Default::default()
        });
    });
    assert_has(
        &m,
        "templates.main.outputs.parameters.out: parameter or expression must be specified for DAG templates",
    );
    assert_has(
        &m,
        "templates.main.outputs.artifacts.art: path only valid in container/script templates",
    );
    let m = lint(|w| {
        templates(w)[0].outputs = Some(model::Outputs {
            parameters: Some(vec![model::Parameter {
                name: "out".into(),
                value_from: Some(model::ValueFrom {
                    parameter: Some("{{tasks.b.outputs.parameters.nope}}".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        });
    });
    assert_has(
        &m,
        "templates.main.outputs: failed to resolve {{tasks.b.outputs.parameters.nope}}",
    );
}

#[test]
fn input_artifacts_have_no_from_and_paths_only_in_leaves() {
    let m = lint(|w| {
        templates(w)[0].inputs.as_mut().unwrap().artifacts = Some(vec![model::Artifact {
            name: "data".into(),
            path: Some("/data".into()),
            from: Some("{{tasks.a.outputs.artifacts.x}}".into()),
            ..Default::default()
        }]);
    });
    assert_has(
        &m,
        "templates.main.inputs.artifacts.data: from not valid in inputs",
    );
    assert_has(
        &m,
        "templates.main.inputs.artifacts.data: path only valid in container/script templates",
    );
}

#[test]
fn retry_strategies_use_known_policies_and_durations() {
    let m = lint(|w| {
        step(w).retry_strategy = Some(model::RetryStrategy {
            retry_policy: Some("Sometimes".into()),
            limit: Some(IntOrString::Int(-1)),
            backoff: Some(model::Backoff {
                duration: Some("1d".into()),
                cap: Some("5m".into()),
                max_duration: Some("10".into()),
                factor: Some(IntOrString::Int(0)),
            }),
            ..Default::default()
        });
    });
    assert_has(
        &m,
        "templates.step.retryStrategy.retryPolicy: Sometimes is not a valid RetryPolicy",
    );
    assert_has(
        &m,
        "templates.step.retryStrategy.limit: must not be negative",
    );
    assert_has(
        &m,
        "templates.step.retryStrategy.backoff.duration: time: unknown unit \"d\" in duration \"1d\"",
    );
    assert_has(
        &m,
        "templates.step.retryStrategy.backoff.factor: must be at least 1",
    );
    assert_eq!(m.len(), 4, "{m:?}");
}

#[test]
fn active_deadlines_are_positive_and_on_leaves() {
    let m = lint(|w| step(w).active_deadline_seconds = Some(IntOrString::Int(0)));
    assert_has(
        &m,
        "templates.step.activeDeadlineSeconds: must be a positive integer > 0 or an argo variable",
    );
    let m = lint(|w| {
        step(w).active_deadline_seconds =
            Some(IntOrString::String("{{inputs.parameters.x}}".into()))
    });
    assert_eq!(m, Vec::<String>::new());
    let m = lint(|w| templates(w)[0].active_deadline_seconds = Some(IntOrString::Int(10)));
    assert_has(
        &m,
        "templates.main.activeDeadlineSeconds: is only valid for leaf templates",
    );
    let m = lint(|w| w.spec.active_deadline_seconds = Some(0));
    assert_has(
        &m,
        "spec.activeDeadlineSeconds: must be a positive integer (0 stops a running workflow)",
    );
}

#[test]
fn parallelism_is_for_dag_and_steps_templates() {
    let m = lint(|w| step(w).parallelism = Some(2));
    assert_has(
        &m,
        "templates.step.parallelism: is only valid for steps and dag templates",
    );
    let m = lint(|w| templates(w)[0].parallelism = Some(2));
    assert_eq!(m, Vec::<String>::new());
    let m = lint(|w| w.spec.parallelism = Some(0));
    assert_has(&m, "spec.parallelism: must be at least 1");
}

#[test]
fn timeouts_are_durations_on_leaves() {
    let m = lint(|w| templates(w)[0].timeout = Some("1h".into()));
    assert_has(
        &m,
        "templates.main.timeout: DAG template doesn't support timeout field",
    );
    let m = lint(|w| step(w).timeout = Some("60".into()));
    assert_has(
        &m,
        "templates.step.timeout: has invalid duration format in timeout",
    );
}

#[test]
fn pod_gc_and_volume_claim_gc_strategies_are_known() {
    let m = lint(|w| {
        w.spec.pod_gc = Some(model::PodGC {
            strategy: Some("Foo".into()),
            ..Default::default()
        });
        w.spec.volume_claim_gc = Some(model::VolumeClaimGC {
            strategy: Some("Never".into()),
        });
    });
    assert_has(
        &m,
        "spec.podGC.strategy: podGC.strategy unknown strategy 'Foo'",
    );
    assert_has(&m, "spec.volumeClaimGC.strategy: unknown strategy 'Never'");
}

#[test]
fn a_path_is_mounted_once_and_mounts_name_volumes() {
    let mount = |name: &str, path: &str| corev1::VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..Default::default()
    };
    let m = lint(|w| {
        let t = step(w);
        t.volumes = Some(vec![corev1::Volume {
            name: "data".into(),
            empty_dir: Some(Default::default()),
            ..Default::default()
        }]);
        t.container.as_mut().unwrap().volume_mounts = Some(vec![
            mount("data", "/data"),
            mount("data", "/data"),
            mount("gone", "/in/a"),
        ]);
        t.inputs.as_mut().unwrap().artifacts = Some(vec![model::Artifact {
            name: "a".into(),
            path: Some("/in/a".into()),
            optional: Some(true),
            ..Default::default()
        }]);
    });
    assert_has(
        &m,
        "templates.step.container.volumeMounts[1].mountPath: '/data' already mounted in container.volumeMounts.data",
    );
    assert_has(
        &m,
        "templates.step.container.volumeMounts[2].name: 'gone' is not a volume of the template or the workflow",
    );
    assert_has(
        &m,
        "templates.step.inputs.artifacts[0].path: '/in/a' already mounted in container.volumeMounts.gone",
    );
}

#[test]
fn argo_container_names_are_reserved() {
    let m = lint(|w| {
        let t = step(w);
        t.container.as_mut().unwrap().name = "wait".into();
        t.sidecars = Some(vec![model::UserContainer {
            name: "artifact-plugin-x".into(),
            ..Default::default()
        }]);
        t.init_containers = Some(vec![model::UserContainer::default()]);
    });
    assert_has(
        &m,
        "templates.step.container.name: \"wait\" is a reserved Argo container name",
    );
    assert_has(
        &m,
        "templates.step.sidecars: \"artifact-plugin-x\" is a reserved Argo container name",
    );
    assert_has(
        &m,
        "templates.step.initContainers: initContainers must all have container name",
    );
}

#[test]
fn one_kind_of_loop_per_task() {
    let m = lint(|w| {
        dag(w)[0].with_items = Some(vec![model::Item(serde_json::json!(1))]);
        dag(w)[0].with_param = Some("[1]".into());
    });
    assert_has(
        &m,
        "templates.main.tasks.a: only one of withItems, withParam, withSequence can be specified",
    );
    let m = lint(|w| {
        dag(w)[0].with_sequence = Some(model::Sequence {
            count: Some(IntOrString::Int(2)),
            end: Some(IntOrString::Int(3)),
            ..Default::default()
        });
    });
    assert_has(
        &m,
        "templates.main.tasks.a: only one of count or end can be defined in withSequence",
    );
}

#[test]
fn memoization_keys_and_ages_are_usable() {
    let memoize = |key: &str, age: &str, cache: &str| model::Memoize {
        key: key.into(),
        max_age: age.into(),
        cache: model::Cache {
            config_map: corev1::LocalObjectReference { name: cache.into() },
        },
    };
    let m = lint(|w| step(w).memoize = Some(memoize("k-{{inputs.parameters.x}}", "24h", "cache")));
    assert_eq!(m, Vec::<String>::new());
    let m = lint(|w| step(w).memoize = Some(memoize("k_{{inputs.parameters.x}}", "1d", "Cache")));
    assert_has(
        &m,
        "templates.step.memoize.maxAge: time: unknown unit \"d\" in duration \"1d\"",
    );
    assert_has(
        &m,
        "templates.step.memoize.cache.configMap.name: 'Cache' is not a valid ConfigMap name",
    );
    assert_has(
        &m,
        "templates.step.memoize.key: 'k_{{inputs.parameters.x}}' cannot be a cache key: outside {{...}} only letters, digits and '-' are allowed, not starting with '-'",
    );
}

#[test]
fn metrics_have_valid_names_and_help() {
    let m = lint(|w| {
        step(w).metrics = Some(model::Metrics {
            prometheus: vec![model::Prometheus {
                name: "my-metric".into(),
                help: String::new(),
                ..Default::default()
            }],
        });
    });
    assert_has(
        &m,
        "templates.step.metrics.prometheus[0]: metric name 'my-metric' is invalid. Metric names must contain alphanumeric characters or '_'",
    );
    assert_has(
        &m,
        "templates.step.metrics.prometheus[0]: metric 'my-metric' must contain a help string under 'help: ' field",
    );
}

#[test]
fn hooks_and_exit_handlers_exist() {
    let hook = |template: &str, expression: Option<&str>| model::LifecycleHook {
        template: Some(template.into()),
        expression: expression.map(Into::into),
        arguments: Some(model::Arguments {
            parameters: Some(vec![model::Parameter {
                name: "x".into(),
                value: Some("{{workflow.status}} {{workflow.failures}}".into()),
                ..Default::default()
            }]),
            artifacts: None,
        }),
        ..Default::default()
    };
    let m = lint(|w| {
        w.spec.hooks = Some([("exit".to_owned(), hook("step", None))].into());
    });
    assert_eq!(m, Vec::<String>::new());
    let m = lint(|w| {
        w.spec.hooks = Some([("running".to_owned(), hook("gone", None))].into());
        w.spec.on_exit = Some("also-gone".into());
    });
    assert_has(&m, "hooks.running: Expression required");
    assert_has(&m, "hooks.running: template name 'gone' undefined");
    assert_has(&m, "spec.onExit: template name 'also-gone' undefined");
}

#[test]
fn resource_templates_have_actions_and_yaml_manifests() {
    let m = lint_templates(
        r#"
- name: main
  resource: {action: explode, manifest: "a: [unclosed"}
"#,
    );
    assert_has(
        &m,
        "templates.main.resource.action: must be one of: get, create, apply, delete, replace, patch",
    );
    assert_has(&m, "templates.main.resource.manifest: must be a valid yaml");
}

#[test]
fn steps_templates_are_checked_like_dags() {
    let m = lint_templates(
        r#"
- name: main
  steps:
  - - {name: first, template: leaf}
  - - {name: second, template: leaf, arguments: {parameters: [{name: x, value: "{{steps.first.outputs.parameters.y}} {{steps.third.outputs.result}}"}]}}
    - {name: first, template: nope}
- name: leaf
  inputs: {parameters: [{name: x, default: "0"}]}
  outputs: {parameters: [{name: y, valueFrom: {path: /tmp/y}}]}
  container: {image: alpine}
"#,
    );
    assert_has(
        &m,
        "templates.main.steps[1].second: failed to resolve {{steps.third.outputs.result}}",
    );
    assert_has(&m, "templates.main.steps[1].name: 'first' is not unique");
    assert_has(
        &m,
        "templates.main.steps[1].first: template name 'nope' undefined",
    );
    assert_eq!(m.len(), 3, "{m:?}");
}

#[test]
fn kubernetes_pod_settings_are_valid() {
    let m = lint(|w| {
        let t = step(w);
        t.node_selector = Some(
            [(
                "cloud.google.com/gke-accelerator".to_owned(),
                "nvidia tesla".to_owned(),
            )]
            .into(),
        );
        t.tolerations = Some(vec![
            corev1::Toleration {
                key: Some("gpu".into()),
                operator: Some("Exists".into()),
                value: Some("yes".into()),
                ..Default::default()
            },
            corev1::Toleration {
                key: Some("gpu".into()),
                effect: Some("NoSchedule".into()),
                toleration_seconds: Some(10),
                ..Default::default()
            },
        ]);
        t.service_account_name = Some("Runner".into());
    });
    assert!(m.iter().any(|e| e.starts_with("templates.step.nodeSelector.cloud.google.com/gke-accelerator: label value 'nvidia tesla' is invalid")), "{m:?}");
    assert_has(
        &m,
        "templates.step.tolerations[0]: value must be empty when operator is Exists",
    );
    assert_has(
        &m,
        "templates.step.tolerations[1]: effect must be NoExecute when tolerationSeconds is set",
    );
    assert_has(
        &m,
        "templates.step.serviceAccountName: 'Runner' is not a valid service account name",
    );
}

#[test]
fn volume_claim_templates_have_unique_names_and_sizes() {
    let claim = |name: &str| crate::kubernetes::ClaimTemplate::new(name, "1Gi").to_claim();
    let m = lint(|w| {
        let mut no_size = claim("b");
        no_size.spec.as_mut().unwrap().resources = None;
        w.spec.volume_claim_templates = Some(vec![claim("a"), claim("a"), claim("B"), no_size]);
    });
    assert_has(&m, "spec.volumeClaimTemplates[1].name: 'a' is not unique");
    assert!(
        m.iter().any(|e| e
            .starts_with("spec.volumeClaimTemplates[2].name: 'B' is invalid: must be a DNS label")),
        "{m:?}"
    );
    assert_has(
        &m,
        "spec.volumeClaimTemplates[3].spec.resources.requests.storage: is required",
    );
}

#[test]
fn cron_workflows() {
    let cron = |edit: &dyn Fn(&mut model::CronWorkflow)| {
        let workflow = parse(BASE);
        let mut cron = model::CronWorkflow::new(
            metav1::ObjectMeta {
                name: Some("nightly".into()),
                ..Default::default()
            },
            model::CronWorkflowSpec {
                schedules: vec!["0 3 * * *".into()],
                workflow_spec: workflow.spec,
                ..Default::default()
            },
        );
        edit(&mut cron);
        messages(check_cron_workflow(&cron))
    };
    assert_eq!(cron(&|_| {}), Vec::<String>::new());
    let long = "c".repeat(53);
    let m = cron(&|c| c.metadata.name = Some(long.clone()));
    assert_has(
        &m,
        &format!(
            "metadata.name: cron workflow name \"{long}\" must not be more than 52 characters long (currently 53)"
        ),
    );
    let m = cron(&|c| c.spec.schedules.clear());
    assert_has(
        &m,
        "spec.schedules: cron workflow must have at least one schedule",
    );
    let m = cron(&|c| c.spec.schedules = vec!["61 * * * *".into()]);
    assert_has(
        &m,
        "spec.schedules[0]: cron schedule 61 * * * * is malformed: end of range (61) above maximum (59): 61",
    );
    let m = cron(&|c| c.spec.timezone = Some("Europe/Pariss".into()));
    assert_has(
        &m,
        "spec.timezone: invalid timezone \"Europe/Pariss\": unknown time zone Europe/Pariss",
    );
    let m = cron(&|c| c.spec.concurrency_policy = Some("Sometimes".into()));
    assert_has(
        &m,
        "spec.concurrencyPolicy: 'Sometimes' is not a valid concurrencyPolicy",
    );
    let m = cron(&|c| c.spec.starting_deadline_seconds = Some(-1));
    assert_has(
        &m,
        "spec.startingDeadlineSeconds: startingDeadlineSeconds must be positive",
    );
    // Nobody passes parameters to a scheduled run.
    let m = cron(&|c| {
        c.spec
            .workflow_spec
            .arguments
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .value = None;
    });
    assert_has(
        &m,
        "spec.arguments.parameters.p: value or valueFrom is required",
    );
    // A plain workflow leaves it to `argo submit -p`.
    let m = lint(|w| {
        w.spec
            .arguments
            .as_mut()
            .unwrap()
            .parameters
            .as_mut()
            .unwrap()[0]
            .value = None;
    });
    assert_eq!(m, Vec::<String>::new());
}

#[test]
fn workflow_templates_and_the_workflows_that_use_them() {
    let workflow = parse(BASE);
    let mut template = model::WorkflowTemplate::new(
        metav1::ObjectMeta {
            name: Some("lib".into()),
            ..Default::default()
        },
        workflow.spec.clone(),
    );
    assert_eq!(
        messages(check_workflow_template(&template)),
        Vec::<String>::new()
    );
    // Entrypoint and parameter values may come from the workflow using it.
    template.spec.entrypoint = None;
    template
        .spec
        .arguments
        .as_mut()
        .unwrap()
        .parameters
        .as_mut()
        .unwrap()[0]
        .value = None;
    assert_eq!(
        messages(check_workflow_template(&template)),
        Vec::<String>::new()
    );
    template.metadata.name = None;
    template.metadata.generate_name = Some("lib-".into());
    assert_has(
        &messages(check_workflow_template(&template)),
        "metadata.name: a WorkflowTemplate needs a name",
    );
    template.metadata.name = Some("lib".into());

    let runner = |name: &str, entrypoint: Option<&str>| {
        model::Workflow::new(
            metav1::ObjectMeta {
                generate_name: Some("lib-".into()),
                ..Default::default()
            },
            model::WorkflowSpec {
                entrypoint: entrypoint.map(Into::into),
                workflow_template_ref: Some(model::WorkflowTemplateRef {
                    name: Some(name.into()),
                    cluster_scope: None,
                }),
                ..Default::default()
            },
        )
    };
    assert_eq!(
        messages(check_workflow_of_template(
            &runner("lib", Some("main")),
            &template
        )),
        Vec::<String>::new()
    );
    assert_has(
        &messages(check_workflow_of_template(&runner("lib", None), &template)),
        "spec.entrypoint: spec.entrypoint is required",
    );
    assert_has(
        &messages(check_workflow_of_template(
            &runner("other", Some("main")),
            &template,
        )),
        "spec.workflowTemplateRef: workflow template 'other' not found",
    );
    let mut with_templates = runner("lib", Some("main"));
    with_templates.spec.templates = workflow.spec.templates.clone();
    assert_has(
        &messages(check_workflow_of_template(&with_templates, &template)),
        "spec.templates: Templates is invalid field in spec if workflow referred WorkflowTemplate reference",
    );
    // On its own, such a workflow cannot be checked.
    assert_has(
        &messages(check_workflow(&runner("lib", Some("main")))),
        "spec.workflowTemplateRef: the referenced WorkflowTemplate is needed to check this workflow",
    );
}

#[test]
fn errors_render_with_the_resource_and_every_problem() {
    let mut workflow = parse(BASE);
    workflow.spec.entrypoint = Some("nope".into());
    step(&mut workflow).container.as_mut().unwrap().image = None;
    let text = check_workflow(&workflow).unwrap_err().to_string();
    assert_eq!(
        text,
        "Workflow 'lint-' would be rejected by Argo:\n  - spec.entrypoint: template name 'nope' undefined\n  - templates.step.container.image: may not be empty"
    );
}
