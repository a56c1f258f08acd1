//! Writes the seed corpus of every fuzz target (`fuzz/`) into `DIR/TARGET/`: small valid
//! inputs made here, not committed, for the fuzzer to mutate. `scripts/fuzz.sh` runs it first:
//! `cargo run -p kfp-components --example fuzz_seeds -- fuzz/corpus`.
use std::path::{Path, PathBuf};

use kfp_components::caltech101::synthetic::SyntheticSpec;

fn put(root: &Path, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::args().nth(1).ok_or("usage: fuzz_seeds DIR")?);
    let root = root.as_path();
    put(
        root,
        "params",
        "lines",
        b"\x00text=hi\ncount=3\nrate=0.5\nflag=true\nitems=[\"a\"]",
    )?;
    put(
        root,
        "params",
        "yaml",
        b"\x01text: hi\ncount: 3\nrate: 2.5e-3\nflag: false\nitems: [a, b]\n",
    )?;
    put(
        root,
        "params",
        "both",
        b"\x02{\"count\": 1}\x00text=it's \"me\" {{x}}",
    )?;

    let record = serde_json::json!({
        "id": "fuzz-run", "pipeline": "p", "status": "succeeded", "started": "2026-12-05T00:00:00Z",
        "seconds": 1.5, "parameters": {"n": 3}, "outputs": {"output": "9"}, "artifacts": {},
        "tasks": [{"name": "t", "component": "c", "status": "cached", "cache_key": "k",
                   "attempts": 1, "started_at": 0.1, "seconds": 0.2, "exit_code": 0,
                   "outputs": {"output": "9"}, "artifacts": {"m": "/x"}, "folder": "/f",
                   "message": null}]
    });
    put(
        root,
        "run_record",
        "record",
        serde_json::to_string_pretty(&record)?.as_bytes(),
    )?;

    let dir = tempfile::tempdir()?;
    let spec = SyntheticSpec::small();
    let tar = dir.path().join("a.tar.gz");
    spec.write_tar_gz(&tar)?;
    put(
        root,
        "archive",
        "tar",
        &[&[0u8][..], &std::fs::read(&tar)?].concat(),
    )?;
    let zip = dir.path().join("a.zip");
    spec.write_zip(&zip)?;
    put(
        root,
        "archive",
        "zip",
        &[&[1u8][..], &std::fs::read(&zip)?].concat(),
    )?;

    let data =
        kfp_components::caltech101::load(&tar, &kfp_components::caltech101::LoadOptions::new(8))?;
    let out = dir.path().join("artifact");
    kfp_components::caltech101::artifact::write(&data, &out)?;
    put(
        root,
        "dataset_manifest",
        "manifest",
        &std::fs::read(out.join(kfp_components::caltech101::artifact::MANIFEST))?,
    )?;
    Ok(())
}
