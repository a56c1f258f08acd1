//! What a pipeline function (or a group's body) returns, and the output handles a parent
//! pipeline gets for a task running it: nothing, one handle (output `output`), or a tuple
//! (outputs `output-0`, `output-1`, ...).
use super::{OutputRef, SourceToken, TaskHandle};
use crate::ir::component::OutputSpec;

/// What a pipeline function (or a group, such as a loop body) may return: nothing, one
/// handle, or a tuple of two or three handles (outputs `output-0`, `output-1`, ...).
pub trait PipelineReturn {
    /// The handles a parent pipeline gets for a task running this pipeline.
    type Refs;
    /// The pipeline's outputs.
    fn output_specs() -> Vec<OutputSpec>;
    /// The handles of `task`'s outputs.
    fn refs(task: &TaskHandle) -> Self::Refs;
    #[doc(hidden)]
    fn into_sources(self) -> Vec<(OutputSpec, SourceToken)>;
}

/// No outputs.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoOutputs;

/// One output, named `output`.
#[derive(Debug, Clone)]
pub struct SingleOutput<R> {
    /// The output's handle.
    pub output: R,
}

/// The name of a single returned value, as kfp names it.
pub const SINGLE_OUTPUT: &str = "output";

impl PipelineReturn for () {
    type Refs = NoOutputs;
    fn output_specs() -> Vec<OutputSpec> {
        Vec::new()
    }
    fn refs(_: &TaskHandle) -> NoOutputs {
        NoOutputs
    }
    fn into_sources(self) -> Vec<(OutputSpec, SourceToken)> {
        Vec::new()
    }
}

impl<R: OutputRef> PipelineReturn for R {
    type Refs = SingleOutput<R>;
    fn output_specs() -> Vec<OutputSpec> {
        vec![OutputSpec::new(SINGLE_OUTPUT, R::io_type())]
    }
    fn refs(task: &TaskHandle) -> SingleOutput<R> {
        SingleOutput {
            output: task.output(SINGLE_OUTPUT),
        }
    }
    fn into_sources(self) -> Vec<(OutputSpec, SourceToken)> {
        vec![(
            OutputSpec::new(SINGLE_OUTPUT, R::io_type()),
            self.into_source(),
        )]
    }
}

/// The name of element `index` of a returned tuple: `output-0`, `output-1`, ...
pub(crate) fn tuple_output(index: usize) -> String {
    format!("{SINGLE_OUTPUT}-{index}")
}

macro_rules! tuple_returns {
    ($(($($t:ident $i:tt),+))*) => {$(
        /// Several outputs, named `output-0`, `output-1`, ...
        impl<$($t: OutputRef),+> PipelineReturn for ($($t,)+) {
            type Refs = ($($t,)+);
            fn output_specs() -> Vec<OutputSpec> {
                vec![$(OutputSpec::new(tuple_output($i), $t::io_type())),+]
            }
            fn refs(task: &TaskHandle) -> Self::Refs {
                ($(task.output::<$t>(&tuple_output($i)),)+)
            }
            fn into_sources(self) -> Vec<(OutputSpec, SourceToken)> {
                vec![$((OutputSpec::new(tuple_output($i), $t::io_type()), self.$i.into_source())),+]
            }
        }
    )*};
}

tuple_returns! {
    (A 0, B 1)
    (A 0, B 1, C 2)
}
