//! The command line of a pipeline binary: `compile`, `run`, `runs`, `component-exec`, `list`.
//!
//! A binary gets it with one line, `kfp_sdk::main!();`, which runs [`run`]. The same
//! binary compiles the pipelines it holds (`compile --target argo`, the default and, for
//! now, the only [`Target`]) and, inside each step's container, runs one component with
//! `component-exec`.
//!
//! The command line sits on top of everything: it dispatches to the backends (`argo`,
//! `local`) and the run-time support (`runtime`); nothing imports it but the `main!` macro.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::argo::{self, ArgoOptions};
use crate::ir::component::Implementation;
use crate::ir::graph::PipelineGraph;
use crate::local;
use crate::runtime::executor::ExecArgs;
use crate::runtime::fs::write_atomic;
use crate::runtime::params::parse_params;
use crate::runtime::registry::{self, run_component};

mod argo_args;
pub use argo_args::{ArgoArgs, KindArg};

/// What `compile` writes a pipeline for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Argo Workflows: a Workflow, a WorkflowTemplate or a CronWorkflow.
    #[default]
    Argo,
}

#[derive(Parser)]
#[command(about = "A kfp-rs pipeline binary: compile its pipelines, or run one of its components.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a pipeline to Argo YAML: a Workflow, a WorkflowTemplate or a CronWorkflow.
    Compile {
        /// The system to compile for.
        #[arg(long, value_enum, default_value_t = Target::Argo)]
        target: Target,
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
        /// The resource kind and workflow-level options (`--target argo`).
        #[command(flatten)]
        argo: Box<ArgoArgs>,
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
    /// Run a pipeline on this machine (each task a child process; results cached).
    Run {
        /// The pipeline to run (needed when the binary holds several).
        #[arg(long)]
        pipeline: Option<String>,
        /// A pipeline parameter: NAME=VALUE (repeatable).
        #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// A JSON or YAML file with an object of parameter values.
        #[arg(long, value_name = "FILE")]
        params_file: Option<PathBuf>,
        /// How many tasks may run at once [default: the number of cores].
        #[arg(long)]
        parallelism: Option<usize>,
        /// Where runs and the cache are kept [default: $KFP_LOCAL_STORE, else .kfp-local].
        #[arg(long)]
        store: Option<PathBuf>,
        /// Run every task, reusing nothing from earlier runs.
        #[arg(long)]
        no_cache: bool,
        /// Continue an earlier run (its id and parameters), skipping what it finished.
        #[arg(long, value_name = "RUN_ID")]
        resume: Option<String>,
        /// On the first failure, kill running tasks (default: let them finish).
        #[arg(long)]
        fail_fast: bool,
        /// Print each task's output lines, prefixed by its name, as they come.
        #[arg(long)]
        stream_logs: bool,
        /// Hash every file of a cached result before reusing it (default: only results whose
        /// file metadata changed).
        #[arg(long)]
        verify_cache: bool,
        /// Seconds a task may take to stop after SIGTERM when the run is interrupted.
        #[arg(long, value_name = "SECONDS", default_value_t = 5)]
        grace_period: u64,
    },
    /// Read the records of local runs.
    Runs {
        #[command(subcommand)]
        command: RunsCommand,
        /// The store to read [default: $KFP_LOCAL_STORE, else .kfp-local].
        #[arg(long, global = true)]
        store: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RunsCommand {
    /// One line per run.
    List,
    /// A run's tasks, outputs and where its files are.
    Show {
        /// The run's id.
        id: String,
        /// Print the run record as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Parses the command line and runs it; `bin_name` is the binary's name (the `main!` macro
/// passes `CARGO_BIN_NAME`).
pub fn run(bin_name: &str) -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile {
            target,
            pipeline,
            output,
            image,
            binary,
            argo,
        } => {
            let image = image
                .or_else(|| std::env::var("KFP_IMAGE").ok().filter(|s| !s.is_empty()))
                .unwrap_or_else(|| format!("{bin_name}:latest"));
            let binary = binary.unwrap_or_else(|| format!("/usr/local/bin/{bin_name}"));
            match target {
                Target::Argo => argo.to_options().and_then(|(workflow, kind)| {
                    let options = ArgoOptions::new(image, binary).with_workflow(workflow);
                    compile(pipeline.as_deref(), output, &options, &kind)
                }),
            }
        }
        Command::ComponentExec { name, args } => ExecArgs::parse(args)
            .and_then(|args| run_component(&name, args))
            .map_err(|e| e.to_string()),
        Command::List => {
            list();
            Ok(())
        }
        Command::Run {
            pipeline,
            params,
            params_file,
            parallelism,
            store,
            no_cache,
            resume,
            fail_fast,
            stream_logs,
            verify_cache,
            grace_period,
        } => {
            let interrupt = match local::interrupt_on_signals() {
                Ok(flag) => Some(flag),
                Err(e) => return fail(format!("cannot handle SIGINT/SIGTERM: {e}")),
            };
            let mut options = local::RunOptions {
                interrupt,
                verify_cache,
                grace: std::time::Duration::from_secs(grace_period),
                store: store.unwrap_or_else(local::Store::default_root),
                cache: !no_cache,
                fail_fast,
                stream_logs,
                resume,
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()) && !stream_logs,
                ..local::RunOptions::default()
            };
            if let Some(n) = parallelism {
                options.parallelism = n.max(1);
            }
            run_locally(
                pipeline.as_deref(),
                &params,
                params_file.as_deref(),
                &options,
            )
        }
        Command::Runs { command, store } => {
            let store = local::Store::new(store.unwrap_or_else(local::Store::default_root));
            runs(&store, command)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(message),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

/// The named pipeline, or the only one in the binary.
fn choose_pipeline(pipeline: Option<&str>) -> Result<&'static registry::PipelineEntry, String> {
    Ok(match pipeline {
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
    })
}

/// Builds the pipeline's graph and checks that this binary can run every component in it.
fn runnable_graph(pipeline: Option<&str>) -> Result<PipelineGraph, String> {
    let entry = choose_pipeline(pipeline)?;
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
    Ok(graph)
}

/// Compiles the named pipeline (or the only one) to YAML, checking that this binary can
/// run every component it uses.
pub fn compile_to_yaml(pipeline: Option<&str>, options: &ArgoOptions) -> Result<String, String> {
    compile_resource_to_yaml(pipeline, options, &argo::ResourceKind::Workflow)
}

/// Compiles the named pipeline (or the only one) to YAML as the resource `kind` (a
/// `Workflow`, a `WorkflowTemplate` and the `Workflow` running it, or a `CronWorkflow`).
pub fn compile_resource_to_yaml(
    pipeline: Option<&str>,
    options: &ArgoOptions,
    kind: &argo::ResourceKind,
) -> Result<String, String> {
    let graph = runnable_graph(pipeline)?;
    for warning in crate::ir::secrets::literal_secret_warnings(&graph) {
        eprintln!("warning: {warning}");
    }
    let resource = argo::compile_as(&graph, options, kind).map_err(|e| e.to_string())?;
    let warnings = match &resource {
        argo::Resource::Workflow(workflow) => argo::full_crd_warnings(workflow),
        other => argo::full_crd_warnings(&argo::model::Workflow::new(
            Default::default(),
            other.workflow_spec().clone(),
        )),
    };
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    resource.to_yaml().map_err(|e| e.to_string())
}

fn compile(
    pipeline: Option<&str>,
    output: Option<PathBuf>,
    options: &ArgoOptions,
    kind: &argo::ResourceKind,
) -> Result<(), String> {
    let yaml = compile_resource_to_yaml(pipeline, options, kind)?;
    match output {
        None => {
            print!("{yaml}");
            Ok(())
        }
        Some(path) => write_atomic(&path, yaml.as_bytes())
            .map_err(|e| format!("could not write {}: {e}", path.display())),
    }
}

fn run_locally(
    pipeline: Option<&str>,
    pairs: &[String],
    file: Option<&std::path::Path>,
    options: &local::RunOptions,
) -> Result<(), String> {
    let graph = runnable_graph(pipeline)?;
    let params = parse_params(&graph, pairs, file)?;
    let record = local::run(&graph, params, options).map_err(|e| e.to_string())?;
    print!("{}", local::report::summary(&record));
    let store = local::Store::new(
        std::path::absolute(&options.store).unwrap_or_else(|_| options.store.clone()),
    );
    println!("results: {}", store.run_dir(&record.id).display());
    match record.status.as_str() {
        "succeeded" => Ok(()),
        "interrupted" => Err(format!(
            "run {} was interrupted; continue it with --resume {}",
            record.id, record.id
        )),
        _ => Err(format!("run {} failed", record.id)),
    }
}

fn runs(store: &local::Store, command: RunsCommand) -> Result<(), String> {
    match command {
        RunsCommand::List => {
            let records = store.list().map_err(|e| e.to_string())?;
            if records.is_empty() {
                println!("no runs in {}", store.root().display());
            }
            for r in records {
                let cached = r
                    .tasks
                    .iter()
                    .filter(|t| t.status == local::TaskStatus::Cached)
                    .count();
                let status = if r.status == "running" && !local::lease::is_live(store, &r.id) {
                    "running? (its runner is gone)"
                } else {
                    r.status.as_str()
                };
                println!(
                    "{}  {}  {:<9}  {:>8.2} s  {} tasks ({} cached)",
                    r.id,
                    r.started,
                    status,
                    r.seconds,
                    r.tasks.len(),
                    cached
                );
            }
            Ok(())
        }
        RunsCommand::Show { id, json } => {
            let record = store.load(&id).map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&record).map_err(|e| e.to_string())?
                );
            } else {
                print!("{}", local::report::summary(&record));
                println!("folder: {}", store.run_dir(&id).display());
            }
            Ok(())
        }
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
