//! Writes the seed corpus of every target into `fuzz/corpus/TARGET/` (small files made here,
//! not committed): valid examples for the fuzzer to mutate. `scripts/fuzz.sh` runs it first.
use std::path::Path;

use kfp_components::caltech101::synthetic::SyntheticSpec;

fn put(target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = Path::new("corpus").join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    put("params", "lines", b"\x00text=hi\ncount=3\nrate=0.5\nflag=true\nitems=[\"a\"]")?;
    put("params", "yaml", b"\x01text: hi\ncount: 3\nrate: 2.5e-3\nflag: false\nitems: [a, b]\n")?;
    put("params", "both", b"\x02{\"count\": 1}\x00text=it's \"me\" {{x}}")?;

    let record = serde_json::json!({
        "id": "fuzz-run", "pipeline": "p", "status": "succeeded", "started": "2026-12-05T00:00:00Z",
        "seconds": 1.5, "parameters": {"n": 3}, "outputs": {"output": "9"}, "artifacts": {},
        "tasks": [{"name": "t", "component": "c", "status": "cached", "cache_key": "k",
                   "attempts": 1, "started_at": 0.1, "seconds": 0.2, "exit_code": 0,
                   "outputs": {"output": "9"}, "artifacts": {"m": "/x"}, "folder": "/f",
                   "message": null}]
    });
    put("run_record", "record", serde_json::to_string_pretty(&record)?.as_bytes())?;

    let dir = tempfile::tempdir()?;
    let spec = SyntheticSpec::small();
    let tar = dir.path().join("a.tar.gz");
    spec.write_tar_gz(&tar)?;
    put("archive", "tar", &[&[0u8][..], &std::fs::read(&tar)?].concat())?;
    let zip = dir.path().join("a.zip");
    spec.write_zip(&zip)?;
    put("archive", "zip", &[&[1u8][..], &std::fs::read(&zip)?].concat())?;

    let data = kfp_components::caltech101::load(&tar, &kfp_components::caltech101::LoadOptions::new(8))?;
    let out = dir.path().join("artifact");
    kfp_components::caltech101::artifact::write(&data, &out)?;
    put("dataset_manifest", "manifest", &std::fs::read(out.join("manifest.json"))?)?;
    Ok(())
}
