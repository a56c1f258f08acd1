//! kfp-sdk
#![warn(missing_docs)]
pub mod argo;
