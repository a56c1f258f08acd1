//! Running one component inside its container (or a local working folder).
//!
//! `BINARY component-exec NAME` parses its arguments into an [`ExecContext`], finds the
//! component in the [`registry`](super::registry) and runs it ([`run_component`](super::registry::run_component)). Inputs arrive as files or as
//! argument values, never through a shell, so any text (quotes, newlines, `{{`, megabytes)
//! arrives intact. Outputs are written atomically (a temporary file renamed into place), so
//! a killed step never leaves a half-written output behind.
//!
//! The arguments (each but `--root` repeatable):
//!
//! | flag | meaning |
//! | --- | --- |
//! | `--root DIR` | every input and output not named otherwise is at its conventional place under `DIR` (see [`super::paths`]); default `/tmp/kfp`, the layout inside a step's container |
//! | `--param NAME=VALUE` | a parameter input, given inline |
//! | `--param-file NAME=PATH` | a parameter input, read from a file (how Argo passes them) |
//! | `--input NAME=PATH` | an artifact input (a file or a folder); for a list of artifacts, a folder with one entry per artifact |
//! | `--input-metadata NAME=PATH` | the JSON metadata of an artifact input, if known |
//! | `--output-param NAME=PATH` | where to write a parameter output |
//! | `--output NAME=PATH` | where to write an artifact output |
//! | `--output-metadata NAME=PATH` | where to write an artifact output's metadata |
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::artifacts::{Input, Metadata, Output};
use super::fs::write_atomic;
use super::paths;
use crate::ir::artifact::{Artifact, ArtifactKind};
use crate::ir::component::ComponentSpec;
use crate::ir::param::{ParamValue, preview};

/// Why a component could not run, or failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// An input the component needs was not given.
    #[error("component '{component}': input '{input}' was not given")]
    MissingInput {
        /// The component.
        component: String,
        /// The input.
        input: String,
    },
    /// An input's value could not be read as its type.
    #[error("component '{component}': input '{input}': {message}")]
    BadInput {
        /// The component.
        component: String,
        /// The input.
        input: String,
        /// What is wrong.
        message: String,
    },
    /// No path was given for an output the component writes.
    #[error("component '{component}': no path was given for output '{output}'")]
    MissingOutput {
        /// The component.
        component: String,
        /// The output.
        output: String,
    },
    /// Reading or writing a file failed.
    #[error("component '{component}': {path}: {source}")]
    Io {
        /// The component.
        component: String,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The component function returned an error.
    #[error("component '{component}' failed: {message}")]
    Failed {
        /// The component.
        component: String,
        /// The error's message.
        message: String,
    },
    /// The arguments of `component-exec` are malformed.
    #[error("{0}")]
    Usage(String),
}

/// The inputs and output locations of one component run.
#[derive(Debug, Default, Clone)]
pub struct ExecArgs {
    /// Parameter inputs given inline.
    pub params: BTreeMap<String, String>,
    /// Parameter inputs given as files.
    pub param_files: BTreeMap<String, PathBuf>,
    /// Artifact inputs.
    pub inputs: BTreeMap<String, PathBuf>,
    /// Metadata of artifact inputs.
    pub input_metadata: BTreeMap<String, PathBuf>,
    /// Where parameter outputs go.
    pub output_params: BTreeMap<String, PathBuf>,
    /// Where artifact outputs go.
    pub outputs: BTreeMap<String, PathBuf>,
    /// Where the metadata of artifact outputs goes.
    pub output_metadata: BTreeMap<String, PathBuf>,
    /// The folder holding inputs and outputs at their conventional places
    /// ([`paths::CONTAINER_ROOT`] when unset).
    pub root: Option<PathBuf>,
}

impl ExecArgs {
    /// Parses `--flag NAME=VALUE` pairs (the arguments after `component-exec NAME`).
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Self, ExecError> {
        let mut parsed = ExecArgs::default();
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let (flag, inline) = match flag.split_once('=') {
                Some((f, rest)) if f.starts_with("--") => (f.to_owned(), Some(rest.to_owned())),
                _ => (flag, None),
            };
            if flag == "--root" {
                let Some(dir) = inline.or_else(|| args.next()) else {
                    return Err(ExecError::Usage("--root needs a folder".into()));
                };
                parsed.root = Some(PathBuf::from(dir));
                continue;
            }
            let map = match flag.as_str() {
                "--param" => None,
                "--param-file" => Some(&mut parsed.param_files),
                "--input" => Some(&mut parsed.inputs),
                "--input-metadata" => Some(&mut parsed.input_metadata),
                "--output-param" => Some(&mut parsed.output_params),
                "--output" => Some(&mut parsed.outputs),
                "--output-metadata" => Some(&mut parsed.output_metadata),
                other => {
                    return Err(ExecError::Usage(format!(
                        "unknown argument '{other}' (expected --root, --param, --param-file, \
                         --input, --input-metadata, --output-param, --output or --output-metadata)"
                    )));
                }
            };
            let Some(pair) = inline.or_else(|| args.next()) else {
                return Err(ExecError::Usage(format!("{flag} needs NAME=VALUE")));
            };
            let Some((name, value)) = pair.split_once('=') else {
                return Err(ExecError::Usage(format!(
                    "{flag} needs NAME=VALUE, got {}",
                    preview(&pair)
                )));
            };
            match map {
                None => {
                    parsed.params.insert(name.to_owned(), value.to_owned());
                }
                Some(map) => {
                    map.insert(name.to_owned(), PathBuf::from(value));
                }
            }
        }
        Ok(parsed)
    }

    /// The arguments that [`ExecArgs::parse`] reads back into these values.
    pub fn to_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(root) = &self.root {
            out.push("--root".to_owned());
            out.push(root.display().to_string());
        }
        let mut push = |flag: &str, name: &str, value: String| {
            out.push(flag.to_owned());
            out.push(format!("{name}={value}"));
        };
        for (name, value) in &self.params {
            push("--param", name, value.clone());
        }
        let paths = [
            ("--param-file", &self.param_files),
            ("--input", &self.inputs),
            ("--input-metadata", &self.input_metadata),
            ("--output-param", &self.output_params),
            ("--output", &self.outputs),
            ("--output-metadata", &self.output_metadata),
        ];
        for (flag, map) in paths {
            for (name, path) in map {
                push(flag, name, path.display().to_string());
            }
        }
        out
    }
}

/// What a running component reads its inputs from and writes its outputs to.
#[derive(Debug)]
pub struct ExecContext {
    component: String,
    args: ExecArgs,
    pending_metadata: Vec<(String, Output<Artifact>, PathBuf)>,
}

impl ExecContext {
    /// A context for running `component` with these arguments.
    pub fn new(component: impl Into<String>, args: ExecArgs) -> Self {
        ExecContext {
            component: component.into(),
            args,
            pending_metadata: Vec::new(),
        }
    }

    /// The component being run.
    pub fn component(&self) -> &str {
        &self.component
    }

    fn io_error(&self, path: &Path, source: std::io::Error) -> ExecError {
        ExecError::Io {
            component: self.component.clone(),
            path: path.to_owned(),
            source,
        }
    }

    /// The value of a parameter input.
    pub fn param<T: ParamValue>(&self, name: &str) -> Result<T, ExecError> {
        let text = if let Some(value) = self.args.params.get(name) {
            value.clone()
        } else if let Some(path) = self.args.param_files.get(name) {
            match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(ExecError::BadInput {
                        component: self.component.clone(),
                        input: name.to_owned(),
                        message: format!(
                            "was not given (no --param {name}=VALUE, and no file {})",
                            path.display()
                        ),
                    });
                }
                Err(e) => return Err(self.io_error(path, e)),
            }
        } else {
            return Err(ExecError::MissingInput {
                component: self.component.clone(),
                input: name.to_owned(),
            });
        };
        T::from_text(&text).map_err(|e| ExecError::BadInput {
            component: self.component.clone(),
            input: name.to_owned(),
            message: e.to_string(),
        })
    }

    /// An artifact input.
    pub fn input<K: ArtifactKind>(&self, name: &str) -> Result<Input<K>, ExecError> {
        let Some(path) = self.args.inputs.get(name) else {
            return Err(ExecError::MissingInput {
                component: self.component.clone(),
                input: name.to_owned(),
            });
        };
        if !path.exists() {
            return Err(ExecError::BadInput {
                component: self.component.clone(),
                input: name.to_owned(),
                message: format!("the artifact {} does not exist", path.display()),
            });
        }
        let mut input = Input::new(name, path);
        if let Some(meta_path) = self.args.input_metadata.get(name)
            && meta_path.exists()
        {
            let text =
                std::fs::read_to_string(meta_path).map_err(|e| self.io_error(meta_path, e))?;
            let metadata: Metadata =
                serde_json::from_str(&text).map_err(|e| ExecError::BadInput {
                    component: self.component.clone(),
                    input: name.to_owned(),
                    message: format!("metadata {}: {e}", meta_path.display()),
                })?;
            input = input.with_metadata(metadata);
        }
        Ok(input)
    }

    /// A list-of-artifacts input (`Vec<Input<K>>`): the folder given for it holds one entry
    /// per artifact, taken in the order of the entries' names. An entry that is an artifact
    /// folder of a Rust component (`data` and `metadata.json`) gives its payload and
    /// metadata; one with `data` but no `metadata.json` is the remains of a failed try (the
    /// executor writes the metadata last, on success) and is left out; any other entry is an
    /// artifact as it is. A missing or empty folder is an empty list (a loop over no items).
    pub fn input_list<K: ArtifactKind>(&self, name: &str) -> Result<Vec<Input<K>>, ExecError> {
        let Some(folder) = self.args.inputs.get(name) else {
            return Err(ExecError::MissingInput {
                component: self.component.clone(),
                input: name.to_owned(),
            });
        };
        let entries = match std::fs::read_dir(folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io_error(folder, e)),
        };
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.io_error(folder, e))?;
            let file_name = entry.file_name();
            // Hidden entries are temporary files, never artifacts.
            if file_name.to_string_lossy().starts_with('.') {
                continue;
            }
            paths.push(entry.path());
        }
        paths.sort();
        let mut inputs = Vec::with_capacity(paths.len());
        for path in paths {
            let data = path.join(paths::ARTIFACT_DATA);
            let metadata = path.join(paths::ARTIFACT_METADATA);
            if !data.exists() {
                inputs.push(Input::new(name, path));
                continue;
            }
            if !metadata.exists() {
                continue;
            }
            let text =
                std::fs::read_to_string(&metadata).map_err(|e| self.io_error(&metadata, e))?;
            let parsed: Metadata =
                serde_json::from_str(&text).map_err(|e| ExecError::BadInput {
                    component: self.component.clone(),
                    input: name.to_owned(),
                    message: format!("metadata {}: {e}", metadata.display()),
                })?;
            inputs.push(Input::new(name, data).with_metadata(parsed));
        }
        Ok(inputs)
    }

    /// An artifact output: its parent folder is created, and its metadata is saved by
    /// [`ExecContext::finish`].
    pub fn output<K: ArtifactKind>(&mut self, name: &str) -> Result<Output<K>, ExecError> {
        let Some(path) = self.args.outputs.get(name).cloned() else {
            return Err(ExecError::MissingOutput {
                component: self.component.clone(),
                output: name.to_owned(),
            });
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| self.io_error(parent, e))?;
        }
        let output = Output::<K>::new(name, &path);
        if let Some(meta_path) = self.args.output_metadata.get(name).cloned() {
            // The same shared metadata map, seen through the untyped kind.
            let untyped = Output::<Artifact>::shared_with(&output);
            self.pending_metadata
                .push((name.to_owned(), untyped, meta_path));
        }
        Ok(output)
    }

    /// Writes a parameter output.
    pub fn write_param<T: ParamValue>(&mut self, name: &str, value: &T) -> Result<(), ExecError> {
        let Some(path) = self.args.output_params.get(name).cloned() else {
            return Err(ExecError::MissingOutput {
                component: self.component.clone(),
                output: name.to_owned(),
            });
        };
        let text = value.to_text().map_err(|e| ExecError::Failed {
            component: self.component.clone(),
            message: format!("output '{name}' could not be encoded: {e}"),
        })?;
        write_atomic(&path, text.as_bytes()).map_err(|e| self.io_error(&path, e))
    }

    /// Checks that every artifact output was written and saves their metadata; call once
    /// the function has returned.
    pub fn finish(&mut self) -> Result<(), ExecError> {
        for (name, output, _) in &self.pending_metadata {
            if !output.path().exists() {
                return Err(ExecError::Failed {
                    component: self.component.clone(),
                    message: format!(
                        "it returned without writing its output artifact '{name}' ({})",
                        output.path().display()
                    ),
                });
            }
        }
        for (_, output, path) in std::mem::take(&mut self.pending_metadata) {
            let json = serde_json::to_vec_pretty(&output.metadata()).unwrap_or_default();
            write_atomic(&path, &json).map_err(|e| self.io_error(&path, e))?;
        }
        Ok(())
    }

    /// Turns a component function's error into [`ExecError::Failed`].
    pub fn failed(&self, error: impl std::fmt::Display) -> ExecError {
        ExecError::Failed {
            component: self.component.clone(),
            message: format!("{error:#}"),
        }
    }
}

impl ExecArgs {
    /// Fills in, under [`ExecArgs::root`] (default [`paths::CONTAINER_ROOT`]), the
    /// conventional place of every input and output of `spec` that no flag named (see
    /// [`super::paths`]).
    pub fn with_conventional_paths(mut self, spec: &ComponentSpec) -> Self {
        let root = self
            .root
            .clone()
            .unwrap_or_else(|| PathBuf::from(paths::CONTAINER_ROOT));
        let at = |relative: String| -> PathBuf { paths::under(&root, &relative) };
        for input in &spec.inputs {
            let name = &input.name;
            if input.ty.is_artifact_list() {
                // A folder of artifacts, read by `ExecContext::input_list`.
                self.inputs
                    .entry(name.clone())
                    .or_insert_with(|| at(paths::artifact_input(name)));
            } else if input.ty.is_artifact() {
                if self.inputs.contains_key(name) {
                    continue;
                }
                // A Rust component's artifact is a folder with the payload and metadata; an
                // artifact from anything else is used as it is.
                let place = at(paths::artifact_input(name));
                let data = place.join(paths::ARTIFACT_DATA);
                if data.exists() {
                    self.input_metadata
                        .entry(name.clone())
                        .or_insert_with(|| place.join(paths::ARTIFACT_METADATA));
                    self.inputs.insert(name.clone(), data);
                } else {
                    self.inputs.insert(name.clone(), place);
                }
            } else if !self.params.contains_key(name) {
                self.param_files
                    .entry(name.clone())
                    .or_insert_with(|| at(paths::param_input(name)));
            }
        }
        for output in &spec.outputs {
            let name = &output.name;
            if output.ty.is_artifact() {
                let place = at(paths::artifact_output(name));
                self.outputs
                    .entry(name.clone())
                    .or_insert_with(|| place.join(paths::ARTIFACT_DATA));
                self.output_metadata
                    .entry(name.clone())
                    .or_insert_with(|| place.join(paths::ARTIFACT_METADATA));
            } else {
                self.output_params
                    .entry(name.clone())
                    .or_insert_with(|| at(paths::param_output(name)));
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_round_trip_and_keep_equals_signs_in_values() {
        let args = ExecArgs::parse(
            [
                "--param",
                "x=a=b",
                "--param=y={{q}}",
                "--output-param",
                "sum=/tmp/o",
            ]
            .map(String::from),
        )
        .unwrap();
        assert_eq!(args.params["x"], "a=b");
        assert_eq!(args.params["y"], "{{q}}");
        let again = ExecArgs::parse(args.to_args()).unwrap();
        assert_eq!(again.params, args.params);
        assert_eq!(again.output_params, args.output_params);
    }

    #[test]
    fn the_root_gives_every_input_and_output_its_conventional_place() {
        use crate::{IoType, ParamType};
        let spec = crate::ComponentSpec::new("c")
            .input("x", IoType::Parameter(ParamType::Double))
            .input("given", IoType::Parameter(ParamType::Double))
            .input("data", IoType::artifact::<crate::Dataset>())
            .input("models", IoType::artifact_list::<crate::Model>())
            .output("model", IoType::artifact::<crate::Model>())
            .output("y", IoType::Parameter(ParamType::Double));
        let args = ExecArgs::parse(["--root", "/r", "--param", "given=1"].map(String::from))
            .unwrap()
            .with_conventional_paths(&spec);
        assert_eq!(args.param_files["x"], Path::new("/r/in/x"));
        assert!(!args.param_files.contains_key("given"));
        assert_eq!(
            args.inputs["data"],
            Path::new("/r/in/data"),
            "no folder layout there"
        );
        assert_eq!(
            args.inputs["models"],
            Path::new("/r/in/models"),
            "a folder of artifacts"
        );
        assert!(!args.input_metadata.contains_key("models"));
        assert_eq!(args.outputs["model"], Path::new("/r/out/model/data"));
        assert_eq!(
            args.output_metadata["model"],
            Path::new("/r/out/model/metadata.json")
        );
        assert_eq!(args.output_params["y"], Path::new("/r/out/y"));
        assert_eq!(ExecArgs::parse(args.to_args()).unwrap().root, args.root);
    }

    #[test]
    fn malformed_arguments_are_reported() {
        let err = ExecArgs::parse(["--bogus", "x=1"].map(String::from)).unwrap_err();
        assert!(err.to_string().contains("unknown argument '--bogus'"));
        let err = ExecArgs::parse(["--param", "novalue"].map(String::from)).unwrap_err();
        assert!(err.to_string().contains("needs NAME=VALUE"));
        let err = ExecArgs::parse(["--input"].map(String::from)).unwrap_err();
        assert!(err.to_string().contains("needs NAME=VALUE"));
    }

    #[test]
    fn params_come_from_values_or_files_and_errors_name_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big");
        let big = "line \"one\"\n{{inputs.parameters.x}}\n".repeat(40_000);
        std::fs::write(&file, &big).unwrap();
        let mut args = ExecArgs::default();
        args.param_files.insert("text".into(), file);
        args.params.insert("n".into(), "seven".into());
        let ctx = ExecContext::new("demo", args);
        assert_eq!(ctx.param::<String>("text").unwrap(), big);
        let err = ctx.param::<u32>("n").unwrap_err().to_string();
        assert!(
            err.starts_with("component 'demo': input 'n': expected NUMBER_INTEGER"),
            "{err}"
        );
        let err = ctx.param::<u32>("absent").unwrap_err().to_string();
        assert_eq!(err, "component 'demo': input 'absent' was not given");
    }

    #[test]
    fn artifact_lists_are_read_in_name_order_without_failed_tries() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("models");
        let artifact = |entry: &str, data: &str, metadata: Option<&str>| {
            let at = folder.join(entry);
            std::fs::create_dir_all(&at).unwrap();
            std::fs::write(at.join("data"), data).unwrap();
            if let Some(metadata) = metadata {
                std::fs::write(at.join("metadata.json"), metadata).unwrap();
            }
        };
        artifact("wf-loop-2", "second", Some(r#"{"lr": 0.1}"#));
        artifact("wf-loop-1", "first", Some(r#"{"lr": 0.01}"#));
        artifact("wf-loop-0-failed", "half", None);
        std::fs::write(folder.join("plain"), "from a container component").unwrap();
        std::fs::write(folder.join(".partial.tmp"), "ignored").unwrap();
        let mut args = ExecArgs::default();
        args.inputs.insert("models".into(), folder.clone());
        let ctx = ExecContext::new("pick", args);
        let models = ctx.input_list::<crate::Model>("models").unwrap();
        let read: Vec<String> = models
            .iter()
            .map(|m| std::fs::read_to_string(m.path()).unwrap())
            .collect();
        assert_eq!(read, ["from a container component", "first", "second"]);
        assert_eq!(models[1].metadata()["lr"], 0.01);
        assert!(models[0].metadata().is_empty());
        assert_eq!(models[2].name(), "models");

        // A loop over no items: no folder at all, or an empty one.
        let mut args = ExecArgs::default();
        args.inputs
            .insert("models".into(), dir.path().join("absent"));
        let ctx = ExecContext::new("pick", args);
        assert!(ctx.input_list::<crate::Model>("models").unwrap().is_empty());
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        let mut args = ExecArgs::default();
        args.inputs
            .insert("models".into(), dir.path().join("empty"));
        let ctx = ExecContext::new("pick", args);
        assert!(ctx.input_list::<crate::Model>("models").unwrap().is_empty());

        // Bad metadata names the input.
        artifact("wf-loop-3", "third", Some("not json"));
        let mut args = ExecArgs::default();
        args.inputs.insert("models".into(), folder);
        let err = ExecContext::new("pick", args)
            .input_list::<crate::Model>("models")
            .unwrap_err()
            .to_string();
        assert!(err.contains("input 'models': metadata"), "{err}");
    }

    #[test]
    fn outputs_and_metadata_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = ExecArgs::default();
        args.output_params
            .insert("n".into(), dir.path().join("params/n"));
        args.outputs
            .insert("model".into(), dir.path().join("artifacts/model"));
        args.output_metadata
            .insert("model".into(), dir.path().join("meta/model.json"));
        let mut ctx = ExecContext::new("demo", args);
        ctx.write_param("n", &7u32).unwrap();
        let model = ctx.output::<crate::Model>("model").unwrap();
        std::fs::write(model.path(), b"weights").unwrap();
        model.set_metadata("framework", "kfp-rs");
        ctx.finish().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("params/n")).unwrap(),
            "7"
        );
        let meta = std::fs::read_to_string(dir.path().join("meta/model.json")).unwrap();
        assert!(meta.contains("\"framework\": \"kfp-rs\""), "{meta}");
    }
}
