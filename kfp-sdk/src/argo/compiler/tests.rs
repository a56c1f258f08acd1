//! Tests of the Argo compiler.
use std::sync::Arc;

use super::*;
use crate::dsl::{ParamRef, PipelineBuilder, TaskBuilder};
use crate::ir::component::{ComponentSpec, IoType};
use crate::ir::param::ParamType;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn chain(n: usize) -> PipelineGraph {
    let inc = Arc::new(
        ComponentSpec::new("inc")
            .input("x", IoType::Parameter(ParamType::Integer))
            .output("y", IoType::Parameter(ParamType::Integer)),
    );
    PipelineBuilder::new("chain")
        .build(|| {
            let mut x: ParamRef<i64> = TaskBuilder::new(inc.clone())
                .param("x", 0i64)
                .add()
                .output("y");
            for _ in 1..n {
                x = TaskBuilder::new(inc.clone())
                    .param("x", x)
                    .add()
                    .output("y");
            }
        })
        .unwrap()
}

fn options() -> ArgoOptions {
    ArgoOptions::new("img", "/bin/x")
}

#[test]
fn big_dags_get_a_full_crd_warning() {
    let small = compile(&chain(FULL_CRD_MAX_ITEMS), &options()).unwrap();
    assert!(full_crd_warnings(&small).is_empty());
    let big = compile(&chain(FULL_CRD_MAX_ITEMS + 1), &options()).unwrap();
    let warnings = full_crd_warnings(&big);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("'chain' has 201 tasks"),
        "{warnings:?}"
    );
}

#[test]
fn one_template_serves_every_task_of_a_component() {
    let workflow = compile(&chain(50), &options()).unwrap();
    let templates = workflow.spec.templates.as_ref().unwrap();
    assert_eq!(templates.len(), 2, "the DAG and one container template");
    let dag = templates[0].dag.as_ref().unwrap();
    assert!(
        dag.tasks
            .iter()
            .all(|t| t.template.as_deref() == Some("inc"))
    );
    assert_eq!(dag.tasks[49].depends.as_deref(), Some("inc-49"));
}

#[test]
fn output_is_byte_identical_for_identical_input() {
    let a = to_yaml(&compile(&chain(30), &options()).unwrap()).unwrap();
    let b = to_yaml(&compile(&chain(30), &options()).unwrap()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn pipelines_with_artifact_inputs_cannot_run_on_their_own() {
    let spec =
        Arc::new(ComponentSpec::new("read").input("data", IoType::artifact::<crate::Dataset>()));
    let builder = PipelineBuilder::new("needs-data");
    let data = builder.artifact_input::<crate::Dataset>("data");
    let graph = builder
        .build(|| {
            TaskBuilder::new(spec).artifact("data", data).add();
        })
        .unwrap();
    let err = compile(&graph, &options()).unwrap_err().to_string();
    assert!(err.contains("input 'data' is an artifact"), "{err}");
}

mod fan_in {
    use super::*;
    use crate::Model;
    use crate::dsl::{ArtifactRef, parallel_for, when};

    use crate::test_fixtures::fan_in::{pick, trained};

    fn template<'a>(workflow: &'a model::Workflow, name: &str) -> &'a model::Template {
        workflow
            .spec
            .templates
            .iter()
            .flatten()
            .find(|t| t.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no template {name}"))
    }

    fn task<'a>(template: &'a model::Template, name: &str) -> &'a model::DAGTask {
        let dag = template.dag.as_ref().expect("a DAG");
        dag.tasks.iter().find(|t| t.name == name).unwrap()
    }

    fn param<'a>(task: &'a model::DAGTask, name: &str) -> Option<&'a str> {
        task.arguments
            .iter()
            .flat_map(|a| a.parameters.iter().flatten())
            .find(|p| p.name == name)
            .and_then(|p| p.value.as_deref())
    }

    fn key_argument<'a>(task: &'a model::DAGTask, name: &str) -> &'a model::Artifact {
        task.arguments
            .iter()
            .flat_map(|a| a.artifacts.iter().flatten())
            .find(|a| a.name == name)
            .unwrap()
    }

    fn declares(template: &model::Template, name: &str) -> bool {
        template
            .inputs
            .iter()
            .flat_map(|i| i.parameters.iter().flatten())
            .any(|p| p.name == name)
    }

    fn sweep_and_pick() -> PipelineGraph {
        PipelineBuilder::new("sweep")
            .build(|| {
                let models = parallel_for(vec![0.1, 0.2]).each(trained);
                TaskBuilder::new(pick())
                    .artifact_list("models", models)
                    .add();
            })
            .unwrap()
    }

    #[test]
    fn producers_upload_under_the_loop_prefix_and_the_consumer_reads_it_whole() {
        let workflow = compile(&sweep_and_pick(), &options()).unwrap();
        let root = template(&workflow, "sweep");
        let prefix = "kfp-rs/{{workflow.uid}}/for-each/output/collected";
        assert_eq!(
            param(task(root, "for-each"), "kfp-fan-in-output"),
            Some(prefix)
        );
        let consumer = task(root, "pick");
        assert_eq!(consumer.depends.as_deref(), Some("for-each"));
        let models = key_argument(consumer, "models");
        assert_eq!(models.s3.as_ref().unwrap().key.as_deref(), Some(prefix));
        assert_eq!(
            (models.from.as_deref(), models.optional),
            (None, Some(true))
        );
        // The loop body passes the prefix to the task that makes the artifact...
        let body = template(&workflow, "for-each");
        assert!(declares(body, "kfp-fan-in-output"));
        assert_eq!(
            param(task(body, "train"), "kfp-fan-in-model"),
            Some("{{inputs.parameters.kfp-fan-in-output}}")
        );
        // ... whose template uploads it as a folder of files, one per pod.
        let producer = template(&workflow, "train");
        assert!(declares(producer, "kfp-fan-in-model"));
        let output = &producer
            .outputs
            .as_ref()
            .unwrap()
            .artifacts
            .as_ref()
            .unwrap()[0];
        assert_eq!(
            output.s3.as_ref().unwrap().key.as_deref(),
            Some("{{inputs.parameters.kfp-fan-in-model}}/{{pod.name}}")
        );
        assert!(output.archive.as_ref().unwrap().none.is_some());
        let input = &template(&workflow, "pick")
            .inputs
            .as_ref()
            .unwrap()
            .artifacts
            .as_ref()
            .unwrap()[0];
        assert_eq!(
            (input.path.as_deref(), input.optional),
            (Some("/tmp/kfp/in/models"), Some(true))
        );
    }

    #[test]
    fn a_nested_pipeline_used_twice_collects_under_two_prefixes() {
        let inner = Arc::new(sweep_and_pick());
        let graph = PipelineBuilder::new("twice")
            .build(|| {
                TaskBuilder::pipeline(inner.clone()).add();
                TaskBuilder::pipeline(inner.clone()).add();
            })
            .unwrap();
        let workflow = compile(&graph, &options()).unwrap();
        let root = template(&workflow, "twice");
        assert_eq!(
            param(task(root, "sweep"), FAN_IN_BASE),
            Some("kfp-rs/{{workflow.uid}}/sweep")
        );
        assert_eq!(
            param(task(root, "sweep-2"), FAN_IN_BASE),
            Some("kfp-rs/{{workflow.uid}}/sweep-2")
        );
        // One shared template, whose loop and consumer build on the prefix given to it.
        assert_eq!(task(root, "sweep-2").template.as_deref(), Some("sweep"));
        let shared = template(&workflow, "sweep");
        assert!(declares(shared, FAN_IN_BASE));
        let prefix = "{{inputs.parameters.kfp-fan-in}}/for-each/output/collected";
        assert_eq!(
            param(task(shared, "for-each"), "kfp-fan-in-output"),
            Some(prefix)
        );
        let models = key_argument(task(shared, "pick"), "models");
        assert_eq!(models.s3.as_ref().unwrap().key.as_deref(), Some(prefix));
    }

    #[test]
    fn collected_artifacts_pass_into_groups_as_their_prefix() {
        let check = Arc::new(
            ComponentSpec::new("check").output("ok", IoType::Parameter(ParamType::Boolean)),
        );
        let graph = PipelineBuilder::new("guarded")
            .build(|| {
                let models = parallel_for(vec![0.1]).each(trained);
                let ok: ParamRef<bool> = TaskBuilder::new(check).add().output("ok");
                when(ok.eq(true), || {
                    TaskBuilder::new(pick())
                        .artifact_list("models", &models)
                        .add();
                });
            })
            .unwrap();
        let workflow = compile(&graph, &options()).unwrap();
        let root = template(&workflow, "guarded");
        let group = task(root, "condition");
        assert_eq!(
            param(group, "from-output"),
            Some("kfp-rs/{{workflow.uid}}/for-each/output/collected")
        );
        assert_eq!(group.depends.as_deref(), Some("for-each && check"));
        let inside = template(&workflow, "condition");
        assert!(declares(inside, "from-output"));
        let models = key_argument(task(inside, "pick"), "models");
        assert_eq!(
            models.s3.as_ref().unwrap().key.as_deref(),
            Some("{{inputs.parameters.from-output}}")
        );
    }

    #[test]
    fn an_artifact_made_by_a_nested_pipeline_in_the_loop_gets_the_prefix_passed_down() {
        let builder = PipelineBuilder::new("fit");
        let x: ParamRef<f64> = builder.input("x");
        let fit = Arc::new(builder.build(|| trained(x)).unwrap());
        let graph = PipelineBuilder::new("outer")
            .build(|| {
                let models = parallel_for(vec![0.1, 0.2]).each(|x| {
                    TaskBuilder::pipeline(fit.clone())
                        .param("x", x)
                        .add()
                        .output::<ArtifactRef<Model>>("output")
                });
                TaskBuilder::new(pick())
                    .artifact_list("models", models)
                    .add();
            })
            .unwrap();
        let workflow = compile(&graph, &options()).unwrap();
        let body = template(&workflow, "for-each");
        assert_eq!(
            param(task(body, "fit"), "kfp-fan-in-output"),
            Some("{{inputs.parameters.kfp-fan-in-output}}")
        );
        let nested = template(&workflow, "fit");
        assert!(declares(nested, "kfp-fan-in-output"));
        assert_eq!(
            param(task(nested, "train"), "kfp-fan-in-model"),
            Some("{{inputs.parameters.kfp-fan-in-output}}")
        );
    }

    #[test]
    fn the_lint_checks_the_variables_in_keys() {
        let mut workflow = compile(&sweep_and_pick(), &options()).unwrap();
        let producer = workflow
            .spec
            .templates
            .iter_mut()
            .flatten()
            .find(|t| t.name.as_deref() == Some("train"))
            .unwrap();
        let inputs = producer.inputs.as_mut().unwrap();
        inputs
            .parameters
            .as_mut()
            .unwrap()
            .retain(|p| p.name != "kfp-fan-in-model");
        let err = crate::argo::lint::check_workflow(&workflow)
            .unwrap_err()
            .to_string();
        assert!(err.contains("inputs.parameters.kfp-fan-in-model"), "{err}");
    }

    #[test]
    fn an_exit_handler_collecting_artifacts_gets_its_own_prefix() {
        let graph = PipelineBuilder::new("with-exit")
            .build(|| {
                trained(ParamRef::constant(&0.5));
                crate::dsl::on_exit(|| {
                    let models = parallel_for(vec![0.1]).each(trained);
                    TaskBuilder::new(pick())
                        .artifact_list("models", models)
                        .add();
                });
            })
            .unwrap();
        let workflow = compile(&graph, &options()).unwrap();
        let hook = &workflow.spec.hooks.as_ref().unwrap()["exit"];
        let parameters = hook
            .arguments
            .as_ref()
            .unwrap()
            .parameters
            .as_ref()
            .unwrap();
        assert!(parameters.iter().any(|p| p.name == FAN_IN_BASE
            && p.value.as_deref() == Some("kfp-rs/{{workflow.uid}}/exit-handler")));
    }

    #[test]
    fn a_memoized_producer_is_keyed_by_its_run_prefix() {
        let memoized = Arc::new(
            ComponentSpec::new("train")
                .input("x", IoType::Parameter(ParamType::Double))
                .output("model", IoType::artifact::<Model>()),
        );
        let graph = PipelineBuilder::new("memo")
            .build(|| {
                let models = parallel_for(vec![0.1]).each(|x| {
                    let task = TaskBuilder::new(memoized.clone()).param("x", x).add();
                    crate::TaskRef::new(task.clone(), ()).memoize("cache", "1h");
                    task.output::<ArtifactRef<Model>>("model")
                });
                TaskBuilder::new(pick())
                    .artifact_list("models", models)
                    .add();
            })
            .unwrap();
        let workflow = compile(&graph, &options()).unwrap();
        // A hit in a later run would upload nothing under that run's prefix: the prefix,
        // which holds the run's uid, is part of the key.
        let key = &template(&workflow, "train").memoize.as_ref().unwrap().key;
        assert!(
            key.contains("inputs.parameters['kfp-fan-in-model']"),
            "{key}"
        );
    }

    #[test]
    fn the_storage_kind_is_an_option() {
        let options = options().with_workflow(
            crate::argo::WorkflowOptions::new().fan_in_storage(crate::argo::ArtifactStorage::Gcs),
        );
        let workflow = compile(&sweep_and_pick(), &options).unwrap();
        let models = key_argument(task(template(&workflow, "sweep"), "pick"), "models");
        assert_eq!(
            models.gcs.as_ref().map(|g| g.key.as_str()),
            Some("kfp-rs/{{workflow.uid}}/for-each/output/collected")
        );
        assert!(models.s3.is_none());
        let producer = template(&workflow, "train");
        let output = &producer
            .outputs
            .as_ref()
            .unwrap()
            .artifacts
            .as_ref()
            .unwrap()[0];
        assert_eq!(
            output.gcs.as_ref().map(|g| g.key.as_str()),
            Some("{{inputs.parameters.kfp-fan-in-model}}/{{pod.name}}")
        );
    }

    #[test]
    fn a_task_of_a_component_used_outside_the_loop_too_keeps_its_plain_template() {
        let graph = PipelineBuilder::new("both")
            .build(|| {
                let single = trained(ParamRef::constant(&0.5));
                TaskBuilder::new(pick())
                    .artifact_list("models", parallel_for(vec![0.1]).each(trained))
                    .add();
                single
            })
            .unwrap();
        let workflow = compile(&graph, &options()).unwrap();
        let root = template(&workflow, "both");
        assert_eq!(task(root, "train").template.as_deref(), Some("train"));
        let plain = template(&workflow, "train");
        assert!(!declares(plain, "kfp-fan-in-model"));
        let body = template(&workflow, "for-each");
        assert_eq!(task(body, "train").template.as_deref(), Some("train-2"));
        assert!(declares(template(&workflow, "train-2"), "kfp-fan-in-model"));
    }
}

#[test]
fn task_settings_become_template_fields() {
    let spec = Arc::new(
        ComponentSpec::new("work")
            .env("MODE", "fast")
            .retry(crate::RetryPolicy::new(4).with_backoff("10s", 2))
            .caching(false),
    );
    let graph = PipelineBuilder::new("p")
        .build(|| {
            let task = crate::TaskRef::new(TaskBuilder::new(spec).add(), ());
            task.gpus(2)
                .accelerator("amd.com/gpu")
                .memory_request("1Gi")
                .image("other:2")
                .timeout_seconds(90);
        })
        .unwrap();
    let workflow = compile(&graph, &options()).unwrap();
    let template = &workflow.spec.templates.as_ref().unwrap()[1];
    let container = template.container.as_ref().unwrap();
    assert_eq!(container.image.as_deref(), Some("other:2"));
    let resources = container.resources.as_ref().unwrap();
    assert_eq!(resources.limits.as_ref().unwrap()["amd.com/gpu"].0, "2");
    assert_eq!(resources.requests.as_ref().unwrap()["memory"].0, "1Gi");
    assert_eq!(
        container.env.as_ref().unwrap()[0].value.as_deref(),
        Some("fast")
    );
    assert_eq!(template.active_deadline_seconds, Some(IntOrString::Int(90)));
    let retry = template.retry_strategy.as_ref().unwrap();
    assert_eq!(retry.limit, Some(IntOrString::Int(4)));
    let backoff = retry.backoff.as_ref().unwrap();
    assert_eq!(
        (backoff.duration.as_deref(), &backoff.factor),
        (Some("10s"), &Some(IntOrString::Int(2)))
    );
    let annotations = template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .as_ref()
        .unwrap();
    assert_eq!(
        annotations["pipelines.kubeflow.org/max_cache_staleness"],
        "P0D"
    );
}
