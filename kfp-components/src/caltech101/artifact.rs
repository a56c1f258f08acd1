//! The dataset artifact: a folder of `.npy` arrays and a JSON sidecar that numpy reads without
//! this crate.
//!
//! ```text
//! <artifact>/
//!   images.npy       uint8, shape (N, S, S, 3): RGB pixels, NHWC, C order
//!   labels.npy       int64 (little-endian), shape (N,): class index of each image
//!   split.npy        uint8, shape (N,): 0 = train, 1 = val, 2 = test
//!   dataset.json     everything else (below)
//!   splits/train.txt one `class/file` per line, in artifact order (also val.txt, test.txt)
//!   preview.png      a grid: one row per class (class order), up to 8 training images each
//! ```
//!
//! `.npy` is numpy's own format (version 1.0 header, data 64-byte aligned), so
//! `np.load("images.npy", mmap_mode="r")` maps the pixels without reading them; see
//! `tests/oracle/read_dataset.py` for a reader that uses numpy only. Images are ordered by
//! label, then by file name; `dataset.json` holds:
//!
//! | key | meaning |
//! | --- | --- |
//! | `format` | `"kfp-rs.caltech101/1"` |
//! | `num_images`, `image_size`, `channels`, `layout`, `dtype` | N, S, 3, `"NHWC"`, `"uint8"` |
//! | `resize_mode`, `filter`, `dct_scaling` | how images were resized (see [`super::decode`]) |
//! | `classes` | class names; label `i` is `classes[i]` |
//! | `class_counts` | images per class |
//! | `files` | each image's source file, `class/name` |
//! | `split` | each image's split, `"train"`, `"val"` or `"test"` (the same as `split.npy`) |
//! | `split_counts` | `{"train": .., "val": .., "test": ..}` |
//! | `split_options` | the split spec and seed |
//! | `class_selection` | background kept or not, the class subset asked for |
//! | `mean`, `std` | per-channel mean and population std of the training split, pixels / 255 (`null` without training images) |
//! | `source`, `source_kind` | where the images came from |
//! | `skipped` | files left out, each `{"file", "reason"}` |
//! | `arrays`, `preview`, `split_lists` | the file names above |
//!
//! Writing is atomic: everything goes into a temporary folder beside the destination, which is
//! then renamed into place; an existing artifact there is replaced, any other non-empty folder
//! is refused.
//!
//! ```
//! use kfp_components::caltech101::{artifact, load, synthetic::SyntheticSpec, LoadOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let archive = dir.path().join("101_ObjectCategories.tar.gz");
//! SyntheticSpec::small().write_tar_gz(&archive)?;
//! let data = load(&archive, &LoadOptions::new(16))?;
//!
//! let out = dir.path().join("dataset");
//! artifact::write(&data, &out)?;
//! let back = artifact::Artifact::open(&out)?;
//! assert_eq!(back.manifest.classes, data.classes);
//! assert_eq!(back.labels()?, data.labels);
//! assert_eq!(back.images()?, data.images.concat());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::classes::ClassSelection;
use super::error::{Error, Warning};
use super::load::Caltech101;
use super::source::SourceKind;
use super::split::{Part, SplitOptions};

/// The value of `format` in `dataset.json`.
pub const FORMAT: &str = "kfp-rs.caltech101/1";
/// The sidecar's file name.
pub const MANIFEST: &str = "dataset.json";
/// The pixels' file name.
pub const IMAGES: &str = "images.npy";
/// The labels' file name.
pub const LABELS: &str = "labels.npy";
/// The split codes' file name.
pub const SPLIT: &str = "split.npy";
/// The folder of split lists.
pub const SPLITS_DIR: &str = "splits";
/// The preview's file name.
pub const PREVIEW: &str = "preview.png";

/// The contents of `dataset.json` (see the module documentation).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// N.
    pub num_images: usize,
    /// S.
    pub image_size: u32,
    /// 3.
    pub channels: u32,
    /// `NHWC`.
    pub layout: String,
    /// `uint8`.
    pub dtype: String,
    /// `stretch`, `center-crop` or `letterbox`.
    pub resize_mode: String,
    /// `bilinear`, `catmull-rom` or `lanczos3`.
    pub filter: String,
    /// Whether DCT-domain downscaling was used while decoding.
    pub dct_scaling: bool,
    /// Class names, by label.
    pub classes: Vec<String>,
    /// Images per class.
    pub class_counts: Vec<usize>,
    /// Each image's file, `class/name`.
    pub files: Vec<String>,
    /// Each image's split.
    pub split: Vec<Part>,
    /// Images per split.
    pub split_counts: BTreeMap<String, usize>,
    /// How the split was made.
    pub split_options: SplitOptions,
    /// Which classes were asked for.
    pub class_selection: ClassSelection,
    /// Per-channel mean of the training split, in `[0, 1]`.
    pub mean: Option<[f64; 3]>,
    /// Per-channel standard deviation of the training split, in `[0, 1]`.
    pub std: Option<[f64; 3]>,
    /// The source path.
    pub source: String,
    /// The kind of source.
    pub source_kind: SourceKind,
    /// Files left out, with why.
    pub skipped: Vec<Warning>,
    /// The array files: `{"images": "images.npy", "labels": ..., "split": ...}`.
    pub arrays: BTreeMap<String, String>,
    /// The preview image's file name.
    pub preview: String,
    /// The split lists: `{"train": "splits/train.txt", ...}`.
    pub split_lists: BTreeMap<String, String>,
    /// The writer: `kfp-components <version>`.
    pub created_by: String,
}

impl Manifest {
    /// The manifest of `data`.
    pub fn of(data: &Caltech101) -> Manifest {
        let stats = data.train_stats();
        let counts = data.split_counts();
        Manifest {
            format: FORMAT.into(),
            num_images: data.len(),
            image_size: data.image.size,
            channels: 3,
            layout: "NHWC".into(),
            dtype: "uint8".into(),
            resize_mode: data.image.mode.name().into(),
            filter: data.image.filter.name().into(),
            dct_scaling: data.image.dct_scaling,
            classes: data.classes.clone(),
            class_counts: data.class_counts(),
            files: data.files.clone(),
            split: data.split.clone(),
            split_counts: Part::ALL
                .iter()
                .map(|p| (p.name().to_owned(), counts[*p as usize]))
                .collect(),
            split_options: data.split_options.clone(),
            class_selection: data.selection.clone(),
            mean: stats.map(|s| s.mean),
            std: stats.map(|s| s.std),
            source: data.source.clone(),
            source_kind: data.source_kind,
            skipped: data.warnings.clone(),
            arrays: [("images", IMAGES), ("labels", LABELS), ("split", SPLIT)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            preview: PREVIEW.into(),
            split_lists: Part::ALL
                .iter()
                .map(|p| {
                    (
                        p.name().to_owned(),
                        format!("{SPLITS_DIR}/{}.txt", p.name()),
                    )
                })
                .collect(),
            created_by: format!("kfp-components {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Writes `data` as an artifact folder at `out` (atomically; see the module documentation) and
/// returns its manifest.
pub fn write(data: &Caltech101, out: &Path) -> Result<Manifest, Error> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            Error::write(
                out,
                std::io::Error::other("the destination has no file name"),
            )
        })?;
    if out.exists() && !replaceable(out)? {
        return Err(Error::write(
            out,
            std::io::Error::other(
                "exists and is neither empty nor a dataset artifact; not replaced",
            ),
        ));
    }
    std::fs::create_dir_all(&parent).map_err(|e| Error::write(&parent, e))?;
    // A folder name no other writer (process or thread) uses.
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{name}.partial-{}-", std::process::id()))
        .tempdir_in(&parent)
        .map_err(|e| Error::write(&parent, e))?
        .keep();
    let result = write_into(data, &temp).and_then(|manifest| {
        if out.exists() {
            // The new folder and the old one trade places in one step: there is no moment
            // with no artifact at `out`. `temp` then holds the old one.
            swap(&temp, out).map_err(|e| Error::write(out, e))?;
        } else {
            std::fs::rename(&temp, out).map_err(|e| Error::write(out, e))?;
        }
        Ok(manifest)
    });
    let _ = std::fs::remove_dir_all(&temp);
    result
}

/// Exchanges two folders atomically (`renameat2` with `RENAME_EXCHANGE` on Linux); where the
/// file system or kernel cannot, falls back to two renames (a short moment with no `b`).
fn swap(a: &Path, b: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    let aside = a.with_extension("old");
    std::fs::rename(b, &aside)?;
    std::fs::rename(a, b)?;
    std::fs::rename(&aside, a)
}

/// Whether an existing `out` may be replaced: an empty folder or an earlier artifact.
fn replaceable(out: &Path) -> Result<bool, Error> {
    if !out.is_dir() {
        return Ok(false);
    }
    if out.join(MANIFEST).is_file() {
        return Ok(true);
    }
    let mut entries = std::fs::read_dir(out).map_err(|e| Error::io(out, e))?;
    Ok(entries.next().is_none())
}

fn write_into(data: &Caltech101, dir: &Path) -> Result<Manifest, Error> {
    std::fs::create_dir_all(dir.join(SPLITS_DIR)).map_err(|e| Error::write(dir, e))?;
    let size = data.image.size as usize;
    let n = data.len();
    let bad_size = data
        .images
        .iter()
        .position(|i| i.len() != data.image.image_bytes());
    if let Some(index) = bad_size {
        return Err(Error::write(
            dir.join(IMAGES),
            std::io::Error::other(format!("image {index} does not have {size}×{size}×3 bytes")),
        ));
    }
    write_file(&dir.join(IMAGES), |w| {
        write_npy_header(w, "|u1", &[n, size, size, 3])?;
        for image in &data.images {
            w.write_all(image)?;
        }
        Ok(())
    })?;
    write_file(&dir.join(LABELS), |w| {
        write_npy_header(w, "<i8", &[n])?;
        for label in &data.labels {
            w.write_all(&label.to_le_bytes())?;
        }
        Ok(())
    })?;
    write_file(&dir.join(SPLIT), |w| {
        write_npy_header(w, "|u1", &[n])?;
        let codes: Vec<u8> = data.split.iter().map(|p| p.code()).collect();
        w.write_all(&codes)
    })?;
    for part in Part::ALL {
        let path = dir.join(SPLITS_DIR).join(format!("{}.txt", part.name()));
        write_file(&path, |w| {
            for (file, _) in data
                .files
                .iter()
                .zip(&data.split)
                .filter(|(_, p)| **p == part)
            {
                writeln!(w, "{file}")?;
            }
            Ok(())
        })?;
    }
    let png = super::preview::render(data).map_err(|e| Error::write(dir.join(PREVIEW), e))?;
    write_file(&dir.join(PREVIEW), |w| w.write_all(&png))?;
    let manifest = Manifest::of(data);
    write_file(&dir.join(MANIFEST), |w| {
        serde_json::to_writer_pretty(&mut *w, &manifest).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })?;
    Ok(manifest)
}

fn write_file(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<(), Error> {
    let file = std::fs::File::create(path).map_err(|e| Error::write(path, e))?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    fill(&mut writer)
        .and_then(|()| writer.flush())
        .map_err(|e| Error::write(path, e))
}

/// Writes a `.npy` version 1.0 header for a C-order array of `descr` (`|u1`, `<i8`, ...) and
/// `shape`, padded so that the data starts at a multiple of 64 bytes.
pub fn write_npy_header(w: &mut impl Write, descr: &str, shape: &[usize]) -> std::io::Result<()> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let length =
        u16::try_from(header.len()).map_err(|_| std::io::Error::other("npy header too long"))?;
    w.write_all(b"\x93NUMPY\x01\x00")?;
    w.write_all(&length.to_le_bytes())?;
    w.write_all(header.as_bytes())
}

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// The dtype, e.g. `|u1` or `<i8`.
    pub descr: String,
    /// The shape.
    pub shape: Vec<usize>,
    /// Where the data starts in the file.
    pub data_offset: usize,
}

/// Reads the header of a `.npy` file (version 1 or 2, C order only).
pub fn read_npy_header(r: &mut impl Read) -> Result<NpyHeader, String> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(|e| e.to_string())?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err("not a .npy file".into());
    }
    let (length, offset) = match magic[6] {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b).map_err(|e| e.to_string())?;
            (usize::from(u16::from_le_bytes(b)), 10)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b).map_err(|e| e.to_string())?;
            (u32::from_le_bytes(b) as usize, 12)
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    if length > 1 << 20 {
        return Err("the .npy header is too long".into());
    }
    let mut header = vec![0u8; length];
    r.read_exact(&mut header).map_err(|e| e.to_string())?;
    let header = String::from_utf8_lossy(&header);
    let field = |key: &str| -> Result<&str, String> {
        let at = header
            .find(&format!("'{key}':"))
            .ok_or_else(|| format!("the .npy header has no '{key}'"))?;
        Ok(header[at + key.len() + 3..].trim_start())
    };
    let descr = field("descr")?
        .strip_prefix('\'')
        .and_then(|s| s.split('\'').next())
        .ok_or("bad 'descr' in the .npy header")?
        .to_owned();
    if !field("fortran_order")?.starts_with("False") {
        return Err("Fortran-order .npy files are not read".into());
    }
    let shape_text = field("shape")?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("bad 'shape' in the .npy header")?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad dimension '{s}' in the .npy shape"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NpyHeader {
        descr,
        shape,
        data_offset: offset + length,
    })
}

/// An artifact folder opened for reading.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The folder.
    pub dir: PathBuf,
    /// Its `dataset.json`.
    pub manifest: Manifest,
}

impl Artifact {
    /// Reads and checks `dataset.json` in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Artifact, Error> {
        let dir = dir.as_ref().to_owned();
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::BadArtifact {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if manifest.format != FORMAT {
            return Err(Error::BadArtifact {
                path,
                reason: format!("format '{}', expected '{FORMAT}'", manifest.format),
            });
        }
        Ok(Artifact { dir, manifest })
    }

    fn array(&self, name: &str, descr: &str, shape: &[usize]) -> Result<Vec<u8>, Error> {
        let path = self.dir.join(name);
        let bad = |reason: String| Error::BadArtifact {
            path: path.clone(),
            reason,
        };
        let mut file =
            std::io::BufReader::new(std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?);
        let header = read_npy_header(&mut file).map_err(bad)?;
        if header.descr != descr || header.shape != shape {
            return Err(bad(format!(
                "dtype {} shape {:?}, expected {descr} {shape:?}",
                header.descr, header.shape
            )));
        }
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .map_err(|e| Error::io(&path, e))?;
        let item = if descr == "<i8" { 8 } else { 1 };
        let want = shape.iter().product::<usize>() * item;
        if data.len() != want {
            return Err(bad(format!("{} data bytes, expected {want}", data.len())));
        }
        Ok(data)
    }

    /// All pixels, `N * S * S * 3` bytes.
    pub fn images(&self) -> Result<Vec<u8>, Error> {
        let (n, s) = (self.manifest.num_images, self.manifest.image_size as usize);
        self.array(IMAGES, "|u1", &[n, s, s, 3])
    }

    /// The labels.
    pub fn labels(&self) -> Result<Vec<i64>, Error> {
        let data = self.array(LABELS, "<i8", &[self.manifest.num_images])?;
        Ok(data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect())
    }

    /// The split codes (0 train, 1 val, 2 test).
    pub fn split_codes(&self) -> Result<Vec<u8>, Error> {
        self.array(SPLIT, "|u1", &[self.manifest.num_images])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caltech101::synthetic::SyntheticSpec;
    use crate::caltech101::{LoadOptions, load};

    #[test]
    fn npy_headers_round_trip_and_are_aligned() -> Result<(), String> {
        for shape in [vec![7], vec![3, 64, 64, 3], vec![0, 2, 2, 3]] {
            let mut bytes = Vec::new();
            write_npy_header(&mut bytes, "|u1", &shape).map_err(|e| e.to_string())?;
            assert_eq!(bytes.len() % 64, 0);
            let header = read_npy_header(&mut bytes.as_slice())?;
            assert_eq!(header.shape, shape);
            assert_eq!(header.descr, "|u1");
            assert_eq!(header.data_offset, bytes.len());
        }
        let mut bytes = Vec::new();
        write_npy_header(&mut bytes, "<i8", &[5]).map_err(|e| e.to_string())?;
        assert!(String::from_utf8_lossy(&bytes).contains("'shape': (5,), }"));
        assert!(read_npy_header(&mut &b"garbage...."[..]).is_err());
        Ok(())
    }

    #[test]
    fn a_replaced_artifact_is_never_missing_for_a_reader() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let archive = dir.path().join("a.tar.gz");
        SyntheticSpec::small().write_tar_gz(&archive)?;
        let data = load(&archive, &LoadOptions::new(8))?;
        let out = dir.path().join("out");
        write(&data, &out)?;
        let done = std::sync::atomic::AtomicBool::new(false);
        let (checks, misses) = std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let (mut checks, mut misses) = (0u64, 0u64);
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    checks += 1;
                    if !out.join(MANIFEST).is_file() {
                        misses += 1;
                    }
                }
                (checks, misses)
            });
            for _ in 0..20 {
                write(&data, &out).unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            reader.join().unwrap()
        });
        assert!(checks > 0);
        assert_eq!(
            misses, 0,
            "the artifact was missing {misses} times of {checks}"
        );
        Ok(())
    }

    #[test]
    fn writing_is_atomic_and_replaces_only_artifacts() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let archive = dir.path().join("a.tar.gz");
        SyntheticSpec::small().write_tar_gz(&archive)?;
        let data = load(&archive, &LoadOptions::new(8))?;
        let out = dir.path().join("out");
        let manifest = write(&data, &out)?;
        assert_eq!(manifest.num_images, data.len());
        for file in [
            IMAGES,
            LABELS,
            SPLIT,
            MANIFEST,
            PREVIEW,
            "splits/train.txt",
            "splits/test.txt",
            "splits/val.txt",
        ] {
            assert!(out.join(file).is_file(), "{file}");
        }
        // again over the same artifact: replaced, and no temporary folder is left behind
        write(&data, &out)?;
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())?
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        // a folder holding something else is not replaced
        let other = dir.path().join("other");
        std::fs::create_dir(&other)?;
        std::fs::write(other.join("keep.txt"), "mine")?;
        assert!(matches!(write(&data, &other), Err(Error::Write { .. })));
        assert!(other.join("keep.txt").is_file());

        let back = Artifact::open(&out)?;
        // (floats may differ in the last bit after a JSON round trip)
        let close = |a: Option<[f64; 3]>, b: Option<[f64; 3]>| match (a, b) {
            (Some(a), Some(b)) => a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12),
            _ => false,
        };
        assert!(close(back.manifest.mean, manifest.mean) && close(back.manifest.std, manifest.std));
        assert_eq!(
            Manifest {
                mean: None,
                std: None,
                ..back.manifest.clone()
            },
            Manifest {
                mean: None,
                std: None,
                ..manifest
            }
        );
        let codes: Vec<u8> = data.split.iter().map(|p| p.code()).collect();
        assert_eq!(back.split_codes()?, codes);
        let train = std::fs::read_to_string(out.join("splits/train.txt"))?;
        assert_eq!(train.lines().count(), data.split_counts()[0]);
        Ok(())
    }

    #[test]
    fn a_damaged_artifact_is_reported() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let archive = dir.path().join("a.tar.gz");
        SyntheticSpec::small().write_tar_gz(&archive)?;
        let out = dir.path().join("out");
        write(&load(&archive, &LoadOptions::new(8))?, &out)?;
        let bytes = std::fs::read(out.join(IMAGES))?;
        std::fs::write(out.join(IMAGES), &bytes[..bytes.len() - 1])?;
        let message = Artifact::open(&out)?
            .images()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.contains("images.npy") && message.contains("data bytes"),
            "{message}"
        );
        std::fs::write(out.join(MANIFEST), "{}")?;
        assert!(matches!(
            Artifact::open(&out),
            Err(Error::BadArtifact { .. })
        ));
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(crate::caltech101::fuzz_cases(64)))]

        /// Any bytes as an artifact's `manifest.json` (a valid one with bytes changed, cut
        /// short, or random bytes) beside valid arrays: `Artifact::open` gives the artifact or
        /// an error, never a panic.
        #[test]
        fn damaged_manifests_never_panic(
            edits in proptest::collection::vec((0usize..8192, proptest::prelude::any::<u8>()), 0..16),
            cut in 0usize..8192,
            random in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            mode in 0usize..3,
        ) {
            let fail = |e: String| proptest::test_runner::TestCaseError::fail(e);
            let dir = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
            let archive = dir.path().join("a.tar.gz");
            SyntheticSpec::small().write_tar_gz(&archive).map_err(|e| fail(e.to_string()))?;
            let data = load(&archive, &LoadOptions::new(8)).map_err(|e| fail(e.to_string()))?;
            let out = dir.path().join("out");
            write(&data, &out).map_err(|e| fail(e.to_string()))?;
            let mut bytes = std::fs::read(out.join(MANIFEST)).map_err(|e| fail(e.to_string()))?;
            match mode {
                0 => for (at, value) in &edits {
                    let at = at % bytes.len();
                    bytes[at] = *value;
                },
                1 => bytes.truncate(cut.min(bytes.len())),
                _ => bytes = random,
            }
            std::fs::write(out.join(MANIFEST), &bytes).map_err(|e| fail(e.to_string()))?;
            if let Ok(artifact) = Artifact::open(&out) {
                proptest::prop_assert!(artifact.manifest.num_images <= 1_000_000_000);
            }
        }
    }
}
