//! Artifacts at run time: the [`Input<K>`] and [`Output<K>`] a component function gets, with
//! a local path, the artifact's name and URI, and its metadata map.
//!
//! `K` is an artifact kind ([`ArtifactKind`], such as
//! [`Dataset`](crate::Dataset)); the executor makes these objects from the paths it is given.
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::ir::artifact::ArtifactKind;

/// The metadata of an artifact: a JSON object the producing function can fill in.
pub type Metadata = BTreeMap<String, serde_json::Value>;

/// An artifact that a component reads.
#[derive(Debug, Clone)]
pub struct Input<K: ArtifactKind> {
    name: String,
    path: PathBuf,
    uri: String,
    metadata: Metadata,
    kind: PhantomData<fn() -> K>,
}

impl<K: ArtifactKind> Input<K> {
    /// An input artifact at `path` (a file or a folder), as the executor or a test makes it.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        Input {
            name: name.into(),
            uri: path.display().to_string(),
            path,
            metadata: Metadata::new(),
            kind: PhantomData,
        }
    }

    /// The same input with this URI (where the artifact is stored remotely).
    pub fn with_uri(mut self, uri: impl Into<String>) -> Self {
        self.uri = uri.into();
        self
    }

    /// The same input with this metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// The input's name in the component's signature.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the artifact is on the local disk: a file or a folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the artifact is stored (the local path when there is no remote store).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The metadata the producing task recorded, when the backend passes it on.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The artifact's schema title, e.g. `system.Dataset`.
    pub fn schema_title(&self) -> &'static str {
        K::SCHEMA_TITLE
    }
}

/// An artifact that a component writes.
///
/// The function writes a file or a folder at [`Output::path`] (its parent folder exists) and
/// may record metadata with [`Output::set_metadata`]; the executor saves both when the
/// function returns.
#[derive(Debug, Clone)]
pub struct Output<K: ArtifactKind> {
    name: String,
    path: PathBuf,
    uri: String,
    metadata: Arc<Mutex<Metadata>>,
    kind: PhantomData<fn() -> K>,
}

impl<K: ArtifactKind> Output<K> {
    /// An output artifact to be written at `path`, as the executor or a test makes it.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        Output {
            name: name.into(),
            uri: path.display().to_string(),
            path,
            metadata: Arc::default(),
            kind: PhantomData,
        }
    }

    /// The same output with this URI.
    pub fn with_uri(mut self, uri: impl Into<String>) -> Self {
        self.uri = uri.into();
        self
    }

    /// The output's name in the component's signature.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where to write the artifact: create a file or a folder here.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the artifact will be stored.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Records one metadata entry (replacing an earlier value under the same key).
    pub fn set_metadata(&self, key: impl Into<String>, value: impl Into<serde_json::Value>) {
        self.metadata
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key.into(), value.into());
    }

    /// A copy of the metadata recorded so far.
    pub fn metadata(&self) -> Metadata {
        self.metadata
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The artifact's schema title, e.g. `system.Model`.
    pub fn schema_title(&self) -> &'static str {
        K::SCHEMA_TITLE
    }

    /// A view of `other` under this kind that shares its metadata map.
    pub(crate) fn shared_with<L: ArtifactKind>(other: &Output<L>) -> Self {
        Output {
            name: other.name.clone(),
            path: other.path.clone(),
            uri: other.uri.clone(),
            metadata: other.metadata.clone(),
            kind: PhantomData,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::artifact::Model;

    #[test]
    fn metadata_written_through_a_clone_is_seen_by_the_original() {
        let out = Output::<Model>::new("model", "/tmp/x");
        let given_to_function = out.clone();
        given_to_function.set_metadata("accuracy", 0.9);
        assert_eq!(out.metadata()["accuracy"], serde_json::json!(0.9));
        assert_eq!(out.schema_title(), "system.Model");
    }
}
