//! The Caltech101 dataset artifact reader (`caltech101::artifact::Artifact::open`): any bytes
//! as the artifact's manifest (`dataset.json`) beside valid arrays, never a panic.
#![no_main]
use std::path::PathBuf;
use std::sync::OnceLock;

use kfp_components::caltech101::artifact::{self, Artifact};
use kfp_components::caltech101::{LoadOptions, load, synthetic::SyntheticSpec};
use libfuzzer_sys::fuzz_target;

/// A valid artifact made once; each run replaces its manifest.
fn artifact_dir() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let archive = dir.path().join("a.tar.gz");
        SyntheticSpec::small().write_tar_gz(&archive).expect("archive");
        let data = load(&archive, &LoadOptions::new(8)).expect("load");
        let out = dir.path().join("artifact");
        artifact::write(&data, &out).expect("write");
        (dir, out)
    })
    .1
}

fuzz_target!(|data: &[u8]| {
    let dir = artifact_dir();
    std::fs::write(dir.join(artifact::MANIFEST), data).expect("write");
    let _ = Artifact::open(dir);
});
