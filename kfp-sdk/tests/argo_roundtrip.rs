//! Lossless round trips of Argo's own examples through the generated resource model
//! (`kfp_sdk::argo::model`).
//!
//! The examples live outside the repository, in `$KFP_SHARED_DIR/argo/examples` (default:
//! `<CARGO_MANIFEST_DIR>/../../shared`). Every YAML document whose `kind` the model covers is
//! deserialized into its typed struct and serialized again; the result must equal the
//! document. Because every generated struct denies unknown fields, a key the model does not
//! know is an error rather than silently dropped, so an equal result means nothing was lost.
//!
//! The YAML is read the way Argo (go-yaml v2, YAML 1.1) reads it; see [`yaml_options`].
//!
//! The model keeps values exactly as the examples write them (`Amount` keeps `1` and `1.0`
//! apart, `Item` is any JSON value, IntOrString keeps ints and strings apart, Quantity keeps
//! its text). The comparison ignores only these semantically neutral differences (see
//! [`neutral_difference`]):
//! 1. `name: ""` added to a Kubernetes `Container` (a template's `container`, or a
//!    `templateDefaults`/`inline` template's) that has no `name`. k8s-openapi's `Container`
//!    has a required `name: String`, so a missing name reads as `""` and is written back.
//!    Argo's Go type (`corev1.Container`, `json:"name"` without omitempty) does exactly the
//!    same, and Argo names a template's container `main` whether the name is missing or empty.
//! 2. `apiVersion: v1` and `kind: PersistentVolumeClaim` added to an entry of
//!    `volumeClaimTemplates` that has neither. k8s-openapi always writes the type metadata of
//!    a top-level Kubernetes resource such as `PersistentVolumeClaim`; the values are the ones
//!    the entry has by definition, so nothing changes meaning.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use kfp_sdk::argo::model::{
    ClusterWorkflowTemplate, CronWorkflow, Workflow, WorkflowEventBinding, WorkflowTemplate,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The examples hold 225 documents of the five Argo kinds (NOTES.md: 199 Workflow,
/// 13 WorkflowTemplate, 6 ClusterWorkflowTemplate, 5 CronWorkflow, 2 WorkflowEventBinding).
const MIN_TYPED_DOCUMENTS: usize = 225;

/// `$KFP_SHARED_DIR/argo/examples`, or `None` (after a note) when it is missing outside CI.
fn examples_dir() -> Option<PathBuf> {
    let shared = match std::env::var_os("KFP_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    };
    let dir = shared.join("argo").join("examples");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "the Argo examples are missing: {} is not a directory",
            dir.display()
        );
    }
    eprintln!(
        "note: skipping the Argo round-trip test: {} not found (set KFP_SHARED_DIR)",
        dir.display()
    );
    None
}

/// All `.yaml`/`.yml` files under `dir`, recursively, in a stable order.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", current.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// How the examples are read: the way Argo (Go, sigs.k8s.io/yaml on go-yaml v2, YAML 1.1)
/// reads them.
/// - `duplicate_keys: LastWins`: `k8s-patch-json-workflow.yaml` has `metadata.annotations`
///   twice; go-yaml v2 (and PyYAML) keep the last one, serde_saphyr's default is an error.
/// - `legacy_octal_numbers`: `mode: 0755` is octal 493 in YAML 1.1, as Argo reads it; YAML 1.2
///   (serde_saphyr's default) would read decimal 755.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
        legacy_octal_numbers: true,
    }
}

/// One YAML document of an example file.
struct Document {
    /// File path relative to the examples folder.
    file: String,
    /// Index of the document in its file (empty documents are not counted).
    index: usize,
    value: Value,
}

impl Document {
    fn kind(&self) -> &str {
        self.value.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    fn label(&self) -> String {
        format!("{}[{}] ({})", self.file, self.index, self.kind())
    }
}

/// Every document of every example file plus the files that are not valid YAML, or `None`
/// if the examples are missing.
fn documents() -> Option<(Vec<Document>, Vec<String>)> {
    let dir = examples_dir()?;
    let mut docs = Vec::new();
    let mut unreadable = Vec::new();
    for path in yaml_files(&dir) {
        let file = path
            .strip_prefix(&dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        match serde_saphyr::from_multiple_with_options::<Value>(&text, yaml_options()) {
            Ok(values) => {
                docs.extend(
                    values
                        .into_iter()
                        .enumerate()
                        .map(|(index, value)| Document {
                            file: file.clone(),
                            index,
                            value,
                        }),
                )
            }
            Err(e) => unreadable.push(format!("{file}: not valid YAML: {e}")),
        }
    }
    Some((docs, unreadable))
}

/// Calls `$check::<T>(...)` with the model type for a document's kind; `None` for kinds the
/// model does not cover (ConfigMap, PersistentVolumeClaim, ...).
macro_rules! dispatch {
    ($kind:expr, $check:ident ( $($arg:expr),* )) => {
        match $kind {
            "Workflow" => Some($check::<Workflow>($($arg),*)),
            "WorkflowTemplate" => Some($check::<WorkflowTemplate>($($arg),*)),
            "ClusterWorkflowTemplate" => Some($check::<ClusterWorkflowTemplate>($($arg),*)),
            "CronWorkflow" => Some($check::<CronWorkflow>($($arg),*)),
            "WorkflowEventBinding" => Some($check::<WorkflowEventBinding>($($arg),*)),
            _ => None,
        }
    };
}

/// Whether a key present on one side only is a semantically neutral difference (see the
/// list at the top of this file).
fn neutral_difference(
    path: &str,
    key: &str,
    expected: Option<&Value>,
    actual: Option<&Value>,
) -> bool {
    let added = |value: &str| expected.is_none() && actual == Some(&Value::String(value.into()));
    // 1. k8s-openapi writes the required `Container.name` even when the example left it out.
    let container_name = key == "name" && path.ends_with(".container") && added("");
    // 2. k8s-openapi writes the type metadata of a PersistentVolumeClaim.
    let in_claim_templates =
        path.starts_with("$.spec.volumeClaimTemplates[") && path.ends_with(']');
    let claim_type = in_claim_templates
        && ((key == "apiVersion" && added("v1"))
            || (key == "kind" && added("PersistentVolumeClaim")));
    container_name || claim_type
}

/// The first place where `expected` and `actual` differ: (JSON path, expected, actual).
fn first_difference(
    path: &str,
    expected: &Value,
    actual: &Value,
) -> Option<(String, String, String)> {
    fn show(value: Option<&Value>) -> String {
        value.map_or_else(|| "<missing>".to_owned(), Value::to_string)
    }
    match (expected, actual) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let child = format!("{path}.{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => {
                        if let Some(diff) = first_difference(&child, x, y) {
                            return Some(diff);
                        }
                    }
                    (x, y) if neutral_difference(path, key, x, y) => {}
                    (x, y) => return Some((child, show(x), show(y))),
                }
            }
            None
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                let child = format!("{path}[{i}]");
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => {
                        if let Some(diff) = first_difference(&child, x, y) {
                            return Some(diff);
                        }
                    }
                    (x, y) => return Some((child, show(x), show(y))),
                }
            }
            None
        }
        // Scalars, or different types. serde_json's Number equality is exact: `1` != `1.0`.
        _ if expected == actual => None,
        _ => Some((path.to_owned(), expected.to_string(), actual.to_string())),
    }
}

/// Deserializes a document into `T`; on error, says where in the document an unknown field is.
fn typed<T: DeserializeOwned>(doc: &Value) -> Result<T, String> {
    serde_json::from_value(doc.clone()).map_err(|e| {
        let message = e.to_string();
        let Some(field) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
        else {
            return format!("does not deserialize: {message}");
        };
        let mut paths = Vec::new();
        find_key("$", doc, field, &mut paths);
        format!(
            "does not deserialize: unknown field `{field}` at {}",
            paths.join(", ")
        )
    })
}

/// The JSON paths of every object key `key` in `value`.
fn find_key(path: &str, value: &Value, key: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let child = format!("{path}.{k}");
                if k == key {
                    found.push(child.clone());
                }
                find_key(&child, v, key, found);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                find_key(&format!("{path}[{i}]"), v, key, found);
            }
        }
        _ => {}
    }
}

/// Document -> typed model -> JSON value; the result must equal the document.
fn json_round_trip<T: DeserializeOwned + Serialize>(doc: &Value) -> Result<(), String> {
    let typed: T = typed(doc)?;
    let back = serde_json::to_value(&typed).map_err(|e| format!("does not serialize: {e}"))?;
    match first_difference("$", doc, &back) {
        None => Ok(()),
        Some((path, expected, actual)) => Err(format!(
            "differs at {path}: example has {expected}, round trip gives {actual}"
        )),
    }
}

/// Document -> typed model -> YAML text (serde_saphyr) -> typed model; both must be equal.
fn yaml_round_trip<T: DeserializeOwned + Serialize + PartialEq + Debug>(
    doc: &Value,
) -> Result<(), String> {
    let typed: T = typed(doc)?;
    let yaml = serde_saphyr::to_string(&typed).map_err(|e| format!("YAML writer failed: {e}"))?;
    let back: T = serde_saphyr::from_str_with_options(&yaml, yaml_options())
        .map_err(|e| format!("written YAML does not parse back: {e}\n--- YAML ---\n{yaml}"))?;
    if back == typed {
        return Ok(());
    }
    let (expected, actual) = (serde_json::to_value(&typed), serde_json::to_value(&back));
    let diff = match (expected, actual) {
        (Ok(a), Ok(b)) => first_difference("$", &a, &b)
            .map(|(path, x, y)| format!("at {path}: {x} became {y}"))
            .unwrap_or_else(|| "values differ but serialize equally".to_owned()),
        _ => "values differ".to_owned(),
    };
    Err(format!(
        "changed through YAML text, {diff}\n--- YAML ---\n{yaml}"
    ))
}

/// Runs `check` on every typed document, then fails once listing every failure.
fn run(name: &str, check: impl Fn(&Document) -> Option<Result<(), String>>) {
    let Some((docs, mut failures)) = documents() else {
        return;
    };
    let mut typed = 0;
    let mut skipped = std::collections::BTreeMap::<String, usize>::new();
    for doc in &docs {
        match check(doc) {
            Some(result) => {
                typed += 1;
                if let Err(message) = result {
                    failures.push(format!("{}: {message}", doc.label()));
                }
            }
            None => *skipped.entry(doc.kind().to_owned()).or_default() += 1,
        }
    }
    eprintln!(
        "{name}: {} documents, {typed} typed and checked, skipped kinds: {skipped:?}",
        docs.len()
    );
    assert!(
        failures.is_empty(),
        "{name}: {} failures ({typed} typed documents checked):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        typed >= MIN_TYPED_DOCUMENTS,
        "{name}: only {typed} typed documents checked, expected at least {MIN_TYPED_DOCUMENTS}"
    );
}

#[test]
fn examples_round_trip_through_the_model_losslessly() {
    run("JSON value round trip", |doc| {
        dispatch!(doc.kind(), json_round_trip(&doc.value))
    });
}

#[test]
fn examples_round_trip_through_yaml_text() {
    run("YAML text round trip", |doc| {
        dispatch!(doc.kind(), yaml_round_trip(&doc.value))
    });
}
