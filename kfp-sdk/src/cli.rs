//! The command line of a pipeline binary: `compile`, `component-exec`, `list`.
//!
//! A binary gets it with one line, `kfp_sdk::main!();`, which runs [`run`]. The same
//! binary compiles the pipelines it holds and, inside each step's container, runs one
//! component with `component-exec`.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::argo::{self, ArgoOptions};
use crate::component::Implementation;
use crate::executor::{ExecArgs, run_component, write_atomically};
use crate::registry;

#[derive(Parser)]
#[command(about = "A kfp-rs pipeline binary: compile its pipelines, or run one of its components.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a pipeline to an Argo Workflow (YAML).
    Compile {
        /// The pipeline to compile (needed when the binary holds several).
        #[arg(long)]
        pipeline: Option<String>,
        /// Write the YAML to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The image holding this binary, used by components that name no image
        /// [default: $KFP_IMAGE, else BINARY_NAME:latest].
        #[arg(long)]
        image: Option<String>,
        /// The path of this binary inside the image [default: /usr/local/bin/BINARY_NAME].
        #[arg(long)]
        binary: Option<String>,
    },
    /// Run one component: the entry point inside a step's container.
    ComponentExec {
        /// The component's name.
        name: String,
        /// --param NAME=VALUE, --param-file NAME=PATH, --input NAME=PATH,
        /// --output-param NAME=PATH, --output NAME=PATH, --output-metadata NAME=PATH, ...
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// List the pipelines and components in this binary.
    List,
}

/// Parses the command line and runs it; `bin_name` is the binary's name (the `main!` macro
/// passes `CARGO_BIN_NAME`).
pub fn run(bin_name: &str) -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile {
            pipeline,
            output,
            image,
            binary,
        } => {
            let image = image
                .or_else(|| std::env::var("KFP_IMAGE").ok().filter(|s| !s.is_empty()))
                .unwrap_or_else(|| format!("{bin_name}:latest"));
            let binary = binary.unwrap_or_else(|| format!("/usr/local/bin/{bin_name}"));
            compile(
                pipeline.as_deref(),
                output,
                &ArgoOptions::new(image, binary),
            )
        }
        Command::ComponentExec { name, args } => ExecArgs::parse(args)
            .and_then(|args| run_component(&name, args))
            .map_err(|e| e.to_string()),
        Command::List => {
            list();
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Compiles the named pipeline (or the only one) to YAML, checking that this binary can
/// run every component it uses.
pub fn compile_to_yaml(pipeline: Option<&str>, options: &ArgoOptions) -> Result<String, String> {
    let entry = match pipeline {
        Some(name) => registry::find_pipeline(name).map_err(|e| e.to_string())?,
        None => match registry::pipelines().as_slice() {
            [only] => *only,
            [] => return Err("this binary holds no #[pipeline]".into()),
            several => {
                let names: Vec<&str> = several.iter().map(|p| p.name).collect();
                return Err(format!(
                    "this binary holds several pipelines; choose one with --pipeline ({})",
                    names.join(", ")
                ));
            }
        },
    };
    let graph = (entry.graph)().map_err(|e| e.to_string())?;
    for component in graph.components() {
        if matches!(component.implementation, Implementation::Executor) {
            let found = registry::find_component(&component.name).map_err(|e| {
                format!(
                    "component '{}' cannot run in its container: {e}",
                    component.name
                )
            })?;
            if *(found.spec)() != *component {
                return Err(format!(
                    "component '{}' differs from the registered component of that name ({}); \
                     rename one of them",
                    component.name, found.module
                ));
            }
        }
    }
    let workflow = argo::compile(&graph, options).map_err(|e| e.to_string())?;
    for warning in argo::full_crd_warnings(&workflow) {
        eprintln!("warning: {warning}");
    }
    argo::to_yaml(&workflow).map_err(|e| e.to_string())
}

fn compile(
    pipeline: Option<&str>,
    output: Option<PathBuf>,
    options: &ArgoOptions,
) -> Result<(), String> {
    let yaml = compile_to_yaml(pipeline, options)?;
    match output {
        None => {
            print!("{yaml}");
            Ok(())
        }
        Some(path) => write_atomically(&path, yaml.as_bytes())
            .map_err(|e| format!("could not write {}: {e}", path.display())),
    }
}

fn list() {
    println!("pipelines:");
    for p in registry::pipelines() {
        println!("  {}  ({})", p.name, p.module);
    }
    println!("components:");
    for c in registry::components() {
        let spec = (c.spec)();
        let inputs: Vec<String> = spec
            .inputs
            .iter()
            .map(|i| format!("{}: {}", i.name, i.ty))
            .collect();
        let outputs: Vec<String> = spec
            .outputs
            .iter()
            .map(|o| format!("{}: {}", o.name, o.ty))
            .collect();
        println!(
            "  {}({}) -> ({})  ({})",
            c.name,
            inputs.join(", "),
            outputs.join(", "),
            c.module
        );
    }
}

/// Writes `fn main` for a pipeline binary: `kfp_sdk::main!();` at the top level of
/// `src/main.rs` (or an example) gives it the `compile`, `component-exec` and `list`
/// commands for every `#[pipeline]` and `#[component]` linked in.
#[macro_export]
macro_rules! main {
    () => {
        fn main() -> ::std::process::ExitCode {
            $crate::cli::run(::core::env!("CARGO_BIN_NAME"))
        }
    };
}
