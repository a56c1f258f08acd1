//! What runs inside a step and on the machine that runs steps, for every backend: file
//! helpers shared by the SDK and the bundled components (atomic writes, content digests).
//!
//! This module imports no backend.

pub mod digest;
pub mod fs;
