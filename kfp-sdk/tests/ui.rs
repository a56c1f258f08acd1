//! Compile-fail and compile-pass tests of `#[component]`, `#[pipeline]` and
//! `#[derive(ComponentOutputs)]` (trybuild).
//!
//! - `tests/ui/fail/*.rs`: one mistake per file, named for the mistake; the compiler's output
//!   must match the `.stderr` file next to it, so the snapshots show exactly what a user sees.
//! - `tests/ui/pass/*.rs`: code that must compile; each file's `main` builds its pipeline and
//!   checks the graph.
//!
//! Diagnostics change between compiler versions, so the snapshots hold for one pinned version
//! ([`PINNED_RUSTC`]); on any other version the test prints a note and passes without
//! compiling anything, except under `CI=true`, where it fails: CI must check every snapshot. Regenerate the snapshots after a deliberate change with
//! `TRYBUILD=overwrite cargo test -p kfp-sdk --test ui`, then read every changed `.stderr`.

use std::process::Command;

/// The `major.minor` rustc version the `.stderr` snapshots were made with.
const PINNED_RUSTC: &str = "1.95";

/// `major.minor` of the rustc that cargo uses, from `rustc --version` (`rustc 1.95.0 (..)`).
fn rustc_version() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let version = text.split_whitespace().nth(1)?;
    let mut parts = version.split('.');
    Some(format!("{}.{}", parts.next()?, parts.next()?))
}

#[test]
fn ui() {
    match rustc_version() {
        Some(version) if version == PINNED_RUSTC => {}
        other => {
            let found = other.as_deref().unwrap_or("of unknown version");
            // In CI a skipped snapshot test would check none of the macro errors: fail.
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the UI snapshots are for rustc {PINNED_RUSTC} and CI runs rustc {found}: \
                 run CI with rustc {PINNED_RUSTC}, or regenerate the snapshots \
                 (TRYBUILD=overwrite) and move PINNED_RUSTC"
            );
            eprintln!(
                "note: skipping the UI tests: their snapshots are for rustc {PINNED_RUSTC}, \
                 this is rustc {found} (under CI=true this fails)"
            );
            return;
        }
    }
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
