//! Who runs a run: a lock held for the run's lifetime, and the clean-up of tasks left behind
//! by a runner that was killed.
//!
//! A runner holds an exclusive lock (`flock`) on `runs/RUN_ID/lock` from the start of a run to
//! its end; the kernel releases it when the process dies, however it dies, so a free lock on a
//! run whose record says `running` means its runner is gone. Its tasks may still run: each
//! task is started in a process group of its own with `KFP_RUN_DIR` naming the run's folder in
//! its environment, which its children inherit; [`stop_orphans`] finds every process whose
//! environment names the run and kills it, and waits until none is left. Process ids are
//! never trusted on their own (they are reused); the environment names the run exactly.
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::store::{Store, StoreError, io};

/// The environment variable that names a task's run folder.
pub(crate) const RUN_DIR_ENV: &str = "KFP_RUN_DIR";

/// The lock of one run, held while this value lives.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of run `id`, or says that another process holds it.
    pub fn acquire(store: &Store, id: &str) -> Result<RunLock, StoreError> {
        let dir = store.run_dir(id);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                return Err(StoreError::RunInUse {
                    id: id.to_owned(),
                    holder: holder.trim().to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        // Who holds it, for the message another runner prints.
        let _ = file.set_len(0);
        let _ =
            std::io::Write::write_all(&mut &file, format!("pid {}", std::process::id()).as_bytes());
        Ok(RunLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Whether some process holds the lock of run `id` (its runner is alive).
pub fn is_live(store: &Store, id: &str) -> bool {
    let path = store.run_dir(id).join("lock");
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
    else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}

/// The processes whose environment says they are tasks (or children of tasks) of the run in
/// `run_dir`.
#[cfg(target_os = "linux")]
fn processes_of(run_dir: &Path) -> Vec<i32> {
    let needle = format!("{RUN_DIR_ENV}={}", run_dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let own = std::process::id() as i32;
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != own)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                environ
                    .split(|&b| b == 0)
                    .any(|var| var == needle.as_bytes())
            })
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
fn processes_of(_run_dir: &Path) -> Vec<i32> {
    Vec::new()
}

/// Kills every process left running by the run in `run_dir` (see the module documentation)
/// and waits, up to `wait`, until they are gone. Returns how many were found.
pub fn stop_orphans(run_dir: &Path, wait: Duration) -> usize {
    let found = processes_of(run_dir);
    for &pid in &found {
        signal(pid, Signal::Kill, false);
    }
    let start = Instant::now();
    while !processes_of(run_dir).is_empty() && start.elapsed() < wait {
        std::thread::sleep(Duration::from_millis(20));
    }
    found.len()
}

/// The signals the runner sends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Signal {
    /// Asks a task to stop.
    Term,
    /// Stops it.
    Kill,
}

/// Sends `signal` to process `pid`, or to its whole process group (`group`).
#[cfg(unix)]
pub(crate) fn signal(pid: i32, signal: Signal, group: bool) {
    use rustix::process::{Pid, Signal as S, kill_process, kill_process_group};
    let Some(pid) = Pid::from_raw(pid) else {
        return;
    };
    let sig = match signal {
        Signal::Term => S::TERM,
        Signal::Kill => S::KILL,
    };
    // A process that is gone already is not an error here.
    let _ = if group {
        kill_process_group(pid, sig)
    } else {
        kill_process(pid, sig)
    };
}

#[cfg(not(unix))]
pub(crate) fn signal(_pid: i32, _signal: Signal, _group: bool) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_lock_is_exclusive_and_released_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert!(!is_live(&store, "r-1"));
        let lock = RunLock::acquire(&store, "r-1").unwrap();
        assert!(is_live(&store, "r-1"));
        let again = RunLock::acquire(&store, "r-1").unwrap_err();
        assert!(
            again
                .to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{again}"
        );
        drop(lock);
        assert!(!is_live(&store, "r-1"));
        RunLock::acquire(&store, "r-1").unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn orphans_are_found_by_their_run_and_killed() {
        let dir = tempfile::tempdir().unwrap();
        let run_dir = dir.path().join("runs/r-2");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env(RUN_DIR_ENV, &run_dir)
            .spawn()
            .unwrap();
        // Another run's process is left alone.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .env(RUN_DIR_ENV, dir.path().join("runs/r-3"))
            .spawn()
            .unwrap();
        let start = Instant::now();
        while processes_of(&run_dir).is_empty() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(stop_orphans(&run_dir, Duration::from_secs(5)), 1);
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert!(
            other.try_wait().unwrap().is_none(),
            "the other run's task still runs"
        );
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
