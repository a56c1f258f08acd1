//! Artifact kinds: the types that name what an artifact (a file or folder flowing between
//! tasks) holds, such as [`Dataset`] or [`Model`].
//!
//! A component takes an artifact as `Input<K>` and produces one as `Output<K>` (run-time
//! objects, see `runtime::artifacts`), where `K` is a kind. Kinds are types, so wiring a
//! `Model` output into a `Dataset` input does not compile.
//!
//! Kubeflow Pipelines names each kind by a schema title (`system.Dataset`, ...); the kinds
//! here use the same titles. A kind of your own is a type implementing [`ArtifactKind`]:
//!
//! ```
//! struct Tokenizer;
//! impl kfp_sdk::ArtifactKind for Tokenizer {
//!     const SCHEMA_TITLE: &'static str = "acme.Tokenizer";
//! }
//! ```
/// A kind of artifact, named by its schema title.
pub trait ArtifactKind: 'static {
    /// The schema title (e.g. `system.Model`), as Kubeflow Pipelines names artifact types.
    const SCHEMA_TITLE: &'static str;
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $name:ident => $title:literal,)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name;
        impl ArtifactKind for $name {
            const SCHEMA_TITLE: &'static str = $title;
        }
    )*};
}

kinds! {
    /// Any artifact: a file or folder with no more specific kind.
    Artifact => "system.Artifact",
    /// A dataset.
    Dataset => "system.Dataset",
    /// A trained model.
    Model => "system.Model",
    /// Scalar metrics (for example a JSON object of named numbers).
    Metrics => "system.Metrics",
    /// Classification metrics: confusion matrix, ROC curve, per-class figures.
    ClassificationMetrics => "system.ClassificationMetrics",
    /// An HTML page to show in a UI.
    Html => "system.HTML",
    /// A Markdown document to show in a UI.
    Markdown => "system.Markdown",
}
