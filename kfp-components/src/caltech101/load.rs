//! Loading: one pass over the source, decoding in parallel, then classes and split.
//!
//! [`load`] reads the source on one thread (gunzip and tar are sequential) and hands the bytes
//! of each wanted image through a small bounded queue to rayon's worker threads, which decode
//! and resize them (one [`Decoder`] per worker). Memory stays near the size of the decoded
//! images: the archive is never held whole. A progress bar (bytes of the source read) is drawn
//! on standard error when it is a terminal and [`LoadOptions::progress`] is on.
//!
//! What counts as an image: a file named `*.jpg` or `*.jpeg` (any case) inside a class folder
//! `<root>/<class>/`, where `<root>` is the folder holding the most such class folders
//! (`101_ObjectCategories` in the official archive). Every other file is reported as a
//! [`Warning`] and skipped: in the real archive that is `BACKGROUND_Google/tmp`. So are empty
//! class folders. A file that fails to decode is skipped with a warning or stops the load,
//! per [`BadImagePolicy`].
//!
//! ```
//! use kfp_components::caltech101::{load, synthetic::SyntheticSpec, LoadOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let archive = dir.path().join("101_ObjectCategories.tar.gz");
//! let spec = SyntheticSpec::small();
//! spec.write_tar_gz(&archive)?;
//!
//! let data = load(&archive, &LoadOptions::new(24))?;
//! assert_eq!(data.classes, spec.class_names()); // sorted, background left out
//! assert_eq!(data.len(), spec.image_count());
//! assert_eq!(data.images[0].len(), 24 * 24 * 3);
//! // The stray non-image file of the background folder is reported:
//! assert!(data.warnings.iter().any(|w| w.file.ends_with("BACKGROUND_Google/tmp")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::str::FromStr;

use rayon::iter::{ParallelBridge, ParallelIterator};

use super::classes::ClassSelection;
use super::decode::{Decoder, ImageSpec};
use super::error::{Error, Warning};
use super::source::{EntryKind, Source, SourceKind};
use super::split::{Lists, Part, SplitOptions, SplitSpec, assign};

/// What to do with a file that is named like an image but cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BadImagePolicy {
    /// Leave it out and record a [`Warning`] naming it (the default).
    #[default]
    Skip,
    /// Stop with [`Error::BadImage`] naming it.
    Fail,
}

impl FromStr for BadImagePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "skip" => Ok(BadImagePolicy::Skip),
            "fail" => Ok(BadImagePolicy::Fail),
            other => Err(format!(
                "unknown bad-image policy '{other}' (expected skip or fail)"
            )),
        }
    }
}

/// The default limit on one image file's size: 64 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 << 20;

/// Everything [`load`] needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// Size, resize mode, filter, DCT scaling.
    pub image: ImageSpec,
    /// Which classes.
    pub classes: ClassSelection,
    /// How to split, and the seed.
    pub split: SplitOptions,
    /// What to do with an undecodable image.
    pub on_bad_image: BadImagePolicy,
    /// Draw a progress bar on standard error (only when it is a terminal).
    pub progress: bool,
    /// Larger image files are treated as bad images.
    pub max_file_bytes: u64,
}

impl LoadOptions {
    /// `size`×`size` stretched bilinear images of the 101 classes, split 80/20 with seed 0
    /// (benchmark protocol W3's split), bad images skipped, no progress bar.
    pub fn new(size: u32) -> Self {
        LoadOptions {
            image: ImageSpec::new(size),
            classes: ClassSelection::default(),
            split: SplitOptions::default(),
            on_bad_image: BadImagePolicy::Skip,
            progress: false,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// A loaded dataset: decoded images with their labels and split, in class order then file-name
/// order.
#[derive(Debug, Clone)]
pub struct Caltech101 {
    /// The class names; a label is an index into this list.
    pub classes: Vec<String>,
    /// Each image's file, as `class/name`.
    pub files: Vec<String>,
    /// Each image's class index.
    pub labels: Vec<i64>,
    /// Each image's split.
    pub split: Vec<Part>,
    /// Each image: `size * size * 3` RGB bytes, rows top to bottom.
    pub images: Vec<Vec<u8>>,
    /// What the images were made to.
    pub image: ImageSpec,
    /// The class selection used.
    pub selection: ClassSelection,
    /// The split used.
    pub split_options: SplitOptions,
    /// The source path as given.
    pub source: String,
    /// The kind of source.
    pub source_kind: SourceKind,
    /// Files skipped, with why.
    pub warnings: Vec<Warning>,
}

/// Per-channel mean and standard deviation of pixel values scaled to `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChannelStats {
    /// Mean of R, G, B.
    pub mean: [f64; 3],
    /// Population standard deviation of R, G, B.
    pub std: [f64; 3],
}

impl Caltech101 {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// Images per split: `[train, val, test]`.
    pub fn split_counts(&self) -> [usize; 3] {
        let mut counts = [0; 3];
        for part in &self.split {
            counts[*part as usize] += 1;
        }
        counts
    }

    /// Images per class, in class order.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for &label in &self.labels {
            if let Some(count) = usize::try_from(label).ok().and_then(|l| counts.get_mut(l)) {
                *count += 1;
            }
        }
        counts
    }

    /// Mean and standard deviation per channel over the training split (exact: integer sums),
    /// or `None` without training images.
    pub fn train_stats(&self) -> Option<ChannelStats> {
        let (count, sums, squares) = self
            .images
            .iter()
            .zip(&self.split)
            .filter(|(_, part)| **part == Part::Train)
            .fold(
                (0u64, [0u64; 3], [0u64; 3]),
                |(n, mut s, mut q), (image, _)| {
                    for px in image.chunks_exact(3) {
                        for c in 0..3 {
                            let v = u64::from(px[c]);
                            s[c] += v;
                            q[c] += v * v;
                        }
                    }
                    (n + (image.len() / 3) as u64, s, q)
                },
            );
        if count == 0 {
            return None;
        }
        let mut stats = ChannelStats {
            mean: [0.0; 3],
            std: [0.0; 3],
        };
        for c in 0..3 {
            let mean = sums[c] as f64 / count as f64;
            let var = (squares[c] as f64 / count as f64 - mean * mean).max(0.0);
            stats.mean[c] = mean / 255.0;
            stats.std[c] = var.sqrt() / 255.0;
        }
        Some(stats)
    }
}

/// An image file handed from the reader to the decoders.
struct Job {
    folder: String,
    name: String,
    bytes: Option<Vec<u8>>,
}

/// What a decoder made of a job.
struct Outcome {
    folder: String,
    name: String,
    result: Result<Vec<u8>, String>,
}

/// What the reader saw besides images.
#[derive(Default)]
struct Scan {
    dirs: BTreeSet<String>,
    images_per_folder: BTreeMap<String, usize>,
    warnings: Vec<Warning>,
}

fn is_image_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".jpg") || lower.ends_with(".jpeg")
}

/// `a/b/c` → (`a/b`, `c`); `c` → (``, `c`).
fn split_path(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// Reads, decodes, resizes and splits the images of `source` (see the module docs).
pub fn load(source: impl AsRef<Path>, options: &LoadOptions) -> Result<Caltech101, Error> {
    options.image.validate().map_err(Error::InvalidOption)?;
    let lists = match &options.split.spec {
        SplitSpec::Lists { dir } => Some(Lists::read(dir)?),
        _ => {
            options.split.validate()?;
            None
        }
    };
    let given = source.as_ref();
    let source = Source::open(given)?;
    let bar = if options.progress {
        let bar = indicatif::ProgressBar::new(source.total_bytes()?);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {elapsed} (eta {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix("caltech101");
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let selection = &options.classes;
    let spec = options.image;
    let max_bytes = options.max_file_bytes;

    let (scan, outcomes) = std::thread::scope(|scope| -> Result<_, Error> {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Job>(32);
        let source = &source;
        let bar = &bar;
        let reader = scope.spawn(move || -> Result<Scan, Error> {
            let mut scan = Scan::default();
            let progress = |bytes: u64| bar.set_position(bytes);
            let walked = source.walk(&progress, &mut |mut entry| {
                let path = entry.path().to_owned();
                let (folder, name) = split_path(&path);
                match entry.kind() {
                    EntryKind::Dir => {
                        scan.dirs.insert(path.clone());
                    }
                    EntryKind::Other => scan.warnings.push(Warning {
                        file: path.clone(),
                        reason: "not a regular file; skipped".into(),
                    }),
                    EntryKind::File if folder.is_empty() => scan.warnings.push(Warning {
                        file: path.clone(),
                        reason: "not inside a class folder; skipped".into(),
                    }),
                    EntryKind::File if name.starts_with('.') || !is_image_name(name) => {
                        scan.warnings.push(Warning {
                            file: path.clone(),
                            reason: "not an image file (only *.jpg and *.jpeg are read); skipped"
                                .into(),
                        })
                    }
                    EntryKind::File => {
                        *scan.images_per_folder.entry(folder.to_owned()).or_default() += 1;
                        let class = split_path(folder).1;
                        if selection.wants(class) {
                            let bytes = entry.read_to_vec(max_bytes)?;
                            let job = Job {
                                folder: folder.to_owned(),
                                name: name.to_owned(),
                                bytes,
                            };
                            if sender.send(job).is_err() {
                                return Err(Error::InvalidOption(
                                    "the decoder threads stopped early".into(),
                                ));
                            }
                        }
                    }
                }
                Ok(())
            });
            drop(sender);
            walked.map(|()| scan)
        });
        let outcomes: Vec<Outcome> = receiver
            .into_iter()
            .par_bridge()
            .map_init(
                || Decoder::new(spec),
                |decoder, job| {
                    let result = match &job.bytes {
                        Some(bytes) => decoder.decode(bytes).map_err(|e| e.reason().to_owned()),
                        None => Err(format!("larger than the limit of {max_bytes} bytes")),
                    };
                    Outcome {
                        folder: job.folder,
                        name: job.name,
                        result,
                    }
                },
            )
            .collect();
        let scan = match reader.join() {
            Ok(scan) => scan?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        Ok((scan, outcomes))
    })?;
    bar.finish_and_clear();
    assemble(given, &source, options, lists, scan, outcomes)
}

/// Picks the image folder, resolves classes, applies the bad-image policy and the split.
fn assemble(
    given: &Path,
    source: &Source,
    options: &LoadOptions,
    lists: Option<Lists>,
    scan: Scan,
    outcomes: Vec<Outcome>,
) -> Result<Caltech101, Error> {
    let Scan {
        dirs,
        images_per_folder,
        mut warnings,
    } = scan;
    // The root: the folder whose subfolders hold the most images.
    let mut per_root: BTreeMap<&str, usize> = BTreeMap::new();
    for (folder, count) in &images_per_folder {
        *per_root.entry(split_path(folder).0).or_default() += count;
    }
    let Some(root) = per_root
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(root, _)| root.to_string())
    else {
        return Err(Error::NoImages {
            path: given.to_owned(),
        });
    };
    let in_root = |folder: &str| split_path(folder).0 == root;
    for (folder, _) in images_per_folder.iter().filter(|(f, _)| !in_root(f)) {
        warnings.push(Warning {
            file: folder.clone(),
            reason: format!("a folder of images outside the image folder '{root}'; skipped"),
        });
    }
    for dir in dirs
        .iter()
        .filter(|d| in_root(d) && !images_per_folder.contains_key(d.as_str()))
    {
        warnings.push(Warning {
            file: dir.clone(),
            reason: "an empty class folder (no *.jpg files); left out".into(),
        });
    }
    let found = images_per_folder
        .keys()
        .filter(|f| in_root(f))
        .map(|f| split_path(f).1);
    let classes = options.classes.resolve(found)?;
    let index: BTreeMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();

    // Keep the outcomes of the chosen classes under the root, in class then file order.
    let mut kept: Vec<(usize, String, Vec<u8>)> = Vec::with_capacity(outcomes.len());
    let mut bad: Vec<Warning> = Vec::new();
    for outcome in outcomes {
        if !in_root(&outcome.folder) {
            continue;
        }
        let class = split_path(&outcome.folder).1;
        let Some(&label) = index.get(class) else {
            continue;
        };
        let file = format!("{class}/{}", outcome.name);
        match outcome.result {
            Ok(pixels) => kept.push((label, file, pixels)),
            Err(reason) => bad.push(Warning { file, reason }),
        }
    }
    bad.sort_by(|a, b| a.file.cmp(&b.file));
    if options.on_bad_image == BadImagePolicy::Fail
        && let Some(first) = bad.first()
    {
        return Err(Error::BadImage {
            file: first.file.clone(),
            reason: first.reason.clone(),
        });
    }
    warnings.extend(bad.into_iter().map(|w| Warning {
        reason: format!("cannot decode: {}; skipped", w.reason),
        ..w
    }));
    kept.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));

    let mut per_class = vec![0usize; classes.len()];
    for (label, _, _) in &kept {
        per_class[*label] += 1;
    }
    for (class, _) in classes.iter().zip(&per_class).filter(|(_, n)| **n == 0) {
        if options.classes.only.contains(class) {
            return Err(Error::EmptyClass {
                class: class.clone(),
            });
        }
        warnings.push(Warning {
            file: class.clone(),
            reason: "no usable image in this class".into(),
        });
    }

    // The split of each kept image.
    let parts: Vec<Option<Part>> = match &lists {
        Some(lists) => {
            let present: HashSet<&str> = kept.iter().map(|(_, f, _)| f.as_str()).collect();
            let missing = lists.missing(&present);
            if let (Some(first), SplitSpec::Lists { dir }) = (missing.first(), &options.split.spec)
            {
                return Err(Error::SplitList {
                    path: dir.clone(),
                    reason: format!(
                        "{} listed image(s) are not among the loaded images, e.g. {first}",
                        missing.len()
                    ),
                });
            }
            kept.iter().map(|(_, f, _)| lists.part_of(f)).collect()
        }
        None => {
            let mut parts = Vec::with_capacity(kept.len());
            for (class, &count) in classes.iter().zip(&per_class) {
                parts.extend(assign(class, count, &options.split)?);
            }
            parts
        }
    };

    let mut data = Caltech101 {
        classes,
        files: Vec::with_capacity(kept.len()),
        labels: Vec::with_capacity(kept.len()),
        split: Vec::with_capacity(kept.len()),
        images: Vec::with_capacity(kept.len()),
        image: options.image,
        selection: options.classes.clone(),
        split_options: options.split.clone(),
        source: given.display().to_string(),
        source_kind: source.kind(),
        warnings,
    };
    for ((label, file, pixels), part) in kept.into_iter().zip(parts) {
        let Some(part) = part else { continue };
        data.labels.push(label as i64);
        data.files.push(file);
        data.split.push(part);
        data.images.push(pixels);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caltech101::synthetic::SyntheticSpec;

    fn archive(
        spec: &SyntheticSpec,
    ) -> Result<(tempfile::TempDir, std::path::PathBuf), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("101_ObjectCategories.tar.gz");
        spec.write_tar_gz(&path)?;
        Ok((dir, path))
    }

    #[test]
    fn loads_classes_in_order_with_labels_and_a_disjoint_split()
    -> Result<(), Box<dyn std::error::Error>> {
        let spec = SyntheticSpec::small();
        let (_dir, path) = archive(&spec)?;
        let data = load(&path, &LoadOptions::new(16))?;
        assert_eq!(data.classes, spec.class_names());
        assert_eq!(data.class_counts(), spec.class_sizes());
        // files sorted within each class, labels ascending
        assert!(data.labels.windows(2).all(|w| w[0] <= w[1]));
        for (file, label) in data.files.iter().zip(&data.labels) {
            assert!(file.starts_with(&format!("{}/", data.classes[*label as usize])));
        }
        let [train, val, test] = data.split_counts();
        assert_eq!(val, 0);
        assert_eq!(train + test, data.len());
        assert!(
            test >= data.classes.len(),
            "at least one test image per class"
        );
        let stats = data.train_stats().ok_or("no training images")?;
        assert!(stats.mean.iter().all(|m| (0.0..=1.0).contains(m)));
        // the synthetic classes have distinct colours: the first image's mean colour matches its class
        let warnings: Vec<String> = data.warnings.iter().map(|w| w.to_string()).collect();
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("BACKGROUND_Google/tmp: not an image file")),
            "{warnings:?}"
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("empty_class: an empty class folder")),
            "{warnings:?}"
        );
        Ok(())
    }

    #[test]
    fn the_pixels_are_those_of_a_direct_decode() -> Result<(), Box<dyn std::error::Error>> {
        let spec = SyntheticSpec::small();
        let (_dir, path) = archive(&spec)?;
        let data = load(&path, &LoadOptions::new(20))?;
        let mut decoder = Decoder::new(ImageSpec::new(20));
        for (file, jpeg) in spec.images() {
            if let Some(i) = data.files.iter().position(|f| *f == file) {
                assert_eq!(data.images[i], decoder.decode(&jpeg)?, "{file}");
            }
        }
        Ok(())
    }

    #[test]
    fn background_and_subsets() -> Result<(), Box<dyn std::error::Error>> {
        let spec = SyntheticSpec::small();
        let (_dir, path) = archive(&spec)?;
        let mut options = LoadOptions::new(8);
        options.classes.include_background = true;
        let data = load(&path, &options)?;
        assert_eq!(data.classes[0], "BACKGROUND_Google");
        assert_eq!(data.classes.len(), spec.class_names().len() + 1);

        let last = spec.class_names().pop().ok_or("no classes")?;
        options.classes = ClassSelection {
            include_background: false,
            only: vec![last.clone()],
        };
        let data = load(&path, &options)?;
        assert_eq!(data.classes, [last]);
        assert!(data.labels.iter().all(|l| *l == 0));

        options.classes.only = vec!["empty_class".into()];
        assert!(matches!(
            load(&path, &options),
            Err(Error::UnknownClasses { .. })
        ));
        Ok(())
    }

    #[test]
    fn a_corrupt_image_is_skipped_or_fails_per_policy() -> Result<(), Box<dyn std::error::Error>> {
        let spec = SyntheticSpec::small().with_corrupt_image();
        let (_dir, path) = archive(&spec)?;
        let mut options = LoadOptions::new(8);
        let data = load(&path, &options)?;
        let corrupt = spec.corrupt_file().ok_or("no corrupt file")?;
        assert!(!data.files.contains(&corrupt));
        assert!(
            data.warnings
                .iter()
                .any(|w| w.file == corrupt && w.reason.contains("cannot decode"))
        );
        options.on_bad_image = BadImagePolicy::Fail;
        let message = load(&path, &options)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.starts_with(&format!("{corrupt}: ")), "{message}");
        Ok(())
    }

    #[test]
    fn a_truncated_archive_fails_with_its_path() -> Result<(), Box<dyn std::error::Error>> {
        let (_dir, path) = archive(&SyntheticSpec::small())?;
        let bytes = std::fs::read(&path)?;
        std::fs::write(&path, &bytes[..bytes.len() * 2 / 3])?;
        let error = load(&path, &LoadOptions::new(8)).err();
        assert!(
            matches!(&error, Some(Error::Archive { path: p, .. }) if *p == path),
            "{error:?}"
        );
        Ok(())
    }

    #[test]
    fn split_lists_reproduce_a_split() -> Result<(), Box<dyn std::error::Error>> {
        let spec = SyntheticSpec::small();
        let (dir, path) = archive(&spec)?;
        let mut options = LoadOptions::new(8);
        options.split = SplitOptions {
            spec: SplitSpec::Fractions {
                val: 0.2,
                test: 0.3,
            },
            seed: 5,
        };
        let first = load(&path, &options)?;
        let lists = dir.path().join("splits");
        std::fs::create_dir(&lists)?;
        for part in Part::ALL {
            let text: String = first
                .files
                .iter()
                .zip(&first.split)
                .filter(|(_, p)| **p == part)
                .map(|(f, _)| format!("{f}\n"))
                .collect();
            std::fs::write(lists.join(format!("{}.txt", part.name())), text)?;
        }
        options.split = SplitOptions {
            spec: SplitSpec::Lists { dir: lists.clone() },
            seed: 0,
        };
        let again = load(&path, &options)?;
        assert_eq!(again.files, first.files);
        assert_eq!(again.split, first.split);
        std::fs::write(lists.join("test.txt"), "zebra/none.jpg\n")?;
        assert!(matches!(
            load(&path, &options),
            Err(Error::SplitList { .. })
        ));
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(crate::caltech101::fuzz_cases(48)))]

        /// A damaged archive (bytes changed in the tar headers or the compressed stream, or
        /// cut short), of each kind, loads or fails with an error, never a panic.
        #[test]
        fn damaged_archives_never_panic(
            kind in 0usize..3,
            edits in proptest::collection::vec((proptest::prelude::any::<u32>(), proptest::prelude::any::<u8>()), 0..16),
            cut in proptest::option::of(proptest::prelude::any::<u32>()),
        ) {
            let fail = |e: &dyn std::fmt::Display| proptest::test_runner::TestCaseError::fail(e.to_string());
            let dir = tempfile::tempdir().map_err(|e| fail(&e))?;
            let spec = SyntheticSpec { classes: vec![("a".into(), 2), ("b".into(), 2)], background: 1, ..SyntheticSpec::small() };
            let path = dir.path().join("archive");
            match kind {
                0 => spec.write_tar(&path),
                1 => spec.write_tar_gz(&path),
                _ => spec.write_zip(&path),
            }.map_err(|e| fail(&e))?;
            let mut bytes = std::fs::read(&path).map_err(|e| fail(&e))?;
            for (at, value) in &edits {
                let at = *at as usize % bytes.len();
                bytes[at] = *value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut as usize % (bytes.len() + 1));
            }
            std::fs::write(&path, &bytes).map_err(|e| fail(&e))?;
            if let Ok(data) = load(&path, &LoadOptions::new(6)) {
                proptest::prop_assert!(data.images.iter().all(|i| i.len() == 6 * 6 * 3));
                proptest::prop_assert_eq!(data.files.len(), data.labels.len());
            }
        }
    }

    #[test]
    fn nothing_to_load_is_an_error() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("only_empty"))?;
        assert!(matches!(
            load(dir.path(), &LoadOptions::new(8)),
            Err(Error::NoImages { .. })
        ));
        assert!(matches!(
            load(dir.path().join("missing"), &LoadOptions::new(8)),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            load(dir.path(), &LoadOptions::new(0)),
            Err(Error::InvalidOption(_))
        ));
        Ok(())
    }
}
