//! Components and handles shared by the unit tests of several modules (test builds only).

/// A loop that trains one model per item and a step that picks from the collected models:
/// the shapes the fan-in tests of validation and the Argo emitter both build on.
pub(crate) mod fan_in {
    use std::sync::Arc;

    use crate::Model;
    use crate::dsl::{ArtifactRef, ParamRef, TaskBuilder};
    use crate::ir::component::{ComponentSpec, IoType};
    use crate::ir::param::ParamType;

    /// `train(x: f64) -> model: Model`.
    pub(crate) fn train() -> Arc<ComponentSpec> {
        Arc::new(
            ComponentSpec::new("train")
                .input("x", IoType::Parameter(ParamType::Double))
                .output("model", IoType::artifact::<Model>()),
        )
    }

    /// `pick(models: Vec<Input<Model>>)`.
    pub(crate) fn pick() -> Arc<ComponentSpec> {
        Arc::new(ComponentSpec::new("pick").input("models", IoType::artifact_list::<Model>()))
    }

    /// A `train` task fed `x`; its model.
    pub(crate) fn trained(x: ParamRef<f64>) -> ArtifactRef<Model> {
        TaskBuilder::new(train())
            .param("x", x)
            .add()
            .output("model")
    }
}
