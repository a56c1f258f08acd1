//! The local runner, end to end through the example binaries' `run` command: every example
//! runs and gives the right outputs; unchanged tasks come from the cache; a killed run
//! resumes without redoing finished tasks; failures stop the run the documented way.
mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kfp_sdk::local::{RunRecord, Store, TaskStatus};

fn run(example: &str, store: &Path, args: &[&str]) -> Output {
    support::run(
        Command::new(support::example(example))
            .arg("run")
            .arg("--store")
            .arg(store)
            .args(args),
    )
}

/// The newest run record in a store.
fn last_record(store: &Path) -> RunRecord {
    let mut runs = Store::new(store).list().expect("runs");
    runs.pop().expect("a run was recorded")
}

fn status_of(record: &RunRecord, task: &str) -> TaskStatus {
    record
        .tasks
        .iter()
        .find(|t| t.name == task)
        .unwrap_or_else(|| panic!("no task {task} in {:?}", record.tasks))
        .status
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn every_example_runs_locally_with_the_right_outputs() {
    let store = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str], &str); 8] = [
        ("parallel_for", &[], "0.01"),
        (
            "parallel_for",
            &["-p", "learning_rates=[0.5, 0.02, 3]", "-p", "epochs=2"],
            "0.02",
        ),
        ("hello_world", &[], "Hello, world!"),
        (
            "hello_world",
            &["-p", "name=it's \"me\"\n{{x}}"],
            "Hello, it's \"me\"\n{{x}}!",
        ),
        ("add_numbers", &["-p", "a=2", "-p", "b=0.5"], "3.5"),
        ("artifacts", &["-p", "rows=10"], "285"),
        ("diamond", &[], "(start>first>left | start>first>right)"),
        // Its Kubernetes settings (Secrets, volumes, GPU, ...) are ignored here.
        ("kubernetes_config", &[], "score: 16.5"),
    ];
    for (example, args, expected) in cases {
        ok(&run(example, store.path(), args));
        let record = last_record(store.path());
        assert_eq!(record.status, "succeeded");
        assert_eq!(record.outputs["output"], expected, "{example} {args:?}");
    }
    // The artifact passed between tasks carries its metadata.
    let record = Store::new(store.path())
        .list()
        .unwrap()
        .into_iter()
        .find(|r| r.pipeline == "artifacts")
        .unwrap();
    let table = &record.tasks[0].artifacts["table"];
    let metadata = std::fs::read_to_string(table.join("metadata.json")).unwrap();
    assert!(metadata.contains("\"rows\": 10"), "{metadata}");
}

#[test]
fn an_unchanged_run_executes_no_task() {
    let store = tempfile::tempdir().unwrap();
    ok(&run("add_numbers", store.path(), &[]));
    let first = last_record(store.path());
    assert!(
        first
            .tasks
            .iter()
            .all(|t| t.status == TaskStatus::Succeeded)
    );
    let summary = ok(&run("add_numbers", store.path(), &[]));
    let second = last_record(store.path());
    assert!(
        second.tasks.iter().all(|t| t.status == TaskStatus::Cached),
        "{summary}"
    );
    assert!(summary.contains("0 ran, 3 cached"), "{summary}");
    assert_eq!(second.outputs, first.outputs);
    // --no-cache runs everything again.
    ok(&run("add_numbers", store.path(), &["--no-cache"]));
    assert!(
        last_record(store.path())
            .tasks
            .iter()
            .all(|t| t.status == TaskStatus::Succeeded)
    );
}

#[test]
fn changing_a_parameter_reruns_exactly_the_tasks_downstream_of_it() {
    let store = tempfile::tempdir().unwrap();
    ok(&run("diamond", store.path(), &[]));
    ok(&run("diamond", store.path(), &["-p", "left=L"]));
    let record = last_record(store.path());
    let statuses: Vec<(&str, TaskStatus)> = record
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), t.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("first", TaskStatus::Cached),
            ("left", TaskStatus::Succeeded),
            ("right", TaskStatus::Cached),
            ("join", TaskStatus::Succeeded),
        ]
    );
    assert_eq!(
        record.outputs["output"],
        "(start>first>L | start>first>right)"
    );
}

#[test]
fn independent_tasks_run_in_parallel_up_to_the_limit() {
    let overlap = |parallelism: &str| {
        let store = tempfile::tempdir().unwrap();
        ok(&run(
            "diamond",
            store.path(),
            &["-p", "millis=300", "--parallelism", parallelism],
        ));
        let record = last_record(store.path());
        let span = |name: &str| {
            let task = record.tasks.iter().find(|t| t.name == name).unwrap();
            let start = task.started_at.unwrap();
            (start, start + task.seconds.unwrap())
        };
        let (left, right) = (span("left"), span("right"));
        left.0 < right.1 && right.0 < left.1
    };
    assert!(overlap("2"), "with 2 slots the branches overlap");
    assert!(!overlap("1"), "with 1 slot they run one after the other");
}

#[test]
fn a_failure_stops_new_work_lets_running_tasks_finish_and_names_the_task() {
    let store = tempfile::tempdir().unwrap();
    let out = run(
        "diamond",
        store.path(),
        &["-p", "fail_on=right", "-p", "millis=400"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("task 'right' failed") && stderr.contains("asked to fail at 'right'"),
        "{stderr}"
    );
    let record = last_record(store.path());
    assert_eq!(record.status, "failed");
    assert_eq!(status_of(&record, "right"), TaskStatus::Failed);
    assert_eq!(
        status_of(&record, "left"),
        TaskStatus::Succeeded,
        "a running task finishes"
    );
    assert_eq!(status_of(&record, "join"), TaskStatus::Skipped);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("right failed (exit Some(1)); last lines of its log"),
        "{stdout}"
    );

    // With --fail-fast the running branch is killed instead.
    let store = tempfile::tempdir().unwrap();
    let out = run(
        "diamond",
        store.path(),
        &["-p", "fail_on=right", "-p", "millis=5000", "--fail-fast"],
    );
    assert_eq!(out.status.code(), Some(1));
    let record = last_record(store.path());
    assert_eq!(status_of(&record, "left"), TaskStatus::Failed);
    let left = record.tasks.iter().find(|t| t.name == "left").unwrap();
    assert!(
        left.message.as_deref().unwrap_or("").contains("killed"),
        "{:?}",
        left.message
    );
}

#[test]
fn a_killed_run_resumes_without_redoing_finished_tasks() {
    let store = tempfile::tempdir().unwrap();
    let mut child = Command::new(support::example("diamond"))
        .args(["run", "-p", "millis=1500", "--store"])
        .arg(store.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the record shows `first` finished, then kill the runner.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let first_done = Store::new(store.path())
            .list()
            .ok()
            .and_then(|mut runs| runs.pop())
            .is_some_and(|r| {
                r.tasks
                    .iter()
                    .any(|t| t.name == "first" && t.status.is_done())
            });
        if first_done {
            break;
        }
        assert!(Instant::now() < deadline, "the first task never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = last_record(store.path());
    assert_ne!(killed.status, "succeeded");

    let out = run("diamond", store.path(), &["--resume", &killed.id]);
    ok(&out);
    let resumed = Store::new(store.path()).load(&killed.id).unwrap();
    assert_eq!(resumed.status, "succeeded");
    assert_eq!(
        status_of(&resumed, "first"),
        TaskStatus::Cached,
        "finished work is not redone"
    );
    assert_eq!(
        resumed.outputs["output"],
        "(start>first>left | start>first>right)"
    );
    assert_eq!(resumed.parameters["millis"], 1500);
}

#[test]
fn runs_list_and_show_read_the_records_back() {
    let store = tempfile::tempdir().unwrap();
    ok(&run("add_numbers", store.path(), &[]));
    let id = last_record(store.path()).id;
    let list = support::run(
        Command::new(support::example("add_numbers"))
            .args(["runs", "list", "--store"])
            .arg(store.path()),
    );
    assert!(String::from_utf8_lossy(&list.stdout).contains(&id));
    let show = support::run(
        Command::new(support::example("add_numbers"))
            .args(["runs", "show", &id, "--json", "--store"])
            .arg(store.path()),
    );
    let record: RunRecord = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(record.outputs["output"], "8.5");
    assert!(
        store
            .path()
            .join("runs")
            .join(&id)
            .join("graph.dot")
            .exists()
    );
    let missing = support::run(
        Command::new(support::example("add_numbers"))
            .args(["runs", "show", "nope", "--store"])
            .arg(store.path()),
    );
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no run 'nope'"));
}

#[test]
fn bad_parameters_are_reported_before_anything_runs() {
    let store = tempfile::tempdir().unwrap();
    let out = run("add_numbers", store.path(), &["-p", "a=ten"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("parameter 'a': 'ten' is not a NUMBER_DOUBLE")
    );
    let out = run("add_numbers", store.path(), &["-p", "c=1"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no parameter 'c' (its parameters: a, b)")
    );
    assert!(
        Store::new(store.path()).list().unwrap().is_empty(),
        "nothing ran"
    );
}

#[test]
fn failed_tries_are_retried_with_backoff_and_slow_tries_time_out() {
    // `left` has two retries with a backoff of 100 ms, doubling.
    let store = tempfile::tempdir().unwrap();
    let out = run("diamond", store.path(), &["-p", "fail_on=left"]);
    assert_eq!(out.status.code(), Some(1));
    let record = last_record(store.path());
    let left = record.tasks.iter().find(|t| t.name == "left").unwrap();
    assert_eq!((left.status, left.attempts), (TaskStatus::Failed, 3));
    assert!(
        left.seconds.unwrap() >= 0.3,
        "waited 100 ms, then 200 ms: {:?}",
        left.seconds
    );

    // `right` may take 2 s a try.
    let store = tempfile::tempdir().unwrap();
    let out = run("diamond", store.path(), &["-p", "millis=2500"]);
    assert_eq!(out.status.code(), Some(1));
    let record = last_record(store.path());
    let right = record.tasks.iter().find(|t| t.name == "right").unwrap();
    assert_eq!(right.status, TaskStatus::Failed);
    assert_eq!(
        right.message.as_deref(),
        Some("killed: timed out after 2 s")
    );
    assert_eq!(status_of(&record, "left"), TaskStatus::Succeeded);
}

#[test]
fn conditions_choose_the_branch_at_run_time() {
    // Seeds 1 and 2 give heads and tails (see flip_coin in examples/condition.rs).
    for (seed, ran, skipped) in [
        ("1", "condition", "condition-2"),
        ("2", "condition-2", "condition"),
    ] {
        let store = tempfile::tempdir().unwrap();
        ok(&run(
            "condition",
            store.path(),
            &["-p", &format!("seed={seed}")],
        ));
        let record = last_record(store.path());
        assert_eq!(
            status_of(&record, ran),
            TaskStatus::Succeeded,
            "seed {seed}"
        );
        assert_eq!(
            status_of(&record, skipped),
            TaskStatus::Skipped,
            "seed {seed}"
        );
        assert_eq!(status_of(&record, "condition-3"), TaskStatus::Skipped);
        assert_eq!(
            status_of(&record, &format!("{ran}/announce")),
            TaskStatus::Succeeded
        );
        assert!(
            record
                .tasks
                .iter()
                .all(|t| t.name != format!("{skipped}/announce"))
        );
    }
}

#[test]
fn loops_respect_their_parallelism_limit() {
    let store = tempfile::tempdir().unwrap();
    ok(&run("parallel_for", store.path(), &["--parallelism", "8"]));
    let record = last_record(store.path());
    let spans: Vec<(f64, f64)> = record
        .tasks
        .iter()
        .filter(|t| t.name.starts_with("for-each/") && t.name.ends_with("/train"))
        .map(|t| {
            (
                t.started_at.unwrap(),
                t.started_at.unwrap() + t.seconds.unwrap(),
            )
        })
        .collect();
    assert_eq!(spans.len(), 5);
    for (i, &(start, _)) in spans.iter().enumerate() {
        let running = spans
            .iter()
            .filter(|&&(s, e)| s <= start && start < e)
            .count();
        assert!(running <= 2, "iteration {i} started with {running} running");
    }
}

#[test]
fn the_exit_handler_runs_after_a_failure_and_reads_the_status() {
    let store = tempfile::tempdir().unwrap();
    let out = run("exit_handler", store.path(), &["-p", "fail=true"]);
    assert_eq!(out.status.code(), Some(1));
    let record = last_record(store.path());
    assert_eq!(record.status, "failed");
    let report = record
        .tasks
        .iter()
        .find(|t| t.name == "exit-handler/report")
        .unwrap();
    assert_eq!(report.status, TaskStatus::Succeeded);
    assert_eq!(
        report.outputs["output"],
        "run finished with status Failed; telling ml-team"
    );
    ok(&run("exit_handler", store.path(), &["-p", "owner=me"]));
    let record = last_record(store.path());
    let report = record
        .tasks
        .iter()
        .find(|t| t.name == "exit-handler/report")
        .unwrap();
    assert_eq!(
        report.outputs["output"],
        "run finished with status Succeeded; telling me"
    );
}

/// The `parallel_for` example's sweep, built by hand so that a condition inside the loop body
/// skips training for learning rates up to 0.001: those iterations make no model, and the
/// list `pick_best` gets has one model per iteration that made one.
fn sweep_with_skipped_iterations(rates: &[f64]) -> kfp_sdk::PipelineGraph {
    use std::sync::Arc;

    use kfp_sdk::control::{CompareOp, Condition, Loop, LoopItems, Operand};
    use kfp_sdk::graph::{Executable, PipelineOutput, Task, ValueSource};
    use kfp_sdk::{ComponentSpec, IoType, OutputSpec, ParamType, PipelineGraph};

    let model = || IoType::artifact::<kfp_sdk::Model>();
    let train = Arc::new(
        ComponentSpec::new("train")
            .input("learning_rate", IoType::Parameter(ParamType::Double))
            .input("epochs", IoType::Parameter(ParamType::Integer))
            .output("model", model())
            .output("output", IoType::Parameter(ParamType::Struct)),
    );
    let pick_best = Arc::new(
        ComponentSpec::new("pick_best")
            .input("trials", IoType::Parameter(ParamType::List))
            .input("models", IoType::artifact_list::<kfp_sdk::Model>())
            .output("best", model())
            .output("output", IoType::Parameter(ParamType::Double)),
    );
    let task = |name: &str, executable, arguments: Vec<(&str, ValueSource)>| Task {
        name: name.into(),
        executable,
        arguments: arguments
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        after: Vec::new(),
        config: Default::default(),
        when: None,
        repeat: None,
    };
    let mut body = PipelineGraph::new("for-each");
    body.inputs.push(kfp_sdk::InputSpec {
        name: "item".into(),
        ty: IoType::Parameter(ParamType::Double),
        default: None,
        description: None,
    });
    let mut trained = task(
        "train",
        Executable::Component(train),
        vec![
            ("learning_rate", ValueSource::PipelineInput("item".into())),
            ("epochs", ValueSource::Constant(serde_json::json!(10))),
        ],
    );
    trained.when = Some(Condition::Compare {
        left: Operand {
            source: ValueSource::PipelineInput("item".into()),
            ty: ParamType::Double,
        },
        op: CompareOp::Gt,
        right: Operand {
            source: ValueSource::Constant(serde_json::json!(0.001)),
            ty: ParamType::Double,
        },
    });
    body.tasks.push(trained);
    body.outputs.push(PipelineOutput {
        spec: OutputSpec::new("output", model()),
        source: ValueSource::TaskOutput {
            task: "train".into(),
            output: "model".into(),
        },
    });
    let mut sweep = PipelineGraph::new("sweep-with-skips");
    let mut each = task(
        "for-each",
        Executable::Pipeline(Arc::new(body)),
        vec![("item", ValueSource::LoopItem)],
    );
    each.repeat = Some(Loop {
        items: LoopItems::Static(rates.iter().map(|r| serde_json::json!(r)).collect()),
        parallelism: None,
    });
    sweep.tasks.push(each);
    // The winning trial, given; the models come from the loop.
    let trials = serde_json::json!([{"learning_rate": 0.01, "score": 1.0}]);
    sweep.tasks.push(task(
        "pick-best",
        Executable::Component(pick_best),
        vec![
            ("trials", ValueSource::Constant(trials)),
            (
                "models",
                ValueSource::TaskOutput {
                    task: "for-each".into(),
                    output: "output".into(),
                },
            ),
        ],
    ));
    sweep.outputs.push(PipelineOutput {
        spec: OutputSpec::new("output", IoType::Parameter(ParamType::Double)),
        source: ValueSource::TaskOutput {
            task: "pick-best".into(),
            output: "output".into(),
        },
    });
    kfp_sdk::validate::validate(&sweep).expect("a valid graph");
    sweep
}

/// The metadata of `pick-best`'s best model in a run record.
fn best_model_metadata(record: &RunRecord) -> serde_json::Value {
    let task = record
        .tasks
        .iter()
        .find(|t| t.name == "pick-best")
        .expect("pick-best ran");
    let text = std::fs::read_to_string(task.artifacts["best"].join("metadata.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn artifacts_made_in_a_loop_are_collected_without_skipped_iterations_and_cached() {
    use kfp_sdk::local::RunOptions;

    let store = tempfile::tempdir().unwrap();
    let options = RunOptions {
        store: store.path().to_owned(),
        binary: Some(support::example("parallel_for")),
        ..RunOptions::default()
    };
    let graph = sweep_with_skipped_iterations(&[0.0001, 0.01, 1.0]);
    let record = kfp_sdk::local::run(&graph, Default::default(), &options).unwrap();
    assert_eq!(record.status, "succeeded", "{record:?}");
    assert_eq!(record.outputs["output"], "0.01");
    assert_eq!(status_of(&record, "for-each/0/train"), TaskStatus::Skipped);
    let metadata = best_model_metadata(&record);
    assert_eq!(metadata["candidates"], 2, "iteration 0 made no model");
    assert_eq!(metadata["learning_rate"], 0.01);
    // Locally the list is in iteration order: one entry per iteration that made a model.
    let collected = &record
        .tasks
        .iter()
        .find(|t| t.name == "for-each")
        .unwrap()
        .artifacts["output"];
    let mut entries: Vec<String> = std::fs::read_dir(collected)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["00001", "00002"]);

    // Unchanged: nothing runs again; resuming the finished run redoes nothing either.
    let again = kfp_sdk::local::run(&graph, Default::default(), &options).unwrap();
    assert_eq!(status_of(&again, "pick-best"), TaskStatus::Cached);
    let resumed = RunOptions {
        resume: Some(record.id.clone()),
        ..options.clone()
    };
    let resumed = kfp_sdk::local::run(&graph, Default::default(), &resumed).unwrap();
    assert_eq!(resumed.status, "succeeded");
    assert_eq!(status_of(&resumed, "pick-best"), TaskStatus::Cached);
    assert_eq!(best_model_metadata(&resumed)["candidates"], 2);

    // One more iteration makes one more model: the consumer's input changed, so it reruns.
    let more = sweep_with_skipped_iterations(&[0.0001, 0.01, 1.0, 0.1]);
    let record = kfp_sdk::local::run(&more, Default::default(), &options).unwrap();
    assert_eq!(status_of(&record, "pick-best"), TaskStatus::Succeeded);
    assert_eq!(best_model_metadata(&record)["candidates"], 3);

    // Every iteration skipped: an empty list.
    let none = sweep_with_skipped_iterations(&[0.0001]);
    let record = kfp_sdk::local::run(&none, Default::default(), &options).unwrap();
    assert_eq!(record.status, "failed");
    let pick = record.tasks.iter().find(|t| t.name == "pick-best").unwrap();
    let log = kfp_sdk::local::failure_tail(pick);
    assert!(log.contains("no model for learning rate 0.01"), "{log}");
}

#[test]
fn skipped_iterations_upload_nothing_on_argo() {
    let dir = tempfile::tempdir().unwrap();
    let graph = sweep_with_skipped_iterations(&[0.0001, 0.01, 1.0]);
    let options = kfp_sdk::argo::ArgoOptions::new("img", "/bin/parallel_for");
    let workflow = kfp_sdk::argo::compile(&graph, &options).unwrap();
    let binary = support::example("parallel_for");
    let mut sim = support::argo_sim::Simulator::new(&workflow, &binary, dir.path());
    assert_eq!(sim.run(&[]).parameters["output"], "0.01");
    let collected = support::argo_sim::bucket(dir.path())
        .join("kfp-rs/00000000-sim-uid/for-each/output/collected");
    assert_eq!(std::fs::read_dir(&collected).unwrap().count(), 2);
    let pick = sim.log.iter().find(|(t, _)| t == "pick-best").unwrap();
    let folder = std::path::Path::new(pick.1.last().unwrap());
    let metadata = std::fs::read_to_string(folder.join("out/best/metadata.json")).unwrap();
    assert!(metadata.contains("\"candidates\": 2"), "{metadata}");
}
