//! Component specifications: what a step takes, what it produces and how it runs.
//!
//! A [`ComponentSpec`] is plain data. `#[component]` builds one from a function's
//! signature, and you can build one by hand (the task settings, such as `.retries(n)`, are
//! the same methods a task has: see `dsl::TaskRef`):
//!
//! ```
//! use kfp_sdk::{ComponentSpec, IoType, ParamType};
//!
//! let spec = ComponentSpec::new("add")
//!     .description("Adds two numbers.")
//!     .input("x", IoType::Parameter(ParamType::Double))
//!     .input("y", IoType::Parameter(ParamType::Double))
//!     .output("sum", IoType::Parameter(ParamType::Double))
//!     .retries(2);
//! assert_eq!(spec.inputs.len(), 2);
//! assert_eq!(spec.config.retry.as_ref().unwrap().limit, 2);
//! ```
use super::artifact::ArtifactKind;
use super::config::{Resources, TaskConfig};
use super::param::ParamType;

/// The type of a component input or output.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IoType {
    /// A parameter of the given type.
    Parameter(ParamType),
    /// An artifact with the given schema title (e.g. `system.Dataset`).
    Artifact(String),
    /// A list of artifacts with the given schema title: what a loop collects from an artifact
    /// its iterations make (fan-in), and what a `Vec<Input<K>>` component input takes. It
    /// holds one artifact per iteration that made one, possibly none.
    ArtifactList(String),
}

impl IoType {
    /// The artifact type with this kind's schema title.
    pub fn artifact<K: ArtifactKind>() -> Self {
        IoType::Artifact(K::SCHEMA_TITLE.to_owned())
    }

    /// The list-of-artifacts type with this kind's schema title.
    pub fn artifact_list<K: ArtifactKind>() -> Self {
        IoType::ArtifactList(K::SCHEMA_TITLE.to_owned())
    }

    /// Whether this is one artifact (not a list of them: see [`IoType::is_artifact_list`]).
    pub fn is_artifact(&self) -> bool {
        matches!(self, IoType::Artifact(_))
    }

    /// Whether this is a list of artifacts.
    pub fn is_artifact_list(&self) -> bool {
        matches!(self, IoType::ArtifactList(_))
    }
}

impl std::fmt::Display for IoType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IoType::Parameter(t) => write!(f, "parameter {t}"),
            IoType::Artifact(title) => write!(f, "artifact {title}"),
            IoType::ArtifactList(title) => write!(f, "list of artifacts {title}"),
        }
    }
}

/// One input of a component or a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    /// The input's name (a Rust identifier when it comes from `#[component]`).
    pub name: String,
    /// Its type.
    pub ty: IoType,
    /// The value used when a task leaves the input unset (parameters only).
    pub default: Option<serde_json::Value>,
    /// A description for UIs and generated docs.
    pub description: Option<String>,
}

/// One output of a component or a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    /// The output's name.
    pub name: String,
    /// Its type.
    pub ty: IoType,
    /// A description for UIs and generated docs.
    pub description: Option<String>,
}

impl OutputSpec {
    /// An output with this name and type.
    pub fn new(name: impl Into<String>, ty: IoType) -> Self {
        OutputSpec {
            name: name.into(),
            ty,
            description: None,
        }
    }
}

/// How a component runs inside its container.
#[derive(Debug, Clone, PartialEq)]
pub enum Implementation {
    /// The pipeline binary runs the component itself: `BINARY component-exec NAME ...`.
    /// This is what `#[component]` produces.
    Executor,
    /// An arbitrary container: this image and this command, with placeholders for the
    /// inputs and outputs (the equivalent of kfp's `@dsl.container_component`).
    Container {
        /// The image; it is required since the pipeline's image does not hold this program.
        image: String,
        /// The program and its arguments.
        command: Vec<CommandPart>,
    },
}

/// One element of a container component's command line.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandPart {
    /// This text, verbatim.
    Literal(String),
    /// The value of the named parameter input.
    InputValue(String),
    /// The local path of the named artifact input.
    InputPath(String),
    /// The local path where the named output (parameter or artifact) must be written.
    OutputPath(String),
}

/// Everything the pipeline graph and the emitters need to know about a component.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentSpec {
    /// The component's name, unique in a binary: `component-exec NAME` runs it.
    pub name: String,
    /// A description (by default the function's doc comment).
    pub description: Option<String>,
    /// The inputs, in signature order.
    pub inputs: Vec<InputSpec>,
    /// The outputs, in signature order (artifact outputs, then returned values).
    pub outputs: Vec<OutputSpec>,
    /// How it runs.
    pub implementation: Implementation,
    /// The image for [`Implementation::Executor`] components; the pipeline's default when unset.
    pub image: Option<String>,
    /// Defaults for every task of this component (resources, retries, env, caching).
    pub config: TaskConfig,
}

impl ComponentSpec {
    /// A component run by the pipeline binary, with no inputs or outputs yet.
    pub fn new(name: impl Into<String>) -> Self {
        ComponentSpec {
            name: name.into(),
            description: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
            implementation: Implementation::Executor,
            image: None,
            config: TaskConfig::default(),
        }
    }

    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        let text = text.into();
        self.description = (!text.trim().is_empty()).then_some(text);
        self
    }

    /// Adds an input with no default.
    pub fn input(mut self, name: impl Into<String>, ty: IoType) -> Self {
        self.inputs.push(InputSpec {
            name: name.into(),
            ty,
            default: None,
            description: None,
        });
        self
    }

    /// Adds a parameter input with a default value.
    pub fn input_with_default(
        mut self,
        name: impl Into<String>,
        ty: ParamType,
        default: serde_json::Value,
    ) -> Self {
        self.inputs.push(InputSpec {
            name: name.into(),
            ty: IoType::Parameter(ty),
            default: Some(default),
            description: None,
        });
        self
    }

    /// Adds an output.
    pub fn output(mut self, name: impl Into<String>, ty: IoType) -> Self {
        self.outputs.push(OutputSpec::new(name, ty));
        self
    }

    /// Adds outputs.
    pub fn outputs(mut self, outputs: impl IntoIterator<Item = OutputSpec>) -> Self {
        self.outputs.extend(outputs);
        self
    }

    /// Sets the image this component runs in.
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }

    /// Makes this a container component: `image` runs `command`.
    pub fn container(mut self, image: impl Into<String>, command: Vec<CommandPart>) -> Self {
        self.implementation = Implementation::Container {
            image: image.into(),
            command,
        };
        self
    }

    /// Sets the default resources of its tasks.
    pub fn resources(mut self, resources: Resources) -> Self {
        self.config.resources = resources;
        self
    }

    /// Every input's and output's name, with `"input"` or `"output"`, inputs first (they
    /// share one namespace).
    pub(crate) fn io_names(&self) -> impl Iterator<Item = (&str, &'static str)> {
        let inputs = self.inputs.iter().map(|i| (i.name.as_str(), "input"));
        inputs.chain(self.outputs.iter().map(|o| (o.name.as_str(), "output")))
    }

    /// The input with this name.
    pub fn find_input(&self, name: &str) -> Option<&InputSpec> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// The output with this name.
    pub fn find_output(&self, name: &str) -> Option<&OutputSpec> {
        self.outputs.iter().find(|o| o.name == name)
    }
}
