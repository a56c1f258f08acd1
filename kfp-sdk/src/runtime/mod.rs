//! What runs inside a step and on the machine that runs steps, for every backend.
//!
//! [`executor`] runs one component (`BINARY component-exec NAME`): it reads the inputs from
//! their places ([`paths`], the in-container file layout), calls the function with
//! [`artifacts`] (`Input<K>`, `Output<K>`), and writes what it returns ([`outputs`]).
//! [`registry`] holds the components and pipelines linked into the binary. [`params`] reads
//! pipeline parameters given on a command line. [`fs`] and [`digest`] are the file helpers
//! shared by the SDK and the bundled components (atomic writes, content digests).
//!
//! This module imports the graph ([`crate::ir`]) and the builder's handles ([`crate::dsl`]),
//! never a backend.
pub mod artifacts;
pub mod digest;
pub mod executor;
pub mod fs;
pub mod outputs;
pub mod params;
pub mod paths;
pub mod registry;
