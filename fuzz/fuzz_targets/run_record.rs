//! The local runner's run-record reader (`Store::load`, `Store::list`): any bytes as
//! `run.json`, never a panic; a record it accepts survives a save and load unchanged.
#![no_main]
use std::sync::OnceLock;

use kfp_sdk::local::Store;
use libfuzzer_sys::fuzz_target;

fn store() -> &'static Store {
    static STORE: OnceLock<(tempfile::TempDir, Store)> = OnceLock::new();
    &STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let store = Store::new(dir.path());
            (dir, store)
        })
        .1
}

fuzz_target!(|data: &[u8]| {
    let store = store();
    let dir = store.run_dir("fuzz-run");
    std::fs::create_dir_all(&dir).expect("run folder");
    std::fs::write(dir.join("run.json"), data).expect("write");
    let loaded = store.load("fuzz-run");
    let listed = store.list().expect("listing never fails on a bad record");
    let Ok(record) = loaded else {
        assert!(listed.is_empty());
        return;
    };
    assert_eq!(listed.len(), 1);
    // The id inside the file may differ from the folder's; save under its own id only when
    // that is a valid one.
    let mut record = record;
    record.id = "fuzz-run".into();
    store.save(&record).expect("save");
    let again = store.load("fuzz-run").expect("what was saved loads");
    assert_eq!(
        serde_json::to_value(&again).expect("JSON"),
        serde_json::to_value(&record).expect("JSON")
    );
});
