//! The errors of the Caltech101 loader. Each one names the file or folder it is about.
use std::path::PathBuf;

/// Why loading, splitting or writing the dataset failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The source path does not exist.
    #[error(
        "{path}: no such file or folder (expected 101_ObjectCategories.tar.gz, caltech-101.zip or an extracted 101_ObjectCategories folder)"
    )]
    NotFound {
        /// The path that was given.
        path: PathBuf,
    },
    /// A file or folder could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The source is a file of a kind this loader does not read.
    #[error("{path}: not a Caltech101 source: {reason}")]
    UnknownSource {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The archive ends early or its compressed data or tar headers are damaged.
    #[error("{path}: the archive is truncated or corrupt{}: {source}", entry_note(.entry))]
    Archive {
        /// The archive file.
        path: PathBuf,
        /// The last entry read before the failure, if any.
        entry: Option<String>,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The source holds no class folders with images.
    #[error("{path}: no images found (expected <root>/<class>/<image>.jpg)")]
    NoImages {
        /// The source.
        path: PathBuf,
    },
    /// Classes asked for by name are not in the source.
    #[error("unknown class(es) {}; the source has {available} classes, e.g. {examples}", names.join(", "))]
    UnknownClasses {
        /// The names that were not found.
        names: Vec<String>,
        /// How many classes the source has.
        available: usize,
        /// A few of the source's class names.
        examples: String,
    },
    /// A class asked for by name holds no usable image.
    #[error("class '{class}' holds no usable image")]
    EmptyClass {
        /// The class folder's name.
        class: String,
    },
    /// An image could not be decoded (with [`BadImagePolicy::Fail`](super::BadImagePolicy::Fail)).
    #[error("{file}: {reason} (use --on-bad-image=skip to leave such files out)")]
    BadImage {
        /// The file, as `class/name` inside the source.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An option has a value that cannot work.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A split file list names an image that is not in the source, or is malformed.
    #[error("{path}: {reason}")]
    SplitList {
        /// The list file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The dataset artifact could not be written.
    #[error("{path}: cannot write the dataset: {source}")]
    Write {
        /// The file or folder being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A folder is not a dataset artifact this crate wrote, or it is damaged.
    #[error("{path}: not a readable Caltech101 dataset artifact: {reason}")]
    BadArtifact {
        /// The file inside the artifact.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Downloading failed (feature `download`).
    #[error("downloading {url}: {reason}")]
    Download {
        /// The address.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A downloaded or given file does not have the expected checksum (feature `download`).
    #[error("{path}: checksum mismatch: expected MD5 {expected}, got {actual}")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The expected digest (hex).
        expected: String,
        /// The digest of the file (hex).
        actual: String,
    },
}

fn entry_note(entry: &Option<String>) -> String {
    match entry {
        Some(entry) => format!(" (after entry {entry})"),
        None => String::new(),
    }
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Write`] for `path`.
    pub(crate) fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Write {
            path: path.into(),
            source,
        }
    }
}

/// A problem with one file that did not stop loading (with
/// [`BadImagePolicy::Skip`](super::BadImagePolicy::Skip), or a file that is not an image).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Warning {
    /// The file or folder, as a path inside the source (`class/name`).
    pub file: String,
    /// What is wrong and what was done about it.
    pub reason: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.reason)
    }
}
