//! A small interpreter of the Argo Workflows we emit, for tests: it runs a workflow's DAG on
//! this machine the way Argo would (argument substitution, raw input artifacts, output
//! parameters read from files, artifacts passed by path), starting each container step as
//! the example binary with `/tmp/kfp` mapped to a fresh folder per step.
//!
//! It supports what our emitter produces (DAG and container templates, `depends` on task
//! names, parameters and artifacts) and panics on anything else, so a change in the emitted
//! YAML that it does not understand fails loudly.
//!
//! Key-only artifacts (how loops collect artifacts) go to a folder standing for the
//! artifact repository's bucket: an output with a key and `archive: none` is copied there as
//! a folder of files under its key (`{{pod.name}}` is unique per simulated pod), and an
//! input with a key gets everything under that key as a folder, as Argo's S3 driver does
//! (`PutDirectory`, `GetDirectory`); a key with nothing under it is a missing artifact,
//! skipped when the artifact is optional.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use kfp_sdk::argo::model::{Template, Workflow};

/// The outputs of one template run.
#[derive(Debug, Default, Clone)]
pub struct Outputs {
    pub parameters: BTreeMap<String, String>,
    pub artifacts: BTreeMap<String, PathBuf>,
}

pub struct Simulator<'a> {
    workflow: &'a Workflow,
    binary: PathBuf,
    work: PathBuf,
    steps: usize,
    /// The container steps run, in order: (template name, args).
    pub log: Vec<(String, Vec<String>)>,
    /// Whether a step failed (only when `tolerate_failures`; otherwise a failure panics).
    pub failed: bool,
    /// Record a failing step instead of panicking, skip what follows, run the exit hook.
    pub tolerate_failures: bool,
    /// `workflow.parameters.*`, `workflow.uid` and `workflow.status`.
    globals: BTreeMap<String, String>,
}

/// The folder standing for the artifact repository's bucket.
pub fn bucket(work: &Path) -> PathBuf {
    work.join("bucket")
}

/// The key of a key-only artifact (any storage kind), if it has one.
fn key_of(a: &kfp_sdk::argo::model::Artifact) -> Option<&str> {
    kfp_sdk::argo::ArtifactStorage::key_of(a)
}

/// Evaluates an Argo `when` expression after substitution, as govaluate does: comparisons of
/// quoted strings, numbers and booleans, boolean literals, with `&&`, `||`, `!` and
/// parentheses.
pub fn evaluate_when(expression: &str) -> bool {
    #[derive(Debug, Clone, PartialEq)]
    enum Token {
        Value(String),
        Op(String),
        Open,
        Close,
        Not,
    }
    let chars: Vec<char> = expression.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1
            }
            '\'' => {
                let mut text = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    text.push(chars[i]);
                    i += 1;
                }
                i += 1;
                tokens.push(Token::Value(text));
            }
            '!' if chars.get(i + 1) != Some(&'=') => {
                tokens.push(Token::Not);
                i += 1
            }
            '=' | '!' | '<' | '>' | '&' | '|' => {
                let mut op = String::from(c);
                if matches!(chars.get(i + 1), Some('=' | '&' | '|')) {
                    op.push(chars[i + 1]);
                    i += 1;
                }
                tokens.push(Token::Op(op));
                i += 1;
            }
            _ => {
                let mut text = String::new();
                while i < chars.len() && !" ()=!<>&|".contains(chars[i]) {
                    text.push(chars[i]);
                    i += 1;
                }
                tokens.push(Token::Value(text));
            }
        }
    }
    // Recursive descent: or := and ('||' and)*; and := unary ('&&' unary)*;
    // unary := '!' unary | '(' or ')' | value op value.
    fn or(t: &[Token], i: &mut usize) -> bool {
        let mut v = and(t, i);
        while t.get(*i) == Some(&Token::Op("||".into())) {
            *i += 1;
            let r = and(t, i);
            v = v || r;
        }
        v
    }
    fn and(t: &[Token], i: &mut usize) -> bool {
        let mut v = unary(t, i);
        while t.get(*i) == Some(&Token::Op("&&".into())) {
            *i += 1;
            let r = unary(t, i);
            v = v && r;
        }
        v
    }
    fn unary(t: &[Token], i: &mut usize) -> bool {
        match t.get(*i) {
            Some(Token::Not) => {
                *i += 1;
                !unary(t, i)
            }
            Some(Token::Open) => {
                *i += 1;
                let v = or(t, i);
                assert_eq!(t.get(*i), Some(&Token::Close), "unbalanced parentheses");
                *i += 1;
                v
            }
            // A boolean literal standing alone (what an expression tag leaves behind).
            Some(Token::Value(word))
                if (word == "true" || word == "false")
                    && !matches!(t.get(*i + 1), Some(Token::Op(op)) if op != "&&" && op != "||") =>
            {
                *i += 1;
                word == "true"
            }
            Some(Token::Value(left)) => {
                let Some(Token::Op(op)) = t.get(*i + 1) else {
                    panic!("expected an operator after {left}")
                };
                let Some(Token::Value(right)) = t.get(*i + 2) else {
                    panic!("expected a value after {op}")
                };
                *i += 3;
                let ordering = match (left.parse::<f64>(), right.parse::<f64>()) {
                    (Ok(a), Ok(b)) => a.partial_cmp(&b).expect("comparable numbers"),
                    _ => left.cmp(right),
                };
                use std::cmp::Ordering::*;
                match op.as_str() {
                    "==" => ordering == Equal,
                    "!=" => ordering != Equal,
                    "<" => ordering == Less,
                    "<=" => ordering != Greater,
                    ">" => ordering == Greater,
                    ">=" => ordering != Less,
                    other => panic!("unknown operator {other}"),
                }
            }
            other => panic!("unexpected {other:?} in a when expression"),
        }
    }
    let mut i = 0;
    let value = or(&tokens, &mut i);
    assert_eq!(i, tokens.len(), "trailing tokens in {expression:?}");
    value
}

/// Replaces every `{{key}}` in `text` with `values[key]`, in one pass (as Argo does: a
/// substituted value is not searched again), and every expression tag `{{=expr}}` with the
/// expression's result, computed with the values as variables (never as text). Panics on an
/// unknown key or a failing expression.
pub fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .unwrap_or_else(|| panic!("unclosed {{{{ in {text:?}"));
        let key = after[..end].trim();
        if let Some(expression) = key.strip_prefix('=') {
            // An expression tag: expr-lang with the values as variables (see argo_expr).
            let value = super::argo_expr::evaluate(expression, values).unwrap_or_else(|e| {
                panic!("expression tag {{{{={expression}}}}} fails (Argo errors the task): {e}")
            });
            out.push_str(&value);
            rest = &after[end + 2..];
            continue;
        }
        let value = values
            .get(key)
            .unwrap_or_else(|| panic!("unresolved {{{{{key}}}}} (known: {:?})", values.keys()));
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

impl<'a> Simulator<'a> {
    pub fn new(workflow: &'a Workflow, binary: &Path, work: &Path) -> Self {
        Simulator {
            workflow,
            binary: binary.to_owned(),
            work: work.to_owned(),
            steps: 0,
            log: Vec::new(),
            failed: false,
            tolerate_failures: false,
            globals: BTreeMap::new(),
        }
    }

    fn template(&self, name: &str) -> &'a Template {
        self.workflow
            .spec
            .templates
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|t| t.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("template '{name}' undefined"))
    }

    /// Runs the entrypoint with the workflow's arguments, overridden by `overrides`.
    pub fn run(&mut self, overrides: &[(&str, &str)]) -> Outputs {
        let mut params = BTreeMap::new();
        let arguments = self.workflow.spec.arguments.as_ref();
        for p in arguments
            .and_then(|a| a.parameters.as_ref())
            .into_iter()
            .flatten()
        {
            if let Some(v) = &p.value {
                params.insert(p.name.clone(), v.clone());
            }
        }
        for (k, v) in overrides {
            params.insert((*k).to_owned(), (*v).to_owned());
        }
        for (k, v) in &params {
            self.globals
                .insert(format!("workflow.parameters.{k}"), v.clone());
        }
        self.globals
            .insert("workflow.uid".into(), "00000000-sim-uid".into());
        let entry = self.workflow.spec.entrypoint.clone().expect("entrypoint");
        let outputs = self.run_template(&entry, params, BTreeMap::new());
        let hook = self
            .workflow
            .spec
            .hooks
            .as_ref()
            .and_then(|h| h.get("exit"))
            .cloned();
        if let Some(hook) = hook {
            let status = if self.failed { "Failed" } else { "Succeeded" };
            self.globals.insert("workflow.status".into(), status.into());
            let failed = std::mem::replace(&mut self.failed, false);
            let args = hook
                .arguments
                .iter()
                .flat_map(|a| a.parameters.iter().flatten())
                .map(|p| {
                    (
                        p.name.clone(),
                        substitute(p.value.as_deref().unwrap_or(""), &self.globals),
                    )
                })
                .collect();
            self.run_template(
                hook.template.as_deref().expect("hook template"),
                args,
                BTreeMap::new(),
            );
            self.failed |= failed;
        }
        outputs
    }

    fn run_template(
        &mut self,
        name: &str,
        mut params: BTreeMap<String, String>,
        artifacts: BTreeMap<String, PathBuf>,
    ) -> Outputs {
        let template = self.template(name);
        let inputs = template.inputs.clone().unwrap_or_default();
        for p in inputs.parameters.iter().flatten() {
            if !params.contains_key(&p.name) {
                let default = p.default.clone().unwrap_or_else(|| {
                    panic!(
                        "template '{name}': input parameter '{}' was not supplied",
                        p.name
                    )
                });
                params.insert(p.name.clone(), default);
            }
        }
        let mut vars: BTreeMap<String, String> = params
            .iter()
            .map(|(k, v)| (format!("inputs.parameters.{k}"), v.clone()))
            .collect();
        vars.extend(self.globals.clone());
        if let Some(dag) = &template.dag {
            return self.run_dag(name, template, &dag.tasks, &mut vars, &artifacts);
        }
        let container = template
            .container
            .as_ref()
            .unwrap_or_else(|| panic!("template '{name}' is neither a DAG nor a container"));
        self.steps += 1;
        let dir = self.work.join(format!("step-{:03}-{name}", self.steps));
        // Argo names a pod after its workflow, template and a hash: unique per try.
        vars.insert("pod.name".into(), format!("sim-{name}-{:03}", self.steps));
        let map = |path: &str| -> PathBuf {
            let relative = path
                .strip_prefix("/tmp/kfp/")
                .unwrap_or_else(|| panic!("path outside /tmp/kfp: {path}"));
            dir.join(relative)
        };
        for a in inputs.artifacts.iter().flatten() {
            let path = map(a.path.as_deref().expect("input artifact path"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            if let Some(raw) = &a.raw {
                std::fs::write(&path, substitute(&raw.data, &vars)).unwrap();
            } else if let Some(source) = artifacts.get(&a.name) {
                copy(source, &path);
            } else {
                assert!(
                    a.optional == Some(true),
                    "template '{name}': artifact '{}' not supplied",
                    a.name
                );
            }
        }
        let command = container.command.clone().expect("command");
        // The step's `/tmp/kfp` is this step's folder: the mapped arguments, then `--root`.
        let args: Vec<String> = container
            .args
            .iter()
            .flatten()
            .map(|a| {
                let a = substitute(a, &vars);
                if a == "/tmp/kfp" {
                    dir.display().to_string()
                } else {
                    a.replace("/tmp/kfp/", &format!("{}/", dir.display()))
                }
            })
            .collect();
        assert_eq!(command.len(), 1, "the command is the pipeline binary alone");
        assert_eq!(args.first().map(String::as_str), Some("component-exec"));
        let mut args = args;
        args.extend(["--root".to_owned(), dir.display().to_string()]);
        self.log.push((name.to_owned(), args.clone()));
        let output = Command::new(&self.binary)
            .args(&args)
            .output()
            .expect("run the example binary");
        if !output.status.success() && self.tolerate_failures {
            self.failed = true;
            return Outputs::default();
        }
        assert!(
            output.status.success(),
            "step '{name}' failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut outputs = Outputs::default();
        let declared = template.outputs.clone().unwrap_or_default();
        for p in declared.parameters.iter().flatten() {
            let from = p.value_from.as_ref().expect("valueFrom");
            let path = map(from.path.as_deref().expect("valueFrom.path"));
            let value = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(_) => from
                    .default
                    .clone()
                    .unwrap_or_else(|| panic!("step '{name}' wrote no output '{}'", p.name)),
            };
            outputs.parameters.insert(p.name.clone(), value);
        }
        for a in declared.artifacts.iter().flatten() {
            let path = map(a.path.as_deref().expect("output artifact path"));
            assert!(
                path.exists(),
                "step '{name}' wrote no artifact '{}'",
                a.name
            );
            if let Some(key) = key_of(a) {
                // Uploaded under its key as separate files: only with no archiving.
                assert!(
                    a.archive.as_ref().is_some_and(|s| s.none.is_some()),
                    "step '{name}': keyed output '{}' must have archive: none",
                    a.name
                );
                let key = substitute(key, &vars);
                let target = bucket(&self.work).join(&key);
                assert!(!target.exists(), "key {key} written twice");
                copy(&path, &target);
            }
            outputs.artifacts.insert(a.name.clone(), path);
        }
        vars.clear();
        outputs
    }

    fn run_dag(
        &mut self,
        name: &str,
        template: &Template,
        tasks: &[kfp_sdk::argo::model::DAGTask],
        vars: &mut BTreeMap<String, String>,
        input_artifacts: &BTreeMap<String, PathBuf>,
    ) -> Outputs {
        let mut artifact_vars: BTreeMap<String, PathBuf> = input_artifacts
            .iter()
            .map(|(k, v)| (format!("inputs.artifacts.{k}"), v.clone()))
            .collect();
        let mut done: Vec<String> = Vec::new();
        for task in tasks {
            if self.failed {
                break;
            }
            if let Some(when) = &task.when
                && !evaluate_when(&substitute(when, vars))
            {
                done.push(task.name.clone());
                continue;
            }
            for dep in task
                .depends
                .iter()
                .flat_map(|d| d.split("&&"))
                .map(str::trim)
            {
                assert!(
                    done.iter().any(|d| d == dep),
                    "task '{}' runs before '{dep}'",
                    task.name
                );
            }
            let items: Option<Vec<String>> = if let Some(items) = &task.with_items {
                Some(
                    items
                        .iter()
                        .map(|i| match &i.0 {
                            serde_json::Value::String(text) => text.clone(),
                            other => other.to_string(),
                        })
                        .collect(),
                )
            } else if let Some(param) = &task.with_param {
                let list: Vec<serde_json::Value> = serde_json::from_str(&substitute(param, vars))
                    .expect("withParam is a JSON list");
                Some(
                    list.into_iter()
                        .map(|v| match v {
                            serde_json::Value::String(text) => text,
                            other => other.to_string(),
                        })
                        .collect(),
                )
            } else {
                task.with_sequence.as_ref().map(|sequence| {
                    let int = |v: &Option<
                        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString,
                    >| match v {
                        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n)) => {
                            i64::from(*n)
                        }
                        Some(
                            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s),
                        ) => s.parse().expect("a number"),
                        None => 0,
                    };
                    let start = int(&sequence.start);
                    (start..start + int(&sequence.count))
                        .map(|n| n.to_string())
                        .collect()
                })
            };
            if let Some(items) = items {
                // Argo collects each output of a loop into a JSON list of the iterations' texts.
                let mut collected: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for item in items {
                    let mut scoped = vars.clone();
                    scoped.insert("item".into(), item);
                    let args = task.arguments.clone().unwrap_or_default();
                    let params = args
                        .parameters
                        .iter()
                        .flatten()
                        .map(|p| {
                            (
                                p.name.clone(),
                                substitute(p.value.as_deref().unwrap_or(""), &scoped),
                            )
                        })
                        .collect();
                    let template_name = task.template.as_deref().expect("task template");
                    let result = self.run_template(template_name, params, BTreeMap::new());
                    for (k, v) in result.parameters {
                        collected.entry(k).or_default().push(v);
                    }
                }
                for (k, values) in collected {
                    vars.insert(
                        format!("tasks.{}.outputs.parameters.{k}", task.name),
                        serde_json::to_string(&values).unwrap(),
                    );
                }
                done.push(task.name.clone());
                continue;
            }
            let args = task.arguments.clone().unwrap_or_default();
            let params = args
                .parameters
                .iter()
                .flatten()
                .map(|p| {
                    (
                        p.name.clone(),
                        substitute(p.value.as_deref().unwrap_or(""), vars),
                    )
                })
                .collect();
            let artifacts = args
                .artifacts
                .iter()
                .flatten()
                .filter_map(|a| {
                    if let Some(key) = key_of(a) {
                        // A key-only artifact: everything under the key, as a folder.
                        let path = bucket(&self.work).join(substitute(key, vars));
                        if !path.exists() {
                            assert!(
                                a.optional == Some(true),
                                "task '{}': nothing under key {key}",
                                task.name
                            );
                            return None;
                        }
                        return Some((a.name.clone(), path));
                    }
                    let from = a.from.as_deref().expect("artifact from");
                    let key = from.trim_start_matches("{{").trim_end_matches("}}");
                    let path = artifact_vars
                        .get(key)
                        .unwrap_or_else(|| panic!("unresolved artifact {from}"))
                        .clone();
                    Some((a.name.clone(), path))
                })
                .collect();
            let template_name = task.template.as_deref().expect("task template");
            let result = self.run_template(template_name, params, artifacts);
            for (k, v) in result.parameters {
                vars.insert(format!("tasks.{}.outputs.parameters.{k}", task.name), v);
            }
            for (k, v) in result.artifacts {
                artifact_vars.insert(format!("tasks.{}.outputs.artifacts.{k}", task.name), v);
            }
            done.push(task.name.clone());
        }
        let mut outputs = Outputs::default();
        let declared = template.outputs.clone().unwrap_or_default();
        for p in declared.parameters.iter().flatten() {
            let from = p.value_from.as_ref().and_then(|v| v.parameter.as_deref());
            let from = from.unwrap_or_else(|| {
                panic!("DAG '{name}' output '{}' needs valueFrom.parameter", p.name)
            });
            outputs
                .parameters
                .insert(p.name.clone(), substitute(from, vars));
        }
        for a in declared.artifacts.iter().flatten() {
            let from = a.from.as_deref().expect("artifact from");
            let key = from.trim_start_matches("{{").trim_end_matches("}}");
            match artifact_vars.get(key) {
                Some(path) => {
                    outputs.artifacts.insert(a.name.clone(), path.clone());
                }
                None => assert!(
                    a.optional == Some(true),
                    "DAG '{name}': unresolved output artifact {from}"
                ),
            }
        }
        outputs
    }
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}
