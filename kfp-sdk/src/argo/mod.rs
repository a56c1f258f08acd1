//! Argo Workflows: the resource model, Argo's own rules, and the compiler from a pipeline
//! graph to Argo resources.
//!
//! [`model`] holds the Argo resources as Rust types, generated from Argo's JSON schema (see
//! `tools/gen_argo_model.py`); [`compile`] checks a [`PipelineGraph`](crate::PipelineGraph)
//! against the backend-neutral rules and Argo's own ([`validate`]) and turns it into a
//! [`model::Workflow`] (the lowering is in `compiler`, with the [`WorkflowOptions`] of
//! [`ArgoOptions::workflow`]); [`compile_as`] makes a `WorkflowTemplate` or a `CronWorkflow`
//! instead ([`kinds`]); both check the result as `argo lint` would ([`lint`]); [`to_yaml`]
//! writes any resource as YAML.
//!
//! This backend imports the graph (`ir`) and the run-time file layout (`runtime::paths`),
//! never another backend.
//!
//! ```
//! use kfp_sdk::argo::{self, ArgoOptions};
//! use kfp_sdk::dsl::{ParamRef, PipelineBuilder, TaskBuilder};
//! use kfp_sdk::{ComponentSpec, IoType, ParamType};
//! use std::sync::Arc;
//!
//! let echo = Arc::new(ComponentSpec::new("echo").input("text", IoType::Parameter(ParamType::String)));
//! let builder = PipelineBuilder::new("hello");
//! let text: ParamRef<String> = builder.input_with_default("text", "hi");
//! let graph = builder.build(|| { TaskBuilder::new(echo).param("text", text).add(); }).unwrap();
//! let workflow = argo::compile(&graph, &ArgoOptions::new("example.com/hello:1", "/bin/hello")).unwrap();
//! let yaml = argo::to_yaml(&workflow).unwrap();
//! assert!(yaml.contains("generateName: hello-"));
//! ```
mod compiler;
mod condition;
pub mod kinds;
pub mod lint;
pub mod model;
pub mod validate;
pub mod workflow_options;

pub use compiler::{
    ArgoError, ArgoOptions, FULL_CRD_MAX_ITEMS, compile, full_crd_warnings, to_yaml,
};
pub use kinds::{ConcurrencyPolicy, CronOptions, Resource, ResourceKind, compile_as};
pub use lint::{LintError, LintErrors};
pub use validate::MAX_PIPELINE_NAME;
pub use workflow_options::{
    ArtifactRepositoryRef, ArtifactStorage, PodGcStrategy, TimeToLive, VolumeClaimGcStrategy,
    WorkflowOptions,
};
