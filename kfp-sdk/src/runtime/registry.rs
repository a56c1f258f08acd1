//! The components and pipelines linked into a binary.
//!
//! `#[component]` and `#[pipeline]` register what they define here (through the
//! [`inventory`] crate), from any crate linked into the binary, so that
//! `BINARY component-exec NAME` can run a component by name inside its container and
//! `BINARY compile` can find a pipeline by name; [`run_component`] runs a registered
//! component by name.
use std::sync::Arc;

use super::executor::{ExecArgs, ExecContext, ExecError};
use crate::dsl::BuildError;
use crate::ir::component::ComponentSpec;
use crate::ir::graph::PipelineGraph;

/// A component the binary can run.
pub struct ComponentEntry {
    /// Its name (`component-exec NAME`).
    pub name: &'static str,
    /// The path of the module `#[component]` generated (the function's path), to tell apart
    /// two components with one name.
    pub module: &'static str,
    /// Its specification.
    pub spec: fn() -> Arc<ComponentSpec>,
    /// Runs it: reads inputs from the context, calls the function, writes outputs.
    pub run: fn(&mut ExecContext) -> Result<(), ExecError>,
}

/// A pipeline the binary can compile.
pub struct PipelineEntry {
    /// Its name.
    pub name: &'static str,
    /// The path of the module `#[pipeline]` generated (the function's path).
    pub module: &'static str,
    /// Builds and validates its graph.
    pub graph: fn() -> Result<PipelineGraph, BuildError>,
}

impl std::fmt::Debug for ComponentEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentEntry")
            .field("name", &self.name)
            .field("module", &self.module)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PipelineEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineEntry")
            .field("name", &self.name)
            .field("module", &self.module)
            .finish_non_exhaustive()
    }
}

inventory::collect!(ComponentEntry);
inventory::collect!(PipelineEntry);

/// Every registered component, sorted by name.
pub fn components() -> Vec<&'static ComponentEntry> {
    let mut all: Vec<_> = inventory::iter::<ComponentEntry>.into_iter().collect();
    all.sort_by_key(|c| (c.name, c.module));
    all
}

/// Every registered pipeline, sorted by name.
pub fn pipelines() -> Vec<&'static PipelineEntry> {
    let mut all: Vec<_> = inventory::iter::<PipelineEntry>.into_iter().collect();
    all.sort_by_key(|p| (p.name, p.module));
    all
}

/// Why a name did not lead to exactly one registered item.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Nothing has this name.
    #[error("no {what} named '{name}' is linked into this binary (known: {known})")]
    NotFound {
        /// "component" or "pipeline".
        what: &'static str,
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
    /// Two items share the name.
    #[error(
        "two {what}s named '{name}' are linked into this binary ({first} and {second}); give one \
         another name with name = \"...\""
    )]
    Ambiguous {
        /// "component" or "pipeline".
        what: &'static str,
        /// The shared name.
        name: String,
        /// One defining module.
        first: String,
        /// The other.
        second: String,
    },
}

fn find<'a, T>(
    what: &'static str,
    name: &str,
    all: &[&'a T],
    key: impl Fn(&T) -> (&'static str, &'static str),
) -> Result<&'a T, LookupError> {
    let mut matching = all.iter().filter(|item| key(item).0 == name);
    match (matching.next(), matching.next()) {
        (Some(one), None) => Ok(one),
        (Some(a), Some(b)) => Err(LookupError::Ambiguous {
            what,
            name: name.to_owned(),
            first: key(a).1.to_owned(),
            second: key(b).1.to_owned(),
        }),
        (None, _) => Err(LookupError::NotFound {
            what,
            name: name.to_owned(),
            known: all.iter().map(|i| key(i).0).collect::<Vec<_>>().join(", "),
        }),
    }
}

/// The one registered component with this name.
pub fn find_component(name: &str) -> Result<&'static ComponentEntry, LookupError> {
    find("component", name, &components(), |c| (c.name, c.module))
}

/// The one registered pipeline with this name.
pub fn find_pipeline(name: &str) -> Result<&'static PipelineEntry, LookupError> {
    find("pipeline", name, &pipelines(), |p| (p.name, p.module))
}

/// Runs the registered component `name` with these arguments.
pub fn run_component(name: &str, args: ExecArgs) -> Result<(), ExecError> {
    let entry = find_component(name).map_err(|e| ExecError::Usage(e.to_string()))?;
    let args = args.with_conventional_paths(&(entry.spec)());
    let mut ctx = ExecContext::new(entry.name, args);
    (entry.run)(&mut ctx)?;
    ctx.finish()
}
