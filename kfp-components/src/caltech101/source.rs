//! Sources: reading the files of Caltech101 from an archive or a folder, as a stream.
//!
//! [`Source::open`] accepts, and tells apart by their first bytes rather than their names:
//!
//! | what | example | how it is read |
//! | --- | --- | --- |
//! | a gzip-compressed tar | `101_ObjectCategories.tar.gz` | streamed: gunzip and tar in one pass, nothing written to disk |
//! | a plain tar | `101_ObjectCategories.tar` | streamed |
//! | a zip | `caltech-101.zip` (the official download) | the `101_ObjectCategories.tar.gz` inside is streamed out of the zip; a zip of the image folder itself is read entry by entry |
//! | a folder | `101_ObjectCategories/`, or a folder holding it or its `.tar.gz` | read file by file, in sorted order |
//!
//! [`Source::walk`] calls a function with each [`Entry`] in archive order; the function reads
//! the bytes of the entries it wants and leaves the others (which are skipped without
//! copying). A truncated or damaged archive gives [`Error::Archive`], naming the last entry
//! read, never a panic.
//!
//! ```
//! use kfp_components::caltech101::{source::{EntryKind, Source}, synthetic::SyntheticSpec};
//!
//! let dir = tempfile::tempdir()?;
//! let archive = dir.path().join("101_ObjectCategories.tar.gz");
//! SyntheticSpec::small().write_tar_gz(&archive)?;
//!
//! let source = Source::open(&archive)?;
//! let mut jpegs = 0;
//! source.walk(&|_| {}, &mut |mut entry| {
//!     if entry.kind() == EntryKind::File && entry.path().ends_with(".jpg") {
//!         let bytes = entry.read_to_vec(1 << 20)?;
//!         assert_eq!(bytes.map(|b| b[..2].to_vec()), Some(vec![0xFF, 0xD8]));
//!         jpegs += 1;
//!     }
//!     Ok(())
//! })?;
//! assert!(jpegs > 10);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Component, Path, PathBuf};

use super::error::Error;

/// The file name of the image archive inside the official `caltech-101.zip`.
pub const ARCHIVE_NAME: &str = "101_ObjectCategories.tar.gz";
/// The name of the image folder inside the archive.
pub const FOLDER_NAME: &str = "101_ObjectCategories";

/// What kind of source a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A gzip-compressed tar archive.
    TarGz,
    /// A tar archive.
    Tar,
    /// A zip archive (the official `caltech-101.zip`, or a zip of the image folder).
    Zip,
    /// An extracted folder.
    Folder,
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SourceKind::TarGz => "tar.gz",
            SourceKind::Tar => "tar",
            SourceKind::Zip => "zip",
            SourceKind::Folder => "folder",
        })
    }
}

/// A Caltech101 source: an archive or a folder, checked to exist and to be of a known kind.
#[derive(Debug, Clone)]
pub struct Source {
    path: PathBuf,
    kind: SourceKind,
}

/// What an entry of a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// Anything else: a link, a device, or a path that leaves the archive (`..`, absolute).
    Other,
}

/// One file or folder of a source, handed to the function given to [`Source::walk`].
pub struct Entry<'a> {
    path: &'a str,
    kind: EntryKind,
    size: u64,
    reader: &'a mut dyn Read,
}

impl Entry<'_> {
    /// The path inside the source, `/`-separated, without a leading `./` (for a folder
    /// source: relative to the image folder).
    pub fn path(&self) -> &str {
        self.path
    }

    /// Whether this is a file, a folder or something else.
    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    /// The size in bytes the archive records (0 for folders).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reads the whole file, or returns `None` when it is larger than `limit` bytes (nothing is
    /// read then). An error here is a damaged archive: it is returned as such by the walk when
    /// passed back with `?`.
    pub fn read_to_vec(&mut self, limit: u64) -> Result<Option<Vec<u8>>, Error> {
        if self.size > limit {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(usize::try_from(self.size).unwrap_or(0));
        self.reader
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Archive {
                path: PathBuf::new(),
                entry: Some(self.path.to_owned()),
                source,
            })?;
        if bytes.len() as u64 > limit {
            return Ok(None);
        }
        Ok(Some(bytes))
    }
}

impl Source {
    /// Opens `path`: checks that it exists and finds what kind of source it is (see the
    /// module documentation). A folder holding `101_ObjectCategories/` or
    /// `101_ObjectCategories.tar.gz` (an extracted `caltech-101.zip`) stands for that.
    pub fn open(path: impl AsRef<Path>) -> Result<Source, Error> {
        let path = path.as_ref();
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound {
                    path: path.to_owned(),
                });
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        if meta.is_dir() {
            let inner = path.join(FOLDER_NAME);
            if inner.is_dir() {
                return Ok(Source {
                    path: inner,
                    kind: SourceKind::Folder,
                });
            }
            let archive = path.join(ARCHIVE_NAME);
            if archive.is_file() {
                return Source::open(archive);
            }
            return Ok(Source {
                path: path.to_owned(),
                kind: SourceKind::Folder,
            });
        }
        let mut head = [0u8; 512];
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut filled = 0;
        while filled < head.len() {
            match file.read(&mut head[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(path, e)),
            }
        }
        let head = &head[..filled];
        let kind = if head.starts_with(&[0x1f, 0x8b]) {
            SourceKind::TarGz
        } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            SourceKind::Zip
        } else if head.len() >= 262 && &head[257..262] == b"ustar" {
            SourceKind::Tar
        } else if head.is_empty() {
            return Err(Error::UnknownSource {
                path: path.to_owned(),
                reason: "the file is empty".into(),
            });
        } else {
            return Err(Error::UnknownSource {
                path: path.to_owned(),
                reason: "it is neither a .tar.gz, a .tar, a .zip nor a folder".into(),
            });
        };
        Ok(Source {
            path: path.to_owned(),
            kind,
        })
    }

    /// The file or folder read (for a folder: the image folder itself).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The kind of source.
    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// Calls `visit` with each entry, in the source's order (sorted for folders). `progress` is
    /// called with the number of bytes of the source read so far (of the archive file, or of
    /// all files for a folder) and `total` as reported by [`Source::total_bytes`].
    ///
    /// An error returned by `visit` stops the walk and is returned.
    pub fn walk(
        &self,
        progress: &(dyn Fn(u64) + Sync),
        visit: &mut dyn FnMut(Entry<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        match self.kind {
            SourceKind::TarGz | SourceKind::Tar => {
                let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
                let counted = Counting::new(file, progress);
                let buffered = BufReader::with_capacity(1 << 20, counted);
                if self.kind == SourceKind::TarGz {
                    walk_tar(&self.path, flate2::read::GzDecoder::new(buffered), visit)
                } else {
                    walk_tar(&self.path, buffered, visit)
                }
            }
            SourceKind::Zip => self.walk_zip(progress, visit),
            SourceKind::Folder => walk_folder(&self.path, progress, visit),
        }
    }

    /// The number of bytes [`Source::walk`] reports progress against: the archive's size, or
    /// the sum of the file sizes of a folder (which takes a listing).
    pub fn total_bytes(&self) -> Result<u64, Error> {
        match self.kind {
            SourceKind::Folder => Ok(list_folder(&self.path)?
                .iter()
                .map(|(_, _, size, _)| size)
                .sum()),
            _ => std::fs::metadata(&self.path)
                .map(|m| m.len())
                .map_err(|e| Error::io(&self.path, e)),
        }
    }

    fn walk_zip(
        &self,
        progress: &(dyn Fn(u64) + Sync),
        visit: &mut dyn FnMut(Entry<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let path = &self.path;
        let zip_error = |e: zip::result::ZipError, entry: Option<String>| Error::Archive {
            path: path.clone(),
            entry,
            source: std::io::Error::other(e),
        };
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut archive =
            zip::ZipArchive::new(BufReader::new(file)).map_err(|e| zip_error(e, None))?;
        // The official zip wraps the image tarball; stream it out of the zip.
        let inner = archive
            .file_names_raw()
            .map(String::from_utf8_lossy)
            .find(|name| name.rsplit('/').next() == Some(ARCHIVE_NAME))
            .map(|name| name.into_owned());
        if let Some(inner) = inner {
            let member = archive
                .by_name(&inner)
                .map_err(|e| zip_error(e, Some(inner.clone())))?;
            let counted = Counting::new(member, progress);
            let gz = flate2::read::GzDecoder::new(BufReader::with_capacity(1 << 20, counted));
            return walk_tar(&path.join(&inner), gz, visit);
        }
        let mut read = 0u64;
        for index in 0..archive.len() {
            let mut member = archive.by_index(index).map_err(|e| zip_error(e, None))?;
            let raw = String::from_utf8_lossy(member.name_raw()).into_owned();
            let (name, kind) = match normalize(Path::new(&raw)) {
                Some(name) if member.is_dir() => (name, EntryKind::Dir),
                Some(name) if member.is_file() => (name, EntryKind::File),
                Some(name) => (name, EntryKind::Other),
                None => (raw.clone(), EntryKind::Other),
            };
            let size = member.size();
            read += member.compressed_size();
            visit(Entry {
                path: &name,
                kind,
                size,
                reader: &mut member,
            })
            .map_err(|e| with_archive_path(e, path))?;
            progress(read);
        }
        Ok(())
    }
}

/// Fills in the archive path of an [`Error::Archive`] raised by [`Entry::read_to_vec`].
fn with_archive_path(error: Error, archive: &Path) -> Error {
    match error {
        Error::Archive {
            path,
            entry,
            source,
        } if path.as_os_str().is_empty() => Error::Archive {
            path: archive.to_owned(),
            entry,
            source,
        },
        other => other,
    }
}

fn walk_tar<R: Read>(
    path: &Path,
    reader: R,
    visit: &mut dyn FnMut(Entry<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut archive = tar::Archive::new(reader);
    let mut last: Option<String> = None;
    let archive_error = |source: std::io::Error, last: &Option<String>| Error::Archive {
        path: path.to_owned(),
        entry: last.clone(),
        source,
    };
    let entries = archive.entries().map_err(|e| archive_error(e, &last))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| archive_error(e, &last))?;
        let header_type = entry.header().entry_type();
        if header_type.is_pax_global_extensions() {
            continue; // e.g. the commit id `git archive` records
        }
        let raw = entry
            .path()
            .map_err(|e| archive_error(e, &last))?
            .into_owned();
        let size = entry.size();
        let (name, kind) = match normalize(&raw) {
            Some(name) if header_type.is_dir() => (name, EntryKind::Dir),
            Some(name) if header_type.is_file() || header_type.is_contiguous() => {
                (name, EntryKind::File)
            }
            Some(name) => (name, EntryKind::Other),
            None => (raw.to_string_lossy().into_owned(), EntryKind::Other),
        };
        visit(Entry {
            path: &name,
            kind,
            size,
            reader: &mut entry,
        })
        .map_err(|e| with_archive_path(e, path))?;
        last = Some(name);
    }
    Ok(())
}

/// The files of a folder source: `(relative path, full path, size, kind)`, sorted, two levels
/// deep (`class/file`); deeper folders are listed as entries but not entered.
fn list_folder(root: &Path) -> Result<Vec<(String, PathBuf, u64, EntryKind)>, Error> {
    fn sorted_children(dir: &Path) -> Result<Vec<(String, PathBuf)>, Error> {
        let mut children = Vec::new();
        for child in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let child = child.map_err(|e| Error::io(dir, e))?;
            children.push((
                child.file_name().to_string_lossy().into_owned(),
                child.path(),
            ));
        }
        children.sort();
        Ok(children)
    }
    let mut listing = Vec::new();
    for (name, path) in sorted_children(root)? {
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            listing.push((name.clone(), path.clone(), 0, EntryKind::Dir));
            for (file, file_path) in sorted_children(&path)? {
                let meta = std::fs::metadata(&file_path).map_err(|e| Error::io(&file_path, e))?;
                let kind = if meta.is_file() {
                    EntryKind::File
                } else if meta.is_dir() {
                    EntryKind::Dir
                } else {
                    EntryKind::Other
                };
                let size = if kind == EntryKind::File {
                    meta.len()
                } else {
                    0
                };
                listing.push((format!("{name}/{file}"), file_path, size, kind));
            }
        } else {
            let kind = if meta.is_file() {
                EntryKind::File
            } else {
                EntryKind::Other
            };
            listing.push((name, path, meta.len(), kind));
        }
    }
    Ok(listing)
}

fn walk_folder(
    root: &Path,
    progress: &(dyn Fn(u64) + Sync),
    visit: &mut dyn FnMut(Entry<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut read = 0;
    for (name, path, size, kind) in list_folder(root)? {
        let result = if kind == EntryKind::File {
            let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
            let mut reader = BufReader::new(file);
            visit(Entry {
                path: &name,
                kind,
                size,
                reader: &mut reader,
            })
        } else {
            visit(Entry {
                path: &name,
                kind,
                size,
                reader: &mut std::io::empty(),
            })
        };
        result.map_err(|e| match e {
            Error::Archive { source, .. } => Error::io(&path, source),
            other => other,
        })?;
        read += size;
        progress(read);
    }
    Ok(())
}

/// `a/./b/c` → `a/b/c`; `None` for an empty, absolute or `..` path.
fn normalize(raw: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for component in raw.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

/// A reader that reports how many bytes went through it.
struct Counting<'p, R> {
    inner: R,
    count: u64,
    progress: &'p (dyn Fn(u64) + Sync),
}

impl<'p, R> Counting<'p, R> {
    fn new(inner: R, progress: &'p (dyn Fn(u64) + Sync)) -> Self {
        Counting {
            inner,
            count: 0,
            progress,
        }
    }
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        (self.progress)(self.count);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<'_, R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caltech101::synthetic::SyntheticSpec;

    fn files_of(source: &Source) -> Result<Vec<(String, EntryKind, usize)>, Error> {
        let mut seen = Vec::new();
        source.walk(&|_| {}, &mut |mut entry| {
            let len = if entry.kind() == EntryKind::File {
                entry.read_to_vec(u64::MAX)?.map_or(0, |b| b.len())
            } else {
                0
            };
            seen.push((entry.path().to_owned(), entry.kind(), len));
            Ok(())
        })?;
        Ok(seen)
    }

    #[test]
    fn every_kind_of_source_gives_the_same_files() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let spec = SyntheticSpec::small();
        let tgz = dir.path().join("a.tar.gz");
        let tar = dir.path().join("a.tar");
        let zip = dir.path().join("caltech-101.zip");
        let folder = dir.path().join("extracted");
        spec.write_tar_gz(&tgz)?;
        spec.write_tar(&tar)?;
        spec.write_zip(&zip)?;
        spec.write_folder(&folder)?;

        let kinds: Vec<_> = [&tgz, &tar, &zip, &folder]
            .iter()
            .map(|p| Source::open(p).map(|s| s.kind()))
            .collect::<Result<_, _>>()?;
        assert_eq!(
            kinds,
            [
                SourceKind::TarGz,
                SourceKind::Tar,
                SourceKind::Zip,
                SourceKind::Folder
            ]
        );
        let only_files = |v: Vec<(String, EntryKind, usize)>| {
            let mut v: Vec<_> = v
                .into_iter()
                .filter(|(_, k, _)| *k == EntryKind::File)
                .map(|(p, _, n)| (p.trim_start_matches("101_ObjectCategories/").to_owned(), n))
                .collect();
            v.sort();
            v
        };
        let reference = only_files(files_of(&Source::open(&tgz)?)?);
        assert!(reference.len() > 10);
        for path in [&tar, &zip, &folder] {
            assert_eq!(
                only_files(files_of(&Source::open(path)?)?),
                reference,
                "{path:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_missing_path_or_a_stray_file_is_a_clear_error() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let missing = dir.path().join("nope.tar.gz");
        let error = Source::open(&missing).err().map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("nope.tar.gz: no such file")),
            "{error:?}"
        );
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello")?;
        let error = Source::open(&text).err().map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("notes.txt: not a Caltech101 source")),
            "{error:?}"
        );
        let empty = dir.path().join("empty.tar.gz");
        std::fs::write(&empty, "")?;
        assert!(matches!(
            Source::open(&empty),
            Err(Error::UnknownSource { .. })
        ));
        Ok(())
    }

    #[test]
    fn a_truncated_archive_is_reported_with_its_path() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let tgz = dir.path().join("cut.tar.gz");
        SyntheticSpec::small().write_tar_gz(&tgz)?;
        let bytes = std::fs::read(&tgz)?;
        std::fs::write(&tgz, &bytes[..bytes.len() / 2])?;
        let error = files_of(&Source::open(&tgz)?).err();
        match error {
            Some(Error::Archive { path, .. }) => assert_eq!(path, tgz),
            other => panic!("expected an archive error, got {other:?}"),
        }
        let message = files_of(&Source::open(&tgz)?)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("truncated or corrupt"), "{message}");
        Ok(())
    }

    #[test]
    fn a_folder_holding_the_image_folder_or_the_archive_is_accepted()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let spec = SyntheticSpec::small();
        spec.write_folder(dir.path().join("x"))?; // writes x/101_ObjectCategories/...
        let source = Source::open(dir.path().join("x"))?;
        assert_eq!(source.kind(), SourceKind::Folder);
        assert!(source.path().ends_with(FOLDER_NAME));
        std::fs::create_dir(dir.path().join("y"))?;
        spec.write_tar_gz(dir.path().join("y").join(ARCHIVE_NAME))?;
        assert_eq!(
            Source::open(dir.path().join("y"))?.kind(),
            SourceKind::TarGz
        );
        Ok(())
    }

    #[test]
    fn paths_are_normalized() {
        assert_eq!(
            normalize(Path::new("./a/b/c.jpg")).as_deref(),
            Some("a/b/c.jpg")
        );
        assert_eq!(normalize(Path::new("a/../b")), None);
        assert_eq!(normalize(Path::new("/etc/passwd")), None);
        assert_eq!(normalize(Path::new(".")), None);
    }
}
