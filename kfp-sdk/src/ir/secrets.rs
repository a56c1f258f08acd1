//! A warning for environment variables whose name says they hold a secret but whose value is
//! written into the pipeline: it ends up in the compiled YAML (and the cluster's etcd, the
//! Argo UI, every copy of the file). Such values belong in a Kubernetes Secret, referenced by
//! `env_from_secret`.

use super::graph::{Executable, PipelineGraph};

/// Name parts that mark a secret (compared without case).
const SECRET_WORDS: [&str; 6] = ["PASSWORD", "PASSWD", "TOKEN", "SECRET", "KEY", "CREDENTIAL"];

/// Whether an environment variable's name says it holds a secret (`DB_PASSWORD`,
/// `API_TOKEN`, `aws_secret_access_key`, `SSH_KEY`, ...).
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|word| upper.contains(word))
}

/// One warning per task (and pipeline used as a step) that sets a secret-looking variable to
/// a literal value, naming the pipeline, the task and the variable, never the value.
///
/// ```
/// use kfp_sdk::dsl::{PipelineBuilder, TaskBuilder};
/// use kfp_sdk::ComponentSpec;
/// use std::sync::Arc;
///
/// let step = Arc::new(ComponentSpec::new("step").env("DB_PASSWORD", "hunter2"));
/// let graph = PipelineBuilder::new("p")
///     .build(|| { TaskBuilder::new(step).add(); })
///     .unwrap();
/// let warnings = kfp_sdk::ir::secrets::literal_secret_warnings(&graph);
/// assert_eq!(warnings.len(), 1);
/// assert!(warnings[0].contains("DB_PASSWORD") && !warnings[0].contains("hunter2"));
/// ```
pub fn literal_secret_warnings(graph: &PipelineGraph) -> Vec<String> {
    let mut warnings = Vec::new();
    collect(graph, &mut warnings);
    warnings
}

fn collect(graph: &PipelineGraph, warnings: &mut Vec<String>) {
    for task in graph.tasks.iter().chain(graph.exit_handler.as_deref()) {
        let config = task.effective_config();
        for name in config.env.keys().filter(|name| looks_secret(name)) {
            warnings.push(format!(
                "pipeline '{}', task '{}': the environment variable {name} looks like a secret \
                 but its value is written into the pipeline (and so into the YAML); keep it in a \
                 Kubernetes Secret and use env_from_secret(\"{name}\", SECRET, KEY) instead",
                graph.name, task.name
            ));
        }
        if let Executable::Pipeline(inner) = &task.executable {
            collect(inner, warnings);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_recognised_and_plain_ones_are_not() {
        for name in [
            "DB_PASSWORD",
            "api_token",
            "AWS_SECRET_ACCESS_KEY",
            "SSH_KEY",
            "Credentials",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in ["RUST_LOG", "HOME", "EPOCHS", "KFP_IMAGE"] {
            assert!(!looks_secret(name), "{name}");
        }
    }
}
