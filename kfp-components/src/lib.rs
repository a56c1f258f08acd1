//! Components bundled with kfp-rs.
//!
//! This crate is the home of the flagship pipeline's steps (loading Caltech101, training a
//! CNN, pruning, int8 quantization and TensorFlow Lite export). It is empty for now: each of
//! those steps lands with its own issue.
#![warn(missing_docs)]
