// Artifacts of every kind, written by one component and read by the next.
use kfp_sdk::prelude::*;

#[component]
fn produce(
    artifact: Output<Artifact>,
    dataset: Output<Dataset>,
    model: Output<Model>,
    metrics: Output<Metrics>,
    classification: Output<ClassificationMetrics>,
    html: Output<Html>,
    markdown: Output<Markdown>,
) {
    let _ = (
        artifact,
        dataset,
        model,
        metrics,
        classification,
        html,
        markdown,
    );
}

#[component]
fn consume(
    artifact: Input<Artifact>,
    dataset: Input<Dataset>,
    model: Input<Model>,
    metrics: Input<Metrics>,
    classification: Input<ClassificationMetrics>,
    html: Input<Html>,
    markdown: Input<Markdown>,
) -> u32 {
    let _ = (
        artifact,
        dataset,
        model,
        metrics,
        classification,
        html,
        markdown,
    );
    7
}

#[pipeline]
fn artifact_kinds() -> ArtifactRef<Model> {
    let made = produce::task();
    let o = &made.outputs;
    consume::task(
        &o.artifact,
        &o.dataset,
        &o.model,
        &o.metrics,
        &o.classification,
        &o.html,
        o.markdown.clone(),
    );
    made.outputs.model.clone()
}

fn main() {
    let graph = artifact_kinds::graph().unwrap();
    assert_eq!(graph.tasks.len(), 2);
    assert_eq!(graph.tasks[1].arguments.len(), 7);
    assert_eq!(
        graph.outputs[0].spec.ty,
        kfp_sdk::IoType::artifact::<Model>()
    );
}
