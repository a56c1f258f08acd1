//! Components and pipelines register themselves; names that clash are reported, not guessed.
use kfp_sdk::prelude::*;
use kfp_sdk::registry::{self, LookupError};

mod first {
    use kfp_sdk::prelude::*;

    /// One of two components named `dup`.
    #[component(name = "dup")]
    pub fn one(x: i64) -> i64 {
        x
    }
}

mod second {
    use kfp_sdk::prelude::*;

    /// The other `dup`.
    #[component(name = "dup")]
    pub fn two(x: i64) -> i64 {
        -x
    }
}

/// Doubles a number.
#[component]
fn twice(x: i64) -> i64 {
    2 * x
}

/// Uses `twice`.
#[pipeline]
fn uses_twice(#[default(2)] x: i64) -> ParamRef<i64> {
    twice::task(x).outputs.output.clone()
}

/// Uses one of the clashing components.
#[pipeline]
fn uses_dup() {
    first::one::task(1);
}

#[test]
fn components_are_found_by_name() {
    let entry = registry::find_component("twice").unwrap();
    assert_eq!(entry.module, "registry::twice");
    assert_eq!(
        (entry.spec)().description.as_deref(),
        Some("Doubles a number.")
    );
    let names: Vec<&str> = registry::components().iter().map(|c| c.name).collect();
    assert_eq!(names, ["dup", "dup", "twice"]);
}

#[test]
fn clashing_names_are_an_error_naming_both() {
    let err = registry::find_component("dup").unwrap_err();
    assert!(matches!(err, LookupError::Ambiguous { .. }));
    let message = err.to_string();
    assert!(
        message.contains("registry::first::one") && message.contains("registry::second::two"),
        "{message}"
    );
    let options = kfp_sdk::argo::ArgoOptions::new("img", "/bin/x");
    let err = kfp_sdk::cli::compile_to_yaml(Some("uses-dup"), &options).unwrap_err();
    assert!(
        err.contains("component 'dup' cannot run in its container: two components named 'dup'"),
        "{err}"
    );
}

#[test]
fn pipelines_are_found_by_name_and_compile() {
    let options = kfp_sdk::argo::ArgoOptions::new("img", "/bin/x");
    let yaml = kfp_sdk::cli::compile_to_yaml(Some("uses-twice"), &options).unwrap();
    assert!(yaml.contains("generateName: uses-twice-"), "{yaml}");
    let err = kfp_sdk::cli::compile_to_yaml(None, &options).unwrap_err();
    assert!(
        err.contains("choose one with --pipeline (uses-dup, uses-twice)"),
        "{err}"
    );
    let err = registry::find_pipeline("nope").unwrap_err().to_string();
    assert!(err.contains("no pipeline named 'nope'"), "{err}");
}
