//! The example pipelines, end to end: compile each one through its binary's CLI, compare the
//! YAML with the checked-in copy, check what it means, validate it with Argo's schema and
//! Hera's models, and run it step by step the way Argo would (see `support/argo_sim.rs`).
//!
//! Set `KFP_REGENERATE=1` to rewrite `examples/yaml/*.yaml` after an intended change (never
//! done under CI).
mod support;

use std::path::PathBuf;
use std::process::Command;

use kfp_sdk::argo::model::Workflow;
use support::argo_sim::{Simulator, substitute};

const EXAMPLES: [&str; 9] = [
    "hello_world",
    "add_numbers",
    "artifacts",
    "diamond",
    "condition",
    "guarded_branch",
    "parallel_for",
    "exit_handler",
    "kubernetes_config",
];

fn compile(name: &str, dir: &std::path::Path) -> (PathBuf, String) {
    let path = dir.join(format!("{name}.yaml"));
    let out = support::run(
        Command::new(support::example(name))
            .args(["compile", "-o"])
            .arg(&path)
            .env_remove("KFP_IMAGE"),
    );
    assert!(
        out.status.success(),
        "{name} compile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = std::fs::read_to_string(&path).unwrap();
    (path, yaml)
}

fn parse(yaml: &str) -> Workflow {
    serde_saphyr::from_str(yaml).expect("the YAML reads back into the Argo model")
}

#[test]
fn compiled_yaml_matches_the_checked_in_copies() {
    let dir = tempfile::tempdir().unwrap();
    let regenerate = std::env::var_os("KFP_REGENERATE").is_some() && !support::in_ci();
    for name in EXAMPLES {
        let (_, yaml) = compile(name, dir.path());
        let golden = support::root().join(format!("examples/yaml/{name}.yaml"));
        if regenerate {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, &yaml).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (set KFP_REGENERATE=1 to create it)",
                golden.display()
            )
        });
        assert!(
            yaml == expected,
            "{name}: the YAML changed; review and set KFP_REGENERATE=1:\n{yaml}"
        );
        // Stdout and -o give the same bytes, and compiling twice gives identical output.
        let stdout = support::run(
            Command::new(support::example(name))
                .arg("compile")
                .env_remove("KFP_IMAGE"),
        );
        assert_eq!(String::from_utf8_lossy(&stdout.stdout), expected);
    }
}

#[test]
fn yaml_validates_with_argo_schema_crd_and_hera() {
    let Some(python) = support::oracle_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = EXAMPLES.iter().map(|n| compile(n, dir.path()).0).collect();
    let out = support::run(
        Command::new(python)
            .arg(support::root().join("tests/oracle/validate_argo.py"))
            .args(&files)
            .env("KFP_SHARED_DIR", support::shared_dir()),
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "validation failed:\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        report.lines().filter(|l| l.ends_with(": ok")).count(),
        EXAMPLES.len(),
        "{report}"
    );
}

#[test]
fn add_numbers_wires_a_parameter_through_three_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = parse(&compile("add_numbers", dir.path()).1);
    assert_eq!(
        workflow.metadata.generate_name.as_deref(),
        Some("add-numbers-")
    );
    let spec = &workflow.spec;
    let args = spec
        .arguments
        .as_ref()
        .unwrap()
        .parameters
        .as_ref()
        .unwrap();
    let defaults: Vec<(&str, Option<&str>)> = args
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_deref()))
        .collect();
    assert_eq!(defaults, [("a", Some("1.0")), ("b", Some("2.5"))]);
    let templates = spec.templates.as_ref().unwrap();
    let dag = templates[0].dag.as_ref().unwrap();
    let wiring: Vec<(&str, Option<&str>, Vec<String>)> = dag
        .tasks
        .iter()
        .map(|t| {
            let values = t.arguments.as_ref().unwrap().parameters.as_ref().unwrap();
            (
                t.name.as_str(),
                t.depends.as_deref(),
                values.iter().map(|p| p.value.clone().unwrap()).collect(),
            )
        })
        .collect();
    assert_eq!(
        wiring,
        [
            (
                "add",
                None,
                vec![
                    "{{inputs.parameters.a}}".into(),
                    "{{inputs.parameters.b}}".into()
                ]
            ),
            (
                "add-2",
                Some("add"),
                vec![
                    "{{tasks.add.outputs.parameters.output}}".into(),
                    "{{inputs.parameters.b}}".into()
                ]
            ),
            (
                "add-3",
                Some("add-2"),
                vec![
                    "{{tasks.add-2.outputs.parameters.output}}".into(),
                    "{{inputs.parameters.b}}".into()
                ]
            ),
        ]
    );
    // One container template is reused by the first two tasks; the third has a display name.
    assert_eq!(dag.tasks[0].template, dag.tasks[1].template);
    let output = templates[0]
        .outputs
        .as_ref()
        .unwrap()
        .parameters
        .as_ref()
        .unwrap();
    assert_eq!(
        output[0].value_from.as_ref().unwrap().parameter.as_deref(),
        Some("{{tasks.add-3.outputs.parameters.output}}")
    );
}

#[test]
fn add_numbers_runs_as_argo_would_run_it() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = parse(&compile("add_numbers", dir.path()).1);
    let binary = support::example("add_numbers");
    let mut sim = Simulator::new(&workflow, &binary, dir.path());
    assert_eq!(sim.run(&[]).parameters["output"], "8.5");
    let mut sim = Simulator::new(&workflow, &binary, dir.path());
    assert_eq!(
        sim.run(&[("a", "-1"), ("b", "0.25")]).parameters["output"],
        "-0.25"
    );
    assert_eq!(sim.log.len(), 3);
}

#[test]
fn artifacts_pass_a_dataset_between_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = parse(&compile("artifacts", dir.path()).1);
    let dag = workflow.spec.templates.as_ref().unwrap()[0]
        .dag
        .as_ref()
        .unwrap();
    let from = dag.tasks[1]
        .arguments
        .as_ref()
        .unwrap()
        .artifacts
        .as_ref()
        .unwrap()[0]
        .from
        .clone();
    assert_eq!(
        from.as_deref(),
        Some("{{tasks.make-squares.outputs.artifacts.table}}")
    );
    assert_eq!(dag.tasks[1].depends.as_deref(), Some("make-squares"));

    let binary = support::example("artifacts");
    let mut sim = Simulator::new(&workflow, &binary, dir.path());
    let sum_of_squares_below_10 = (0..10u64).map(|i| i * i).sum::<u64>();
    assert_eq!(
        sim.run(&[]).parameters["output"],
        sum_of_squares_below_10.to_string()
    );
    // The metadata the component recorded travels inside the artifact folder.
    let folder = dir.path().join("step-001-make-squares/out/table");
    let metadata = std::fs::read_to_string(folder.join("metadata.json")).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&metadata).unwrap()["rows"],
        10
    );
    assert_eq!(
        std::fs::read_to_string(folder.join("data"))
            .unwrap()
            .lines()
            .count(),
        10
    );
    let mut sim = Simulator::new(&workflow, &binary, dir.path());
    assert_eq!(sim.run(&[("rows", "4")]).parameters["output"], "14");
}

#[test]
fn hello_world_carries_any_text_intact() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = parse(&compile("hello_world", dir.path()).1);
    let binary = support::example("hello_world");
    let tricky = "it's \"quoted\" $HOME `date` ; rm -rf / \n second line\t{{inputs.parameters.message}} \\ ünïcødé";
    let mut sim = Simulator::new(&workflow, &binary, dir.path());
    let greeted = sim.run(&[("name", tricky)]).parameters["output"].clone();
    assert_eq!(greeted, format!("Hello, {tricky}!"));

    // 1 MB reaches the step as a file (a raw input artifact), not as an argument.
    let big: String = tricky.repeat(1 + (1 << 20) / tricky.len());
    let mut sim = Simulator::new(&workflow, &binary, dir.path());
    let greeted = sim.run(&[("name", &big)]).parameters["output"].clone();
    assert!(
        greeted == format!("Hello, {big}!"),
        "the 1 MB value changed on its way"
    );
    assert!(
        sim.log[0].1.iter().all(|a| a.len() < 200),
        "no value is passed as an argument"
    );
}

#[test]
fn component_exec_takes_inline_values_and_reports_errors() {
    let dir = tempfile::tempdir().unwrap();
    let binary = support::example("hello_world");
    let out_file = dir.path().join("out");
    let value = "a=b \"c\" {{d}}\nnext";
    let out = support::run(
        Command::new(&binary)
            .args(["component-exec", "say", "--param"])
            .arg(format!("message={value}"))
            .arg("--output-param")
            .arg(format!("output={}", out_file.display())),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), value);

    let out = support::run(Command::new(&binary).args(["component-exec", "say"]));
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: component 'say': input 'message': was not given (no --param message=VALUE, and no \
         file /tmp/kfp/in/message)"
    );

    let out = support::run(Command::new(&binary).args(["component-exec", "shout"]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no component named 'shout'") && stderr.contains("known: greet, say"),
        "{stderr}"
    );

    // A component returning Err fails its step with the message.
    let table = dir.path().join("table.csv");
    std::fs::write(&table, "0,0\n1,one\n").unwrap();
    let out = support::run(
        Command::new(support::example("artifacts"))
            .args(["component-exec", "summarize", "--input"])
            .arg(format!("table={}", table.display()))
            .arg("--output-param")
            .arg(format!("count={}", dir.path().join("count").display()))
            .arg("--output-param")
            .arg(format!("total={}", dir.path().join("total").display())),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: component 'summarize' failed: line 2: expected `i,square`, got \"1,one\""
    );
    assert!(
        !dir.path().join("total").exists(),
        "a failed step writes no outputs"
    );
}

#[test]
fn compile_options_and_errors() {
    let binary = support::example("hello_world");
    let out = support::run(Command::new(&binary).args([
        "compile",
        "--image",
        "registry.example.com/hello:1.2",
        "--binary",
        "/app/hello",
    ]));
    assert!(out.status.success());
    let workflow = parse(&String::from_utf8_lossy(&out.stdout));
    let container = workflow.spec.templates.as_ref().unwrap()[1]
        .container
        .clone()
        .unwrap();
    assert_eq!(
        container.image.as_deref(),
        Some("registry.example.com/hello:1.2")
    );
    assert_eq!(container.command, Some(vec!["/app/hello".to_owned()]));

    let out = support::run(Command::new(&binary).args(["compile", "--pipeline", "nope"]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no pipeline named 'nope'") && stderr.contains("hello-world"),
        "{stderr}"
    );

    let out = support::run(Command::new(&binary).arg("list"));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("hello-world") && listing.contains("say(message: parameter STRING)"),
        "{listing}"
    );
    // A component from another crate (the examples' library) is registered too.
    assert!(
        listing.contains("greet(name: parameter STRING)")
            && listing.contains("(kfp_rs_examples::greet)"),
        "{listing}"
    );
}

#[test]
fn the_simulator_substitutes_once() {
    let vars = [
        ("a".to_owned(), "{{b}}".to_owned()),
        ("b".to_owned(), "x".to_owned()),
    ]
    .into();
    assert_eq!(substitute("<{{a}}|{{ b }}>", &vars), "<{{b}}|x>");
}

#[test]
fn condition_compiles_to_when_expressions_on_group_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = parse(&compile("condition", dir.path()).1);
    let dag = workflow.spec.templates.as_ref().unwrap()[0]
        .dag
        .as_ref()
        .unwrap();
    let when: Vec<(&str, Option<&str>, Option<&str>)> = dag
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), t.depends.as_deref(), t.when.as_deref()))
        .collect();
    // One expression tag each: run-time values are variables of expr-lang, never text.
    let coin = "tasks['flip-coin'].outputs.parameters['output']";
    assert_eq!(
        when,
        [
            ("flip-coin", None, None),
            (
                "condition",
                Some("flip-coin"),
                Some(format!("{{{{={coin} == 'heads'}}}}").as_str())
            ),
            (
                "condition-2",
                Some("flip-coin"),
                Some(format!("{{{{=!({coin} == 'heads')}}}}").as_str())
            ),
            (
                "condition-3",
                Some("flip-coin"),
                Some(
                    format!(
                        "{{{{=(asFloat(inputs.parameters['seed']) > 1000) && ({coin} != 'heads')}}}}"
                    )
                        .as_str()
                )
            ),
        ]
    );
}

#[test]
fn parallel_for_compiles_to_one_reused_template_with_a_parallelism_limit() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = parse(&compile("parallel_for", dir.path()).1);
    let templates = workflow.spec.templates.as_ref().unwrap();
    let by_name = |name: &str| {
        templates
            .iter()
            .find(|t| t.name.as_deref() == Some(name))
            .unwrap()
    };
    // The pipeline's loop task calls a driver that holds the loop and the limit.
    let root = by_name("parallel-for").dag.as_ref().unwrap();
    assert_eq!(root.tasks[0].template.as_deref(), Some("for-each-loop"));
    let loop_input = root.tasks[0]
        .arguments
        .as_ref()
        .unwrap()
        .parameters
        .as_ref()
        .unwrap();
    assert!(loop_input.iter().any(|p| p.name == "kfp-loop-items"
        && p.value.as_deref() == Some("{{inputs.parameters.learning_rates}}")));
    let driver = by_name("for-each-loop");
    assert_eq!(driver.parallelism, Some(2));
    let iteration = &driver.dag.as_ref().unwrap().tasks[0];
    assert_eq!(
        iteration.with_param.as_deref(),
        Some("{{inputs.parameters.kfp-loop-items}}")
    );
    assert_eq!(iteration.template.as_deref(), Some("for-each"));
    // Fan-in: the next task reads every iteration's trial as one list...
    let pick = &root.tasks[1];
    let pick_arguments = pick.arguments.as_ref().unwrap();
    assert_eq!(
        pick_arguments.parameters.as_ref().unwrap()[0]
            .value
            .as_deref(),
        Some("{{tasks.for-each.outputs.parameters.output-0}}")
    );
    // ... and every iteration's model: each iteration's train pod uploads its model under
    // the loop's key prefix (unique per run and loop), one folder per pod, and pick-best
    // downloads the whole prefix, after the loop.
    let prefix = "kfp-rs/{{workflow.uid}}/for-each/output-1/collected";
    let models = &pick_arguments.artifacts.as_ref().unwrap()[0];
    assert_eq!(models.name, "models");
    assert_eq!(
        models.s3.as_ref().and_then(|s| s.key.as_deref()),
        Some(prefix)
    );
    assert_eq!(models.from, None, "a key-only artifact");
    assert_eq!(models.optional, Some(true), "no models: an empty list");
    assert_eq!(pick.depends.as_deref(), Some("for-each"));
    let passes = |task: &kfp_sdk::argo::model::DAGTask, name: &str, value: &str| {
        task.arguments
            .iter()
            .flat_map(|a| a.parameters.iter().flatten())
            .any(|p| p.name == name && p.value.as_deref() == Some(value))
    };
    assert!(passes(&root.tasks[0], "kfp-fan-in-output-1", prefix));
    assert!(passes(
        iteration,
        "kfp-fan-in-output-1",
        "{{inputs.parameters.kfp-fan-in-output-1}}"
    ));
    let body = by_name("for-each").dag.as_ref().unwrap();
    assert!(passes(
        &body.tasks[0],
        "kfp-fan-in-model",
        "{{inputs.parameters.kfp-fan-in-output-1}}"
    ));
    let train = by_name("train");
    let declared = |t: &kfp_sdk::argo::model::Template, name: &str| {
        t.inputs
            .iter()
            .flat_map(|i| i.parameters.iter().flatten())
            .any(|p| p.name == name)
    };
    assert!(declared(train, "kfp-fan-in-model"));
    assert!(declared(driver, "kfp-fan-in-output-1"));
    let model = &train.outputs.as_ref().unwrap().artifacts.as_ref().unwrap()[0];
    assert_eq!(
        model.s3.as_ref().and_then(|s| s.key.as_deref()),
        Some("{{inputs.parameters.kfp-fan-in-model}}/{{pod.name}}")
    );
    assert!(model.archive.as_ref().unwrap().none.is_some());
    let input = by_name("pick-best")
        .inputs
        .as_ref()
        .unwrap()
        .artifacts
        .as_ref()
        .unwrap()
        .iter()
        .find(|a| a.name == "models")
        .unwrap();
    assert_eq!(input.path.as_deref(), Some("/tmp/kfp/in/models"));
}

#[test]
fn exit_handler_compiles_to_the_workflow_exit_hook() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = parse(&compile("exit_handler", dir.path()).1);
    let hook = &workflow.spec.hooks.as_ref().unwrap()["exit"];
    let template = hook.template.as_deref().unwrap();
    let arguments = hook
        .arguments
        .as_ref()
        .unwrap()
        .parameters
        .as_ref()
        .unwrap();
    assert_eq!(
        arguments[0].value.as_deref(),
        Some("{{workflow.parameters.owner}}")
    );
    let templates = workflow.spec.templates.as_ref().unwrap();
    let exit = templates
        .iter()
        .find(|t| t.name.as_deref() == Some(template))
        .unwrap();
    let report = &exit.dag.as_ref().unwrap().tasks[0];
    let status = report
        .arguments
        .as_ref()
        .unwrap()
        .parameters
        .as_ref()
        .unwrap();
    assert_eq!(status[0].value.as_deref(), Some("{{workflow.status}}"));
}

#[test]
fn control_flow_examples_run_as_argo_would_run_them() {
    let dir = tempfile::tempdir().unwrap();
    // condition: seed 1 gives heads, seed 2 tails (see flip_coin).
    for (seed, expected) in [("1", "it was heads"), ("2", "it was tails")] {
        let workflow = parse(&compile("condition", dir.path()).1);
        let binary = support::example("condition");
        let mut sim = Simulator::new(&workflow, &binary, dir.path());
        sim.run(&[("seed", seed)]);
        let announced: Vec<&String> = sim
            .log
            .iter()
            .filter(|(t, _)| t == "announce")
            .map(|(t, _)| t)
            .collect();
        assert_eq!(
            announced.len(),
            1,
            "one branch runs for seed {seed}: {:?}",
            sim.log
        );
        let said = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with("-announce"))
            .map(|e| std::fs::read_to_string(e.path().join("out/output")).unwrap_or_default())
            .any(|text| text == expected);
        assert!(said, "seed {seed} should announce {expected:?}");
        std::fs::remove_dir_all(dir.path()).ok();
        std::fs::create_dir_all(dir.path()).unwrap();
    }

    // parallel_for: every learning rate is tried and the best one comes out.
    let workflow = parse(&compile("parallel_for", dir.path()).1);
    let binary = support::example("parallel_for");
    let mut sim = Simulator::new(&workflow, &binary, dir.path());
    assert_eq!(sim.run(&[]).parameters["output"], "0.01");
    assert_eq!(sim.log.iter().filter(|(t, _)| t == "train").count(), 5);
    // Each train pod uploaded its model under the loop's prefix; pick-best got all five and
    // kept the best, with its metadata.
    let collected = support::argo_sim::bucket(dir.path())
        .join("kfp-rs/00000000-sim-uid/for-each/output-1/collected");
    let pods: Vec<_> = std::fs::read_dir(&collected)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(pods.len(), 5, "{pods:?}");
    assert!(pods.iter().all(|p| p.join("data").exists()));
    let pick = sim.log.iter().find(|(t, _)| t == "pick-best").unwrap();
    let folder = std::path::Path::new(pick.1.last().unwrap());
    let best = std::fs::read_to_string(folder.join("out/best/metadata.json")).unwrap();
    let best: serde_json::Value = serde_json::from_str(&best).unwrap();
    assert_eq!(best["learning_rate"], 0.01);
    assert_eq!(best["candidates"], 5);
    std::fs::remove_dir_all(dir.path()).ok();
    std::fs::create_dir_all(dir.path()).unwrap();
    let mut sim = Simulator::new(&workflow, &binary, dir.path());
    assert_eq!(
        sim.run(&[("learning_rates", "[3, 0.02, 0.5]")]).parameters["output"],
        "0.02"
    );

    // exit_handler: the hook runs after a failure and sees the status.
    let workflow = parse(&compile("exit_handler", dir.path()).1);
    let binary = support::example("exit_handler");
    let mut sim = Simulator::new(&workflow, &binary, dir.path());
    sim.tolerate_failures = true;
    sim.run(&[("fail", "true")]);
    assert!(sim.failed);
    let report = sim
        .log
        .iter()
        .find(|(t, _)| t == "report")
        .expect("the exit hook ran");
    let folder = report.1.last().unwrap();
    let said = std::fs::read_to_string(std::path::Path::new(folder).join("out/output")).unwrap();
    assert_eq!(said, "run finished with status Failed; telling ml-team");
}

#[test]
fn the_simulator_evaluates_when_like_argo() {
    use support::argo_sim::evaluate_when;
    assert!(evaluate_when("'heads' == 'heads'"));
    assert!(!evaluate_when("!('heads' == 'heads')"));
    assert!(evaluate_when("(10 > 9) && ('a' != 'b')"));
    assert!(evaluate_when("!((1 < 0) || (1 == 0))"));
    assert!(!evaluate_when("2 <= 1.5"));
}
