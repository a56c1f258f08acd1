//! kfp-sdk: write Kubeflow / Argo Workflows pipelines in Rust.
#![warn(missing_docs)]

extern crate self as kfp_sdk;

pub mod argo;
pub mod artifact;
pub mod cli;
pub mod component;
pub mod config;
pub mod dsl;
pub mod executor;
pub mod graph;
pub mod names;
pub mod outputs;
pub mod param;
pub mod registry;
pub mod validate;

pub use artifact::{
    Artifact, ArtifactKind, ClassificationMetrics, Dataset, Html, Input, Markdown, Metadata,
    Metrics, Model, Output,
};
pub use component::{ComponentSpec, InputSpec, IoType, OutputSpec};
pub use config::{Resources, RetryPolicy, TaskConfig};
pub use dsl::{ArtifactRef, ParamRef, Task};
pub use graph::PipelineGraph;
pub use outputs::ComponentReturn;
pub use param::{ParamType, ParamValue};

pub use kfp_macros::{ComponentOutputs, component, pipeline};

/// Everything a pipeline author needs: `use kfp_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::artifact::{
        Artifact, ArtifactKind, ClassificationMetrics, Dataset, Html, Input, Markdown, Metrics,
        Model, Output,
    };
    pub use crate::dsl::{ArtifactRef, ParamRef, Task};
    pub use crate::outputs::ComponentReturn;
    pub use crate::param::ParamValue;
    pub use kfp_macros::{ComponentOutputs, component, pipeline};
}

/// Used by the code `#[component]` and `#[pipeline]` generate; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
    pub use serde_json;
}
