//! Components bundled with kfp-rs.
//!
//! This crate is the home of the flagship pipeline's steps (loading Caltech101, training a
//! CNN, pruning, int8 quantization and TensorFlow Lite export). Each lands with its own issue;
//! so far:
//!
//! - [`caltech101`]: load Caltech101 from its archive, decode, resize, split, and write a
//!   numpy-readable Dataset artifact; the `load_caltech101` component.
#![warn(missing_docs)]

pub mod caltech101;
#[cfg(feature = "nn")]
pub mod nn;
