//! The Caltech101 archive reader: any bytes as a `.tar.gz` or a `.zip` (first byte chooses),
//! loaded at 8x8: never a panic, only errors.
#![no_main]
use std::path::PathBuf;
use std::sync::OnceLock;

use kfp_components::caltech101::{LoadOptions, load};
use libfuzzer_sys::fuzz_target;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().to_owned();
        (dir, path)
    })
    .1
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else { return };
    let name = if kind % 2 == 0 { "a.tar.gz" } else { "a.zip" };
    let path = dir().join(name);
    std::fs::write(&path, bytes).expect("write");
    let _ = load(&path, &LoadOptions::new(8));
});
