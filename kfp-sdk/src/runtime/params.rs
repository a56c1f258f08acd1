//! Pipeline parameter values given on a command line: `-p NAME=VALUE` pairs and a JSON or
//! YAML parameters file, read by each parameter's type.
use std::collections::BTreeMap;
use std::path::Path;

use crate::ir::component::IoType;
use crate::ir::graph::PipelineGraph;
use crate::ir::param::ParamType;

/// Parses `-p NAME=VALUE` values (and a parameters file) into JSON, by each parameter's type.
///
/// `file` is a JSON or YAML object of parameter values; `pairs` (`NAME=VALUE`, the value as
/// written on a command line: a string parameter takes it verbatim, any other type parses it
/// as JSON) come after it and win. Every name must be a parameter of `graph`.
///
/// ```
/// use kfp_sdk::dsl::{ParamRef, PipelineBuilder, TaskBuilder};
/// use kfp_sdk::{ComponentSpec, IoType, ParamType};
/// use std::sync::Arc;
///
/// let step = Arc::new(ComponentSpec::new("step").input("n", IoType::Parameter(ParamType::Integer)));
/// let builder = PipelineBuilder::new("p");
/// let n: ParamRef<i64> = builder.input("n");
/// let graph = builder.build(|| { TaskBuilder::new(step).param("n", n).add(); }).unwrap();
/// let values = kfp_sdk::runtime::params::parse_params(&graph, &["n=3".into()], None).unwrap();
/// assert_eq!(values["n"], serde_json::json!(3));
/// assert!(kfp_sdk::runtime::params::parse_params(&graph, &["n=x".into()], None).is_err());
/// ```
pub fn parse_params(
    graph: &PipelineGraph,
    pairs: &[String],
    file: Option<&Path>,
) -> Result<BTreeMap<String, serde_json::Value>, String> {
    let mut values = BTreeMap::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // JSON first: a JSON file is not always YAML (YAML forbids some characters, such as
        // DEL, that JSON strings may hold as they are).
        let object: BTreeMap<String, serde_json::Value> = match serde_json::from_str(&text) {
            Ok(object) => object,
            Err(_) => serde_saphyr::from_str(&text).map_err(|e| {
                format!(
                    "{}: expected an object of parameter values: {e}",
                    path.display()
                )
            })?,
        };
        values.extend(object);
    }
    for pair in pairs {
        let Some((name, text)) = pair.split_once('=') else {
            return Err(format!("-p needs NAME=VALUE, got '{pair}'"));
        };
        let Some(input) = graph.input(name) else {
            let known: Vec<&str> = graph.inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(format!(
                "the pipeline has no parameter '{name}' (its parameters: {})",
                known.join(", ")
            ));
        };
        let value = match &input.ty {
            IoType::Parameter(ParamType::String) => serde_json::Value::String(text.to_owned()),
            IoType::Parameter(ty) => serde_json::from_str(text)
                .map_err(|_| format!("parameter '{name}': '{text}' is not a {ty}"))?,
            IoType::Artifact(_) | IoType::ArtifactList(_) => {
                return Err(format!("parameter '{name}' is an artifact"));
            }
        };
        values.insert(name.to_owned(), value);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::{ParamRef, PipelineBuilder, TaskBuilder};
    use crate::ir::component::ComponentSpec;
    use std::sync::Arc;

    #[test]
    fn numbers_in_a_parameters_file_are_read_exactly() {
        // Found by the `params` fuzz target: without serde_json's float_roundtrip, 2e-84
        // written as JSON came back one unit in the last place lower.
        let step = Arc::new(
            ComponentSpec::new("step").input("rate", IoType::Parameter(ParamType::Double)),
        );
        let builder = PipelineBuilder::new("p");
        let rate: ParamRef<f64> = builder.input("rate");
        let graph = builder
            .build(|| {
                TaskBuilder::new(step).param("rate", rate).add();
            })
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("params.json");
        for value in [2e-84, 0.1, 1e300, 5e-324, 0.30000000000000004] {
            std::fs::write(
                &path,
                serde_json::to_string(&serde_json::json!({ "rate": value })).unwrap(),
            )
            .unwrap();
            let read = parse_params(&graph, &[], Some(&path)).unwrap();
            assert_eq!(read["rate"].as_f64(), Some(value), "{value:e}");
        }
    }

    #[test]
    fn a_json_file_whose_strings_yaml_forbids_is_read() {
        // Found by the `params` fuzz target: a DEL character in a JSON string made the file
        // unreadable (it was parsed as YAML only).
        let step = Arc::new(
            ComponentSpec::new("step").input("text", IoType::Parameter(ParamType::String)),
        );
        let builder = PipelineBuilder::new("p");
        let text: ParamRef<String> = builder.input("text");
        let graph = builder
            .build(|| {
                TaskBuilder::new(step).param("text", text).add();
            })
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("params.json");
        std::fs::write(&path, "{\"text\":\"it'\\u0001 s\u{7f}\"}").unwrap();
        let values = parse_params(&graph, &[], Some(&path)).unwrap();
        assert_eq!(values["text"], serde_json::json!("it'\u{1} s\u{7f}"));
        std::fs::write(&path, "text: plain yaml\n").unwrap();
        assert_eq!(
            parse_params(&graph, &[], Some(&path)).unwrap()["text"],
            serde_json::json!("plain yaml")
        );
    }
}
