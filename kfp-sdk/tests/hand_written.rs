//! The macros are sugar: a pipeline written by hand with the plain API compiles to the same
//! YAML, byte for byte, as the same pipeline written with `#[component]` and `#[pipeline]`.
use std::sync::Arc;

use kfp_sdk::argo::{self, ArgoOptions};
use kfp_sdk::dsl::{ArtifactRef, ParamRef, PipelineBuilder, TaskBuilder};
use kfp_sdk::prelude::*;
use kfp_sdk::{ComponentSpec, IoType, OutputSpec, ParamType, Resources};

/// Splits text into words.
#[component(memory_limit = "1Gi", retries = 3)]
fn split(text: String, words: Output<Dataset>) -> Result<u64, std::io::Error> {
    std::fs::write(
        words.path(),
        text.split_whitespace().collect::<Vec<_>>().join("\n"),
    )?;
    Ok(text.split_whitespace().count() as u64)
}

/// Counts the words of a dataset longer than `min_len`.
#[component]
fn count_long(words: Input<Dataset>, min_len: u64) -> u64 {
    let text = std::fs::read_to_string(words.path()).unwrap_or_default();
    text.lines().filter(|w| w.len() as u64 > min_len).count() as u64
}

/// Counts long words.
#[pipeline(name = "long-words")]
fn long_words(
    #[default("the quick brown fox")] text: String,
    #[default(3)] min_len: u64,
) -> ParamRef<u64> {
    let words = split::task(text).cpu_request("500m");
    let counted = count_long::task(&words.outputs.words, min_len).after(&words);
    counted.outputs.output.clone()
}

fn by_hand() -> kfp_sdk::PipelineGraph {
    let split = Arc::new(
        ComponentSpec::new("split")
            .description("Splits text into words.")
            .input("text", IoType::Parameter(ParamType::String))
            .output("words", IoType::artifact::<Dataset>())
            .outputs([OutputSpec::new(
                "output",
                IoType::Parameter(ParamType::Integer),
            )])
            .resources(Resources {
                memory_limit: Some("1Gi".into()),
                ..Resources::default()
            })
            .retries(3),
    );
    let count_long = Arc::new(
        ComponentSpec::new("count_long")
            .description("Counts the words of a dataset longer than `min_len`.")
            .input("words", IoType::artifact::<Dataset>())
            .input("min_len", IoType::Parameter(ParamType::Integer))
            .output("output", IoType::Parameter(ParamType::Integer)),
    );
    let builder = PipelineBuilder::new("long-words").description("Counts long words.");
    let text: ParamRef<String> = builder.input_with_default("text", "the quick brown fox");
    let min_len: ParamRef<u64> = builder.input_with_default("min_len", 3u64);
    builder
        .build(|| {
            let words =
                kfp_sdk::TaskRef::new(TaskBuilder::new(split).param("text", text).add(), ())
                    .cpu_request("500m");
            let words_out: ArtifactRef<Dataset> = words.handle().output("words");
            let counted = kfp_sdk::TaskRef::new(
                TaskBuilder::new(count_long)
                    .artifact("words", words_out)
                    .param("min_len", min_len)
                    .add(),
                (),
            )
            .after(&words);
            counted.handle().output::<ParamRef<u64>>("output")
        })
        .expect("the hand-built pipeline is valid")
}

#[test]
fn hand_written_and_macro_pipelines_compile_to_identical_yaml() {
    let options = ArgoOptions::new("example.com/words:1", "/usr/local/bin/words");
    let with_macros =
        argo::to_yaml(&argo::compile(&long_words::graph().unwrap(), &options).unwrap()).unwrap();
    let without = argo::to_yaml(&argo::compile(&by_hand(), &options).unwrap()).unwrap();
    assert_eq!(with_macros, without);
    assert!(
        with_macros.contains("memory: 1Gi") && with_macros.contains("cpu: 500m"),
        "{with_macros}"
    );
}

#[test]
fn components_stay_plain_functions() {
    let dir = tempfile::tempdir().unwrap();
    let words = Output::<Dataset>::new("words", dir.path().join("words"));
    assert_eq!(split("a bb ccc dddd".into(), words).unwrap(), 4);
    let counted = count_long(Input::new("words", dir.path().join("words")), 2);
    assert_eq!(counted, 2);
}
