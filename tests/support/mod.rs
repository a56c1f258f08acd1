//! Helpers shared by the cross-crate tests: finding the example binaries, the Python oracle
//! and the shared reference data.
#![allow(dead_code)]

pub mod argo_expr;
pub mod argo_sim;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when running under CI, where missing oracles or data must fail instead of skip.
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// The compiled example binary `name`, built (or confirmed up to date) by cargo first, since
/// `cargo test --test X` alone does not rebuild examples.
pub fn example(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/examples/<name>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = profile_dir.join("examples").join(name);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--quiet", "--example", name])
            .current_dir(root());
        if profile_dir.file_name().and_then(|n| n.to_str()) == Some("release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "cargo build --example {name} failed");
        built.push(name.to_owned());
    }
    path
}

/// Runs a command and returns its output, with a readable panic if it cannot start.
pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("could not run {command:?}: {e}"))
}

/// The Python of the oracle venv (made by `scripts/python-env.sh`), or `None` outside CI when
/// it is missing.
pub fn oracle_python() -> Option<PathBuf> {
    let candidate = match std::env::var_os("KFP_RS_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let venv = std::env::var_os("KFP_RS_VENV")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                        .join(".cache/kfp-rs/venv")
                });
            venv.join("bin/python")
        }
    };
    if candidate.exists() {
        return Some(candidate);
    }
    assert!(
        !in_ci(),
        "the Python oracle is missing ({}); run scripts/python-env.sh",
        candidate.display()
    );
    eprintln!(
        "note: skipping an oracle check: {} not found (run scripts/python-env.sh)",
        candidate.display()
    );
    None
}

/// The shared reference folder (`../shared`, or `$KFP_SHARED_DIR`).
pub fn shared_dir() -> PathBuf {
    std::env::var_os("KFP_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared"))
}

/// A file of the shared reference data (`shared_dir()/relative`), or `None` (with a note)
/// when it is missing outside CI; in CI a missing file fails the test.
pub fn shared_file(relative: &str) -> Option<PathBuf> {
    let path = shared_dir().join(relative);
    if path.exists() {
        return Some(path);
    }
    assert!(
        !in_ci(),
        "the reference data {} is missing (set KFP_SHARED_DIR to the folder holding it)",
        path.display()
    );
    eprintln!(
        "note: skipping a real-data check: {} not found (set KFP_SHARED_DIR)",
        path.display()
    );
    None
}
