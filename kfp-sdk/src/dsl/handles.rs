//! Typed handles on values inside a pipeline being built: [`ParamRef<T>`] for a parameter of
//! Rust type `T`, [`ArtifactRef<K>`] for an artifact of kind `K`, and the traits that say
//! which values may feed which input.
use std::marker::PhantomData;

use super::TaskHandle;
use crate::ir::artifact::ArtifactKind;
use crate::ir::component::IoType;
use crate::ir::param::{ParamType, ParamValue};

/// Where a handle's value comes from, before task names are final.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    Constant(serde_json::Value),
    /// The item of the loop a group task repeats over.
    LoopItem,
    /// The status of the whole run.
    WorkflowStatus,
    PipelineInput {
        builder: u64,
        name: String,
    },
    TaskOutput {
        builder: u64,
        task: usize,
        output: String,
    },
    Invalid(String),
}

/// A parameter value of Rust type `T` inside a pipeline: a constant, a pipeline input or a
/// task output.
pub struct ParamRef<T> {
    pub(crate) source: Source,
    pub(crate) ty: PhantomData<fn() -> T>,
}

impl<T> Clone for ParamRef<T> {
    fn clone(&self) -> Self {
        ParamRef {
            source: self.source.clone(),
            ty: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for ParamRef<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ParamRef").field(&self.source).finish()
    }
}

impl<T: ParamValue> ParamRef<T> {
    /// A constant.
    pub fn constant(value: &T) -> Self {
        let source = match value.to_json() {
            Ok(json) if !(json.is_null() && T::TYPE == ParamType::Double) => Source::Constant(json),
            Ok(_) => {
                Source::Invalid("a float constant must be finite (JSON has no NaN or inf)".into())
            }
            Err(e) => Source::Invalid(format!("a constant could not be encoded: {e}")),
        };
        ParamRef {
            source,
            ty: PhantomData,
        }
    }
}

/// An artifact of kind `K` inside a pipeline: a pipeline input or a task output.
pub struct ArtifactRef<K> {
    pub(crate) source: Source,
    pub(crate) kind: PhantomData<fn() -> K>,
}

impl<K> Clone for ArtifactRef<K> {
    fn clone(&self) -> Self {
        ArtifactRef {
            source: self.source.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for ArtifactRef<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ArtifactRef").field(&self.source).finish()
    }
}

/// Values that can feed a parameter input of type `T`: a `ParamRef<T>`, a `T`, or a `&str`
/// for `String` inputs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot feed a parameter input of type `{T}`",
    label = "expected a `ParamRef<{T}>` or a `{T}` value here",
    note = "task inputs are type-checked: wire an output or pipeline parameter of type `{T}`, or pass a constant"
)]
pub trait IntoParamRef<T> {
    /// The handle.
    fn into_param_ref(self) -> ParamRef<T>;
}

impl<T> IntoParamRef<T> for ParamRef<T> {
    fn into_param_ref(self) -> ParamRef<T> {
        self
    }
}

impl<T> IntoParamRef<T> for &ParamRef<T> {
    fn into_param_ref(self) -> ParamRef<T> {
        self.clone()
    }
}

impl<T: ParamValue> IntoParamRef<T> for T {
    fn into_param_ref(self) -> ParamRef<T> {
        ParamRef::constant(&self)
    }
}

impl IntoParamRef<String> for &str {
    fn into_param_ref(self) -> ParamRef<String> {
        ParamRef::constant(&self.to_owned())
    }
}

/// Values that can feed an artifact input of kind `K`: an `ArtifactRef<K>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot feed an artifact input of kind `{K}`",
    label = "expected an `ArtifactRef<{K}>` here",
    note = "artifact inputs are type-checked: wire an output of the same artifact kind"
)]
pub trait IntoArtifactRef<K> {
    /// The handle.
    fn into_artifact_ref(self) -> ArtifactRef<K>;
}

impl<K> IntoArtifactRef<K> for ArtifactRef<K> {
    fn into_artifact_ref(self) -> ArtifactRef<K> {
        self
    }
}

impl<K> IntoArtifactRef<K> for &ArtifactRef<K> {
    fn into_artifact_ref(self) -> ArtifactRef<K> {
        self.clone()
    }
}

/// Values that can feed a list-of-artifacts input of kind `K` (a component's
/// `Vec<Input<K>>`): the collected output of a loop whose body returns an `ArtifactRef<K>`
/// (an `ArtifactRef<Vec<K>>`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot feed a list of artifacts of kind `{K}`",
    label = "expected an `ArtifactRef<Vec<{K}>>` here: the collected output of a loop",
    note = "a `Vec<Input<{K}>>` input takes every iteration's artifact: return an `ArtifactRef<{K}>` \
            from a `parallel_for(..).each(..)` body and pass what the loop returns"
)]
pub trait IntoArtifactList<K> {
    /// The handle.
    fn into_artifact_list(self) -> ArtifactRef<Vec<K>>;
}

impl<K> IntoArtifactList<K> for ArtifactRef<Vec<K>> {
    fn into_artifact_list(self) -> ArtifactRef<Vec<K>> {
        self
    }
}

impl<K> IntoArtifactList<K> for &ArtifactRef<Vec<K>> {
    fn into_artifact_list(self) -> ArtifactRef<Vec<K>> {
        self.clone()
    }
}

/// Something an output handle can be made from: `ParamRef<T>` or `ArtifactRef<K>`.
pub trait OutputRef: Sized {
    /// The handle of `task`'s output `name`.
    fn of_task(task: &TaskHandle, name: &str) -> Self;
    /// The output's type in the graph.
    fn io_type() -> IoType;
    #[doc(hidden)]
    fn into_source(self) -> SourceToken;
}

/// An opaque value source, used by generated code.
#[doc(hidden)]
pub struct SourceToken(pub(crate) Source);

impl<T: ParamValue> OutputRef for ParamRef<T> {
    fn of_task(task: &TaskHandle, name: &str) -> Self {
        ParamRef {
            source: task.source(name),
            ty: PhantomData,
        }
    }
    fn io_type() -> IoType {
        IoType::Parameter(T::TYPE)
    }
    fn into_source(self) -> SourceToken {
        SourceToken(self.source)
    }
}

impl<K: ArtifactKind> OutputRef for ArtifactRef<K> {
    fn of_task(task: &TaskHandle, name: &str) -> Self {
        ArtifactRef {
            source: task.source(name),
            kind: PhantomData,
        }
    }
    fn io_type() -> IoType {
        IoType::artifact::<K>()
    }
    fn into_source(self) -> SourceToken {
        SourceToken(self.source)
    }
}
