//! Artifact fan-in on Argo: a loop collects the artifacts its iterations make under a key
//! prefix in the artifact repository, one folder per pod, and a consumer downloads the whole
//! prefix. These are the prefixes and the parameters that carry them.
use crate::ir::graph::{Executable, PipelineGraph};

/// The key prefix, in the artifact repository, under which the loops of the root DAG collect
/// artifacts: unique per run.
pub(crate) const FAN_IN_ROOT: &str = "kfp-rs/{{workflow.uid}}";

/// The input parameter of a nested DAG template that holds the key prefix under which its
/// loops collect artifacts (the caller's prefix and the calling task's name), so that two
/// uses of one nested pipeline never share keys.
pub(crate) const FAN_IN_BASE: &str = "kfp-fan-in";

/// The input parameter of a template variant holding the key prefix under which it uploads
/// artifact output `output`, one folder per pod (`PREFIX/{{pod.name}}`), for a loop to
/// collect.
pub(crate) fn fan_in_param(output: &str) -> String {
    format!("{FAN_IN_BASE}-{output}")
}

/// The key prefix under which loop task `task` of a DAG with prefix `base` collects its
/// artifact output `output`. The last, fixed part keeps one prefix from being the start of
/// another (`a/output` and `a/output2`) for stores that list by plain prefix, like GCS.
pub(crate) fn collected_prefix(base: &str, task: &str, output: &str) -> String {
    format!("{base}/{task}/{output}/collected")
}

/// Whether a pipeline, or a pipeline it runs (not as a loop body), has a loop that collects
/// artifacts, and so needs a key prefix of its own.
pub(super) fn collects_artifacts(graph: &PipelineGraph) -> bool {
    graph
        .tasks
        .iter()
        .any(|task| match (&task.repeat, &task.executable) {
            (Some(_), executable) => executable.outputs().iter().any(|o| o.ty.is_artifact()),
            (None, Executable::Pipeline(inner)) => collects_artifacts(inner),
            (None, Executable::Component(_)) => false,
        })
}
