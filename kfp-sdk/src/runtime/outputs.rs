//! What a component function returns: nothing, one parameter, or a struct of named outputs.
//!
//! [`ComponentReturn`] ties a return type to the outputs it declares, the typed handles a
//! pipeline gets for them, and how the executor writes them. `()` and every
//! [`ParamValue`] implement it; `#[derive(ComponentOutputs)]` implements
//! it for a struct whose fields are the named outputs (kfp's `NamedTuple` outputs):
//!
//! ```
//! use kfp_sdk::prelude::*;
//!
//! #[derive(ComponentOutputs)]
//! struct Scores {
//!     accuracy: f64,
//!     loss: f64,
//! }
//!
//! let names: Vec<String> = <Scores as ComponentReturn>::output_specs()
//!     .into_iter()
//!     .map(|o| o.name)
//!     .collect();
//! assert_eq!(names, ["accuracy", "loss"]);
//! ```
use super::executor::{ExecContext, ExecError};
use crate::dsl::{NoOutputs, ParamRef, SINGLE_OUTPUT, SingleOutput, TaskHandle};
use crate::ir::component::{IoType, OutputSpec};
use crate::ir::param::ParamValue;

/// A type a component function may return.
#[diagnostic::on_unimplemented(
    message = "a component cannot return `{Self}`",
    label = "not a component return type",
    note = "return `()`, a parameter value, or a struct with `#[derive(ComponentOutputs)]`; \
            write files to an `Output<Kind>` parameter"
)]
pub trait ComponentReturn {
    /// The typed handles a pipeline gets for these outputs.
    type Refs;
    /// The outputs it declares.
    fn output_specs() -> Vec<OutputSpec>;
    /// The handles of `task`'s outputs.
    fn refs(task: &TaskHandle) -> Self::Refs;
    /// Writes the returned values where the executor collects outputs.
    fn write(self, ctx: &mut ExecContext) -> Result<(), ExecError>;
}

impl ComponentReturn for () {
    type Refs = NoOutputs;
    fn output_specs() -> Vec<OutputSpec> {
        Vec::new()
    }
    fn refs(_: &TaskHandle) -> NoOutputs {
        NoOutputs
    }
    fn write(self, _: &mut ExecContext) -> Result<(), ExecError> {
        Ok(())
    }
}

impl<T: ParamValue> ComponentReturn for T {
    type Refs = SingleOutput<ParamRef<T>>;
    fn output_specs() -> Vec<OutputSpec> {
        vec![OutputSpec::new(SINGLE_OUTPUT, IoType::Parameter(T::TYPE))]
    }
    fn refs(task: &TaskHandle) -> Self::Refs {
        SingleOutput {
            output: task.output(SINGLE_OUTPUT),
        }
    }
    fn write(self, ctx: &mut ExecContext) -> Result<(), ExecError> {
        ctx.write_param(SINGLE_OUTPUT, &self)
    }
}
