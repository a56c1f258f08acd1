//! The local runner's promises under attack (docs/reliability.md), through the pipelines of
//! `examples/crash_test.rs`: signals stop a run's tasks and record it as interrupted; a
//! runner killed with SIGKILL leaves no task running once the store is used again; a
//! component that writes to its input, or a cache entry changed behind the runner's back, is
//! caught and rebuilt; two runs share a store; a hundred SIGKILLs at random moments never
//! leave a record that does not parse, a cache entry that does not match its manifest, or a
//! resume that ends with wrong outputs; a full disk fails clearly and leaves nothing trusted.
#![cfg(unix)]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kfp_sdk::local::integrity::Manifest;
use kfp_sdk::local::{RunRecord, Store, TaskStatus};

fn binary() -> PathBuf {
    support::example("crash_test")
}

fn command(store: &Path, pipeline: &str, args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .args(["run", "--store"])
        .arg(store)
        .args(["--pipeline", pipeline])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn run(store: &Path, pipeline: &str, args: &[&str]) -> Output {
    support::run(&mut command(store, pipeline, args))
}

fn records(store: &Path) -> Vec<RunRecord> {
    Store::new(store).list().expect("every record parses")
}

fn record(store: &Path, id: &str) -> RunRecord {
    Store::new(store).load(id).expect("the record parses")
}

fn alive(pid: i32) -> bool {
    // A zombie (exited, not yet reaped) counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid of the `sleep` that the long task started, once it has started it.
fn child_of_long_task(store: &Path, id: &str, not: Option<i32>) -> i32 {
    let log = store
        .join("runs")
        .join(id)
        .join("tasks/wait-with-child/stdout.log");
    wait_for("the task's child", Duration::from_secs(20), || {
        let text = std::fs::read_to_string(&log).ok()?;
        text.lines()
            .filter_map(|l| l.strip_prefix("child ")?.trim().parse::<i32>().ok())
            .find(|pid| Some(*pid) != not)
    })
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    wait_for("the runner to exit", limit, || {
        child.try_wait().ok().flatten()
    })
}

#[test]
fn a_loop_reads_an_artifact_made_before_it() {
    // The runner used to number a loop's new steps from 0 and shift every binding below
    // their count, so a loop reading the output of step 0 waited for itself forever and the
    // run ended "running".
    let store = tempfile::tempdir().unwrap();
    let out = run(store.path(), "crash-chain", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record = records(store.path()).pop().unwrap();
    assert_eq!(record.status, "succeeded");
    assert_eq!(
        record.outputs["output"],
        expected_chain(1, 200, &[1, 2, 3, 4]).to_string()
    );
}

#[test]
fn sigterm_and_sigint_stop_the_tasks_and_record_the_run_as_interrupted() {
    for name in ["TERM", "INT"] {
        let store = tempfile::tempdir().unwrap();
        let mut runner = command(store.path(), "long-task", &["-p", "seconds=60"])
            .spawn()
            .unwrap();
        let id = wait_for("the run folder", Duration::from_secs(20), || {
            std::fs::read_dir(store.path().join("runs"))
                .ok()?
                .next()?
                .ok()
        })
        .file_name()
        .to_string_lossy()
        .into_owned();
        let sleeper = child_of_long_task(store.path(), &id, None);
        signal(runner.id(), name);
        let status = wait_exit(&mut runner, Duration::from_secs(20));
        assert!(
            !status.success(),
            "SIG{name}: the runner says the run did not succeed"
        );
        wait_for(
            "the task's child to be gone",
            Duration::from_secs(5),
            || (!alive(sleeper)).then_some(()),
        );
        let record = record(store.path(), &id);
        assert_eq!(record.status, "interrupted", "SIG{name}");
        assert_eq!(record.tasks[0].status, TaskStatus::Interrupted, "SIG{name}");
        let stderr =
            String::from_utf8_lossy(&runner.wait_with_output().unwrap().stderr).into_owned();
        assert!(stderr.contains("--resume"), "{stderr}");
    }
}

#[test]
fn a_runner_killed_with_sigkill_leaves_no_task_running_once_the_store_is_used_again() {
    let store = tempfile::tempdir().unwrap();
    // Killed, then resumed: the orphan is gone before the task starts again.
    let mut runner = command(store.path(), "long-task", &["-p", "seconds=4"])
        .spawn()
        .unwrap();
    let id = wait_for("the run folder", Duration::from_secs(20), || {
        std::fs::read_dir(store.path().join("runs"))
            .ok()?
            .next()?
            .ok()
    })
    .file_name()
    .to_string_lossy()
    .into_owned();
    let orphan = child_of_long_task(store.path(), &id, None);
    signal(runner.id(), "KILL");
    runner.wait().unwrap();
    assert!(
        alive(orphan),
        "the task outlives its runner: the case being tested"
    );
    let mut resumed = command(store.path(), "long-task", &["--resume", &id])
        .spawn()
        .unwrap();
    let fresh = child_of_long_task(store.path(), &id, Some(orphan));
    assert!(
        !alive(orphan),
        "the orphan still ran when the task started again"
    );
    assert_ne!(fresh, orphan);
    assert!(wait_exit(&mut resumed, Duration::from_secs(30)).success());
    assert_eq!(record(store.path(), &id).status, "succeeded");

    // Killed, then another run on the store: the stale run is settled.
    let mut runner = command(store.path(), "long-task", &["-p", "seconds=60"])
        .spawn()
        .unwrap();
    let id = wait_for("the second run", Duration::from_secs(20), || {
        records(store.path())
            .into_iter()
            .find(|r| r.status == "running")
            .map(|r| r.id)
    });
    let orphan = child_of_long_task(store.path(), &id, None);
    signal(runner.id(), "KILL");
    runner.wait().unwrap();
    let out = run(store.path(), "tamper", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!alive(orphan), "the killed run's task still runs");
    let settled = record(store.path(), &id);
    assert_eq!(settled.status, "interrupted");
    assert_eq!(settled.tasks[0].status, TaskStatus::Interrupted);
}

#[test]
fn a_run_cannot_be_resumed_twice_at_once_nor_by_a_path() {
    let store = tempfile::tempdir().unwrap();
    let mut runner = command(store.path(), "long-task", &["-p", "seconds=60"])
        .spawn()
        .unwrap();
    let id = wait_for("the run folder", Duration::from_secs(20), || {
        std::fs::read_dir(store.path().join("runs"))
            .ok()?
            .next()?
            .ok()
    })
    .file_name()
    .to_string_lossy()
    .into_owned();
    child_of_long_task(store.path(), &id, None);
    let second = run(store.path(), "long-task", &["--resume", &id]);
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("is running now"), "{stderr}");
    signal(runner.id(), "TERM");
    wait_exit(&mut runner, Duration::from_secs(20));
    for bad in ["../..", "a/b", "..", ".x"] {
        let out = run(store.path(), "long-task", &["--resume", bad]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("is not a run id"),
            "{bad}: {stderr}"
        );
        let shown = support::run(
            Command::new(binary())
                .args(["runs", "show", bad, "--store"])
                .arg(store.path()),
        );
        assert!(String::from_utf8_lossy(&shown.stderr).contains("is not a run id"));
    }
}

fn cache_entries(store: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(store.join("cache")) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect()
}

/// Every cache entry holds exactly what its manifest lists (hashing every file).
fn assert_cache_intact(store: &Path) -> usize {
    let entries = cache_entries(store);
    for entry in &entries {
        let manifest: Manifest =
            serde_json::from_slice(&std::fs::read(entry.join("manifest.json")).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", entry.display()));
        manifest
            .check(&entry.join("out"), true)
            .unwrap_or_else(|d| panic!("{}: {d}", entry.display()));
    }
    entries.len()
}

#[test]
fn a_component_writing_to_its_input_fails_and_corrupts_nothing_later_runs_trust() {
    let store = tempfile::tempdir().unwrap();
    let first = run(store.path(), "tamper", &[]);
    assert!(first.status.success());
    assert_eq!(records(store.path()).pop().unwrap().outputs["output"], "10");
    // Running as root, the read-only modes do not stop the write: the check after the task
    // catches it.
    let tampering = run(store.path(), "tamper", &["-p", "tamper=true"]);
    assert!(!tampering.status.success());
    let record = records(store.path()).pop().unwrap();
    let task = record
        .tasks
        .iter()
        .find(|t| t.name == "read-input")
        .unwrap();
    assert_eq!(task.status, TaskStatus::Failed);
    let message = task.message.clone().unwrap_or_default();
    assert!(
        message.contains("changed its input artifact 'data'"),
        "{message}"
    );
    // The damaged dataset was evicted: the next run makes it again and counts 10 rows.
    let again = run(store.path(), "tamper", &[]);
    assert!(again.status.success());
    let record = records(store.path()).pop().unwrap();
    assert_eq!(record.outputs["output"], "10");
    assert_eq!(
        record.tasks[0].status,
        TaskStatus::Succeeded,
        "produce ran again"
    );
    assert_cache_intact(store.path());
}

#[test]
fn a_cache_entry_changed_behind_the_runners_back_is_found_and_rebuilt() {
    let store = tempfile::tempdir().unwrap();
    assert!(run(store.path(), "tamper", &[]).status.success());
    let data = cache_entries(store.path())
        .into_iter()
        .map(|e| e.join("out/data/data"))
        .find(|p| p.exists())
        .expect("the cached dataset");
    let read_only = std::fs::metadata(&data).unwrap().permissions().readonly();
    assert!(read_only, "cached files are read-only");
    // Same size, other content, modification time put back: only the change time and the
    // hash can tell.
    let before = std::fs::metadata(&data).unwrap();
    let mut bytes = std::fs::read(&data).unwrap();
    bytes[0] = if bytes[0] == b'9' { b'8' } else { b'9' };
    let mut permissions = before.permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&data, permissions).unwrap();
    std::fs::write(&data, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&data)
        .unwrap()
        .set_modified(before.modified().unwrap())
        .unwrap();
    let out = run(store.path(), "tamper", &[]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is damaged") && stderr.contains("produce"),
        "{stderr}"
    );
    let record = records(store.path()).pop().unwrap();
    assert_eq!(
        record.tasks[0].status,
        TaskStatus::Succeeded,
        "produce ran again"
    );
    assert_cache_intact(store.path());
}

/// What crash-chain computes: the dataset's numbers summed, times the sum of the factors.
fn expected_chain(seed: u64, rows: u64, factors: &[u64]) -> u64 {
    let sum: u64 = (0..rows).map(|i| i.wrapping_mul(seed | 1) % 1000).sum();
    sum * factors.iter().sum::<u64>()
}

#[test]
fn two_runs_at_once_share_one_store() {
    let store = tempfile::tempdir().unwrap();
    let args: [&[&str]; 3] = [&["-p", "seed=5"], &["-p", "seed=5"], &["-p", "seed=8"]];
    let children: Vec<Child> = args
        .iter()
        .map(|a| command(store.path(), "crash-chain", a).spawn().unwrap())
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let runs = records(store.path());
    assert_eq!(runs.len(), 3);
    for r in &runs {
        let seed: u64 = r.parameters["seed"].as_u64().unwrap();
        assert_eq!(
            r.outputs["output"],
            expected_chain(seed, 200, &[1, 2, 3, 4]).to_string()
        );
    }
    assert!(assert_cache_intact(store.path()) >= 7);
}

/// A small, seeded generator for kill delays (reproducible from the seed in the message).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn a_hundred_random_sigkills_never_leave_the_store_inconsistent() {
    let store = tempfile::tempdir().unwrap();
    let seed = 20261205;
    let mut random = Lcg(seed);
    let factors = "[1, 2, 3, 4, 5, 6]";
    let (mut kills, mut resumed, mut interrupted_tasks) = (0, 0, 0);
    let factor_arg = format!("factors={factors}");
    for chain in 0..20u64 {
        let seed_arg = format!("seed={}", chain + 11);
        let fresh = ["-p", &seed_arg, "-p", "pause_ms=15", "-p", &factor_arg];
        let mut id: Option<String> = None;
        for _ in 0..5 {
            let args: Vec<&str> = match &id {
                Some(id) => {
                    resumed += 1;
                    vec!["--resume", id]
                }
                None => fresh.to_vec(),
            };
            let mut runner = command(store.path(), "crash-chain", &args).spawn().unwrap();
            std::thread::sleep(Duration::from_millis(random.below(400)));
            signal(runner.id(), "KILL");
            runner.wait().unwrap();
            kills += 1;
            // After every kill: records parse, cache entries match their manifests.
            let all = records(store.path());
            assert_cache_intact(store.path());
            if id.is_none() {
                id = all
                    .iter()
                    .find(|r| r.parameters.get("seed").and_then(|s| s.as_u64()) == Some(chain + 11))
                    .map(|r| r.id.clone());
            }
            interrupted_tasks += all
                .iter()
                .flat_map(|r| &r.tasks)
                .filter(|t| t.status == TaskStatus::Running)
                .count();
        }
        // The run finishes with the right outputs, whatever the kills left.
        let out = match &id {
            Some(id) => run(store.path(), "crash-chain", &["--resume", id]),
            // Killed before it even recorded itself: a fresh run.
            None => run(store.path(), "crash-chain", &fresh),
        };
        assert!(
            out.status.success(),
            "chain {chain} (seed {seed}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let last = records(store.path())
            .into_iter()
            .filter(|r| r.parameters.get("seed").and_then(|s| s.as_u64()) == Some(chain + 11))
            .find(|r| r.status == "succeeded")
            .expect("a finished run");
        assert_eq!(
            last.outputs["output"],
            expected_chain(chain + 11, 200, &[1, 2, 3, 4, 5, 6]).to_string(),
            "chain {chain} (seed {seed})"
        );
    }
    assert_eq!(kills, 100);
    let entries = assert_cache_intact(store.path());
    // The figures docs/reliability.md quotes.
    println!(
        "crash consistency: {kills} SIGKILLs, {resumed} resumes killed, 20 runs finished, \
         {entries} cache entries intact, {interrupted_tasks} task records left running by a kill, \
         0 corrupt entries"
    );
}

/// Mounts a small tmpfs (root only); `None` when this machine does not allow it.
fn small_disk(dir: &Path) -> Option<()> {
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(())
}

#[test]
fn a_full_disk_fails_the_task_clearly_and_leaves_nothing_trusted() {
    let dir = tempfile::tempdir().unwrap();
    if small_disk(dir.path()).is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "cannot mount a tmpfs for the full-disk test (needs root)"
        );
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(dir.path());
    let store = dir.path().join("store");
    // About 3.9 MB of rows: more than the disk holds.
    let out = run(&store, "tamper", &["-p", "rows=1000000"]);
    assert!(!out.status.success());
    // The task fails on the full disk, and says so; the record that could be written last is
    // whole and does not say the run succeeded.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let record = records(&store).pop().expect("the record parses");
    assert_ne!(record.status, "succeeded");
    let produce_folder = store.join("runs").join(&record.id).join("tasks/produce");
    let log = std::fs::read_to_string(produce_folder.join("stderr.log")).unwrap_or_default();
    assert!(
        format!("{stderr} {log}").contains("No space left on device"),
        "{stderr} {log}"
    );
    assert_eq!(
        cache_entries(&store).len(),
        0,
        "nothing half-written entered the cache"
    );
    // Room again: the same store works and trusts nothing of the failed run.
    std::fs::remove_dir_all(&produce_folder).unwrap();
    let out = run(&store, "tamper", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(records(&store).pop().unwrap().outputs["output"], "10");
    assert_cache_intact(&store);
}
