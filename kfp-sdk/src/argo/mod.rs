//! Argo Workflows: the resource model and the emitter that turns a pipeline graph into it.
pub mod model;
