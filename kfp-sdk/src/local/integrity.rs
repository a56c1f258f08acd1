//! What a cache entry held when it was made, and whether it still holds it.
//!
//! When a task's outputs are committed to the cache, every file under them is made read-only
//! and listed in `cache/KEY/manifest.json` with its size, modification and change times, inode
//! and SHA-256. Reusing the entry checks it: cheaply by default (the listing and the file
//! metadata; a change of content changes the change time, which no user-space call can set
//! back), fully with `--verify-cache` or when the cheap check finds a difference (then the
//! SHA-256 decides). Read-only modes stop a component that writes to its input by mistake
//! when it does not run as root; the check catches it when it does.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::runtime::digest::sha256_file;

/// One file of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Change time (metadata or content), nanoseconds since the epoch.
    pub ctime_ns: i128,
    /// Inode number.
    pub inode: u64,
    /// SHA-256 of the content, in hex (empty in a [`Manifest::fingerprint`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
}

/// The files under a folder (paths relative to it, `/`-separated) and their state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Each file (symbolic links are listed as their target's state).
    pub files: BTreeMap<String, FileState>,
}

/// How an entry differs from its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// A listed file is missing.
    Missing(String),
    /// A file is there that the manifest does not list.
    Added(String),
    /// A file's content differs from what was recorded.
    Changed(String),
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Missing(p) => write!(f, "'{p}' is missing"),
            Difference::Added(p) => write!(f, "'{p}' was added"),
            Difference::Changed(p) => write!(f, "'{p}' was changed"),
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if std::fs::metadata(&path)?.is_dir() {
            walk(root, &path, out)?;
        } else {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, path));
        }
    }
    Ok(())
}

fn files(root: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    if std::fs::metadata(root)?.is_dir() {
        walk(root, root, &mut out)?;
    } else {
        out.push((String::new(), root.to_owned()));
    }
    Ok(out)
}

fn state(path: &Path, hash: bool) -> std::io::Result<FileState> {
    let meta = std::fs::metadata(path)?;
    #[cfg(unix)]
    let (mtime_ns, ctime_ns, inode) = {
        use std::os::unix::fs::MetadataExt;
        (
            i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            meta.ino(),
        )
    };
    #[cfg(not(unix))]
    let (mtime_ns, ctime_ns, inode) = {
        let mtime = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        (mtime, mtime, 0)
    };
    Ok(FileState {
        size: meta.len(),
        mtime_ns,
        ctime_ns,
        inode,
        sha256: if hash {
            sha256_file(path)?
        } else {
            String::new()
        },
    })
}

impl Manifest {
    /// Lists and hashes every file under `root` (a folder or one file).
    pub fn of(root: &Path) -> std::io::Result<Manifest> {
        Self::read(root, true)
    }

    /// Lists every file under `root` with its metadata only: cheap, for comparing a folder
    /// before and after a task ran with it as an input.
    pub fn fingerprint(root: &Path) -> std::io::Result<Manifest> {
        Self::read(root, false)
    }

    fn read(root: &Path, hash: bool) -> std::io::Result<Manifest> {
        let mut map = BTreeMap::new();
        for (relative, path) in files(root)? {
            map.insert(relative, state(&path, hash)?);
        }
        Ok(Manifest { files: map })
    }

    /// Checks `root` against this manifest. With `full`, every file is hashed; otherwise a
    /// file is hashed only when its metadata differs from the record.
    pub fn check(&self, root: &Path, full: bool) -> Result<(), Difference> {
        let found = files(root).map_err(|_| Difference::Missing(String::new()))?;
        let mut seen = 0;
        for (relative, path) in found {
            let Some(recorded) = self.files.get(&relative) else {
                return Err(Difference::Added(relative));
            };
            seen += 1;
            let now = state(&path, false).map_err(|_| Difference::Missing(relative.clone()))?;
            let same_metadata = now.size == recorded.size
                && now.mtime_ns == recorded.mtime_ns
                && now.ctime_ns == recorded.ctime_ns
                && now.inode == recorded.inode;
            if full || !same_metadata {
                let hash = sha256_file(&path).map_err(|_| Difference::Missing(relative.clone()))?;
                if now.size != recorded.size || hash != recorded.sha256 {
                    return Err(Difference::Changed(relative));
                }
            }
        }
        if seen != self.files.len() {
            let missing = self
                .files
                .keys()
                .find(|k| !root.join(k).exists())
                .cloned()
                .unwrap_or_default();
            return Err(Difference::Missing(missing));
        }
        Ok(())
    }
}

/// Makes every file under `root` read-only (folders too, so nothing can be added), or
/// writable again (`writable`), e.g. before an entry is removed.
pub fn set_read_only(root: &Path, read_only: bool) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(root)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    if meta.is_dir() && !read_only {
        set_mode(root, true, false)?;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(root)? {
            set_read_only(&entry?.path(), read_only)?;
        }
    }
    set_mode(root, meta.is_dir(), read_only)
}

#[cfg(unix)]
fn set_mode(path: &Path, dir: bool, read_only: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match (dir, read_only) {
        (true, true) => 0o555,
        (true, false) => 0o755,
        (false, true) => 0o444,
        (false, false) => 0o644,
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(path: &Path, _dir: bool, read_only: bool) -> std::io::Result<()> {
    let mut permissions = std::fs::metadata(path)?.permissions();
    permissions.set_readonly(read_only);
    std::fs::set_permissions(path, permissions)
}

/// Removes a folder that may hold read-only files and folders.
pub fn remove_tree(root: &Path) -> std::io::Result<()> {
    match set_read_only(root, false) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    std::fs::remove_dir_all(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_added_or_missing_file_is_found_and_an_untouched_entry_passes()
    -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("out");
        std::fs::create_dir_all(root.join("model"))?;
        std::fs::write(root.join("model/data"), b"weights")?;
        std::fs::write(root.join("output"), b"0.9")?;
        let manifest = Manifest::of(&root)?;
        assert_eq!(manifest.files.len(), 2);
        assert_eq!(manifest.check(&root, false), Ok(()));
        assert_eq!(manifest.check(&root, true), Ok(()));

        // Same size, content changed: the change time gives it away, the hash confirms.
        std::fs::write(root.join("model/data"), b"WEIGHTS")?;
        assert_eq!(
            manifest.check(&root, false),
            Err(Difference::Changed("model/data".into()))
        );
        std::fs::write(root.join("model/data"), b"weights")?;
        // Content back as it was: the hash says it is the same content.
        assert_eq!(manifest.check(&root, false), Ok(()));

        std::fs::write(root.join("extra"), b"")?;
        assert_eq!(
            manifest.check(&root, false),
            Err(Difference::Added("extra".into()))
        );
        std::fs::remove_file(root.join("extra"))?;
        std::fs::remove_file(root.join("output"))?;
        assert_eq!(
            manifest.check(&root, false),
            Err(Difference::Missing("output".into()))
        );
        Ok(())
    }

    #[test]
    fn read_only_trees_can_still_be_removed() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("entry");
        std::fs::create_dir_all(root.join("a/b"))?;
        std::fs::write(root.join("a/b/f"), b"x")?;
        set_read_only(&root, true)?;
        let meta = std::fs::metadata(root.join("a/b/f"))?;
        assert!(meta.permissions().readonly());
        remove_tree(&root)?;
        assert!(!root.exists());
        remove_tree(&root)?; // gone already: fine
        Ok(())
    }
}
