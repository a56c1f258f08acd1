//! The ground floor: the backend-neutral pipeline graph and everything it is made of.
//!
//! A [`graph::PipelineGraph`] is a pipeline as data: tasks running [`component`]s, the values
//! wired between them ([`value`]), their settings ([`config`], with the Kubernetes settings
//! of [`kubernetes`] as plain data), control flow ([`control`]), parameter types ([`param`])
//! and artifact kinds ([`artifact`]). [`validate`] checks the rules every backend shares;
//! [`names`] makes and checks names.
//!
//! Nothing here imports a backend (`argo`, `local`), the run-time support (`runtime`), the
//! command line (`cli`) or the builder (`dsl`): every other module builds on this one, and
//! `kfp-sdk/tests/layering.rs` keeps it so.
pub mod artifact;
pub mod component;
pub mod config;
pub mod control;
pub mod graph;
pub mod kubernetes;
pub mod names;
pub mod param;
pub mod secrets;
pub mod validate;
pub mod value;
