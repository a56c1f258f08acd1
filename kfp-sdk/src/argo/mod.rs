//! Argo Workflows: the resource model and the compiler from a pipeline graph to it.
//!
//! [`model`] holds the Argo resources as Rust types, generated from Argo's JSON schema (see
//! `tools/gen_argo_model.py`); [`compile`] turns a [`PipelineGraph`](crate::PipelineGraph)
//! into a [`model::Workflow`] (with the [`WorkflowOptions`] of [`ArgoOptions::workflow`]);
//! [`compile_as`] makes a `WorkflowTemplate` or a `CronWorkflow` instead ([`kinds`]); both
//! check the result as `argo lint` would ([`lint`]); [`to_yaml`] writes any resource as YAML.
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
mod condition;
mod emit;
pub mod kinds;
pub mod lint;
pub mod model;
pub mod workflow_options;

pub use emit::{
    ArgoError, ArgoOptions, FAN_IN_BASE, FAN_IN_ROOT, FULL_CRD_MAX_ITEMS, collected_prefix,
    compile, fan_in_param, full_crd_warnings, paths, to_yaml,
};
pub use kinds::{CompileArgs, ConcurrencyPolicy, CronOptions, Resource, ResourceKind, compile_as};
pub use lint::{LintError, LintErrors};
pub use workflow_options::{
    ArtifactRepositoryRef, ArtifactStorage, PodGcStrategy, TimeToLive, VolumeClaimGcStrategy,
    WorkflowOptions,
};
