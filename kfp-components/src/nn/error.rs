//! The errors of the CNN engine, its training loop and its exporters.
use std::path::PathBuf;

/// Why building, running, training, saving or exporting a model failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NnError {
    /// The architecture description is inconsistent (names the layer and what is wrong).
    #[error("model spec: layer `{layer}`: {message}")]
    Spec {
        /// The layer's name, or its index when it has none.
        layer: String,
        /// What is wrong.
        message: String,
    },
    /// A tensor handed to the engine has the wrong shape.
    #[error("{what}: expected shape {expected:?}, got {got:?}")]
    Shape {
        /// Which tensor.
        what: String,
        /// The shape the model needs (0 = any size).
        expected: Vec<usize>,
        /// The shape that was given.
        got: Vec<usize>,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its content is not what was expected.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A named weight tensor is missing, unexpected, or holds unusable values (names it).
    #[error("weight `{name}`: {message}")]
    Weight {
        /// The tensor's name (`<layer>.<role>`).
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A hyperparameter or option is out of range (names it).
    #[error("{name}: {message}")]
    Option {
        /// The option's name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

impl NnError {
    /// An [`NnError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        NnError::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`NnError::Format`] for `path`.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        NnError::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An [`NnError::Option`] for the option `name`.
    pub fn option(name: impl Into<String>, message: impl Into<String>) -> Self {
        NnError::Option {
            name: name.into(),
            message: message.into(),
        }
    }
}
