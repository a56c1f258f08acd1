//! A loop body returning an artifact (alone or with a parameter) gives a collected list that
//! a `Vec<Input<K>>` input takes, directly or inside a group, and a nested pipeline can take.
use kfp_sdk::dsl::{parallel_for, when};
use kfp_sdk::prelude::*;
use kfp_sdk::IoType;

#[component]
fn train(lr: f64, model: Output<Model>) -> f64 {
    let _ = model;
    lr
}

#[component]
fn pick(scores: Vec<f64>, models: Vec<Input<Model>>, best: Output<Model>) -> bool {
    let _ = (scores, models, best);
    true
}

#[component]
fn count(models: Vec<Input<Model>>) -> u32 {
    models.len() as u32
}

#[pipeline]
fn summarize(models: Vec<Input<Model>>) -> ParamRef<u32> {
    count::task(models).outputs.output.clone()
}

#[pipeline]
fn sweep(#[default(vec![0.1, 0.2])] rates: Vec<f64>) -> ArtifactRef<Model> {
    let (scores, models) = parallel_for(&rates).each(|lr| {
        let trained = train::task(lr);
        (trained.outputs.output.clone(), trained.outputs.model.clone())
    });
    let only_models = parallel_for(&rates).each(|lr| train::task(lr).outputs.model.clone());
    let picked = pick::task(scores, &models);
    when(picked.outputs.output.eq(true), || {
        count::task(&only_models);
    });
    summarize::task(models);
    picked.outputs.best.clone()
}

fn main() {
    let graph = sweep::graph().unwrap();
    let pick = graph.tasks.iter().find(|t| t.name == "pick").unwrap();
    let spec = match &pick.executable {
        kfp_sdk::graph::Executable::Component(spec) => spec.clone(),
        _ => unreachable!(),
    };
    assert_eq!(spec.inputs[1].ty, IoType::artifact_list::<Model>());
    assert_eq!(graph.tasks[0].output_type("output-1"), Some(IoType::artifact_list::<Model>()));
    assert_eq!(graph.tasks[1].output_type("output"), Some(IoType::artifact_list::<Model>()));
}
