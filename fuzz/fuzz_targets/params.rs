//! The parameter parser: `-p NAME=VALUE` lines and a JSON/YAML parameters file, for a
//! pipeline with a parameter of every type. Never a panic; a value it accepts has its
//! parameter's type, and parsing what it returned again gives the same values.
#![no_main]
use std::sync::{Arc, OnceLock};

use kfp_sdk::dsl::{ParamRef, PipelineBuilder, TaskBuilder};
use kfp_sdk::runtime::params::parse_params;
use kfp_sdk::{ComponentSpec, IoType, ParamType, PipelineGraph};
use libfuzzer_sys::fuzz_target;

const TYPES: [(&str, ParamType); 5] = [
    ("text", ParamType::String),
    ("count", ParamType::Integer),
    ("rate", ParamType::Double),
    ("flag", ParamType::Boolean),
    ("items", ParamType::List),
];

fn graph() -> &'static PipelineGraph {
    static GRAPH: OnceLock<PipelineGraph> = OnceLock::new();
    GRAPH.get_or_init(|| {
        let mut step = ComponentSpec::new("step");
        for (name, ty) in TYPES {
            step = step.input(name, IoType::Parameter(ty));
        }
        let step = Arc::new(step);
        let builder = PipelineBuilder::new("fuzz");
        let text: ParamRef<String> = builder.input("text");
        let count: ParamRef<i64> = builder.input("count");
        let rate: ParamRef<f64> = builder.input("rate");
        let flag: ParamRef<bool> = builder.input("flag");
        let items: ParamRef<Vec<String>> = builder.input("items");
        builder
            .build(|| {
                TaskBuilder::new(step)
                    .param("text", text)
                    .param("count", count)
                    .param("rate", rate)
                    .param("flag", flag)
                    .param("items", items)
                    .add();
            })
            .expect("the fuzz pipeline builds")
    })
}

fn file() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder"))
        .path()
}

fuzz_target!(|data: &[u8]| {
    // First byte: 0 = only -p lines, 1 = only a file, else both (the file, then lines).
    let Some((&mode, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let (file_text, lines) = match mode % 3 {
        0 => ("", text.as_ref()),
        1 => (text.as_ref(), ""),
        _ => text.split_once('\u{0}').unwrap_or((text.as_ref(), "")),
    };
    let path = file().join("params.yaml");
    let use_file = mode % 3 != 0;
    if use_file && std::fs::write(&path, file_text).is_err() {
        return;
    }
    let pairs: Vec<String> = lines.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect();
    let Ok(values) = parse_params(graph(), &pairs, use_file.then_some(path.as_path())) else {
        return;
    };
    for (name, value) in &values {
        if let Some((_, ParamType::String)) = TYPES.iter().find(|(n, _)| n == name) {
            if mode % 3 == 0 {
                assert!(value.is_string(), "{name} = {value}");
            }
        }
    }
    // What came out goes back in, as a JSON parameters file, unchanged.
    let json = serde_json::to_string(&values).expect("JSON");
    std::fs::write(&path, &json).expect("write");
    let again = parse_params(graph(), &[], Some(&path)).expect("its own output parses");
    assert_eq!(again, values);
});
