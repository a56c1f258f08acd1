//! Splitting: stratified train / validation / test sets, deterministic for a seed.
//!
//! Every class is split on its own (stratified): its images, in file-name order, are shuffled
//! with a generator seeded by the seed *and the class name* (so selecting other classes does
//! not change this class's split), then the first ones go to train, the next to validation,
//! the next to test. How many go where is set by a [`SplitSpec`]:
//!
//! - [`SplitSpec::Fractions`]: `round(n · test)` test images (half away from zero; at least one
//!   when `test > 0`), likewise for validation, the rest train; a class always keeps at least
//!   one training image, test being served before validation when a class is too small.
//!   Benchmark protocol W3 is `Fractions { val: 0.0, test: 0.2 }` with seed 0.
//! - [`SplitSpec::PerClass`]: a fixed number of training (and validation) images per class,
//!   the rest (or at most `test`) for test: the classic "30 per class" protocol is
//!   `PerClass { train: 30, val: 0, test: None }`. Images beyond `train + val + test` are left
//!   out of the dataset.
//! - [`SplitSpec::Lists`]: the file lists a previous run wrote (`splits/train.txt`, ...), to
//!   reuse a split exactly; images in no list are left out.
//!
//! The generator is SplitMix64, the shuffle Fisher–Yates: both fixed here, so a split never
//! changes with a dependency's version. No image is ever in two splits.
//!
//! ```
//! use kfp_components::caltech101::split::{assign, Part, SplitOptions, SplitSpec};
//!
//! let options = SplitOptions { spec: SplitSpec::Fractions { val: 0.0, test: 0.2 }, seed: 0 };
//! let parts = assign("accordion", 55, &options)?;
//! assert_eq!(parts.iter().filter(|p| **p == Some(Part::Test)).count(), 11);
//! assert_eq!(parts.iter().filter(|p| **p == Some(Part::Train)).count(), 44);
//! assert_eq!(parts, assign("accordion", 55, &options)?); // the same again
//!
//! let thirty = SplitOptions { spec: SplitSpec::PerClass { train: 30, val: 0, test: None }, seed: 0 };
//! let parts = assign("inline_skate", 31, &thirty)?;
//! assert_eq!(parts.iter().filter(|p| **p == Some(Part::Train)).count(), 30);
//! assert_eq!(parts.iter().filter(|p| **p == Some(Part::Test)).count(), 1);
//! # Ok::<(), kfp_components::caltech101::Error>(())
//! ```
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::error::Error;

/// One of the three splits.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// Training images (code 0 in `split.npy`).
    Train = 0,
    /// Validation images (code 1).
    Val = 1,
    /// Test images (code 2).
    Test = 2,
}

impl Part {
    /// All three, in code order.
    pub const ALL: [Part; 3] = [Part::Train, Part::Val, Part::Test];

    /// `train`, `val` or `test`: the name in `dataset.json` and of the list file.
    pub fn name(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Val => "val",
            Part::Test => "test",
        }
    }

    /// The code in `split.npy`.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// How many images of each class go to each split.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum SplitSpec {
    /// Fractions of each class (the rest is train).
    Fractions {
        /// Validation fraction, 0 to 1.
        val: f64,
        /// Test fraction, 0 to 1.
        test: f64,
    },
    /// Fixed numbers per class.
    PerClass {
        /// Training images per class (fewer when the class is smaller).
        train: usize,
        /// Validation images per class.
        val: usize,
        /// Test images per class; `None` for all the rest.
        test: Option<usize>,
    },
    /// The split written by an earlier run: a folder with `train.txt`, `val.txt`, `test.txt`
    /// (missing files are empty lists), one `class/file` per line.
    Lists {
        /// The folder (an artifact's `splits/`).
        dir: PathBuf,
    },
}

impl Default for SplitSpec {
    /// W3's split: 20% test, no validation.
    fn default() -> Self {
        SplitSpec::Fractions {
            val: 0.0,
            test: 0.2,
        }
    }
}

/// A split spec and its seed.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct SplitOptions {
    /// How many images go where.
    pub spec: SplitSpec,
    /// The seed of the shuffle.
    pub seed: u64,
}

impl SplitOptions {
    /// Checks the numbers (fractions between 0 and 1 that leave room for training).
    pub fn validate(&self) -> Result<(), Error> {
        if let SplitSpec::Fractions { val, test } = self.spec {
            let ok = |f: f64| (0.0..1.0).contains(&f);
            if !ok(val) || !ok(test) || val + test >= 1.0 {
                return Err(Error::InvalidOption(format!(
                    "split fractions must be in [0, 1) and leave room for training; got val {val}, test {test}"
                )));
            }
        }
        Ok(())
    }
}

/// The split of each image of one class, given in file-name order: `None` for an image left
/// out. Not for [`SplitSpec::Lists`] (see [`Lists`]).
pub fn assign(
    class: &str,
    count: usize,
    options: &SplitOptions,
) -> Result<Vec<Option<Part>>, Error> {
    options.validate()?;
    let (train, val, test) = match options.spec {
        SplitSpec::Fractions { val, test } => {
            let want = |fraction: f64| {
                if fraction > 0.0 {
                    ((count as f64 * fraction).round() as usize).max(1)
                } else {
                    0
                }
            };
            let room = count.saturating_sub(1); // one image stays for training
            let t = want(test).min(room);
            let v = want(val).min(room - t);
            (count - t - v, v, t)
        }
        SplitSpec::PerClass { train, val, test } => {
            let tr = train.min(count);
            let v = val.min(count - tr);
            let rest = count - tr - v;
            (tr, v, test.map_or(rest, |t| t.min(rest)))
        }
        SplitSpec::Lists { .. } => {
            return Err(Error::InvalidOption(
                "split lists are applied with split::Lists, not assign()".into(),
            ));
        }
    };
    let mut order: Vec<usize> = (0..count).collect();
    let mut rng = SplitMix64::new(options.seed ^ fnv1a(class.as_bytes()));
    for i in (1..count).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let mut parts = vec![None; count];
    for (rank, &image) in order.iter().enumerate() {
        parts[image] = if rank < train {
            Some(Part::Train)
        } else if rank < train + val {
            Some(Part::Val)
        } else if rank < train + val + test {
            Some(Part::Test)
        } else {
            None
        };
    }
    Ok(parts)
}

/// A split read from file lists (see [`SplitSpec::Lists`]).
#[derive(Debug, Clone, Default)]
pub struct Lists {
    parts: HashMap<String, Part>,
}

impl Lists {
    /// Reads `train.txt`, `val.txt` and `test.txt` from `dir` (a missing file is an empty
    /// list). A file named in two lists is an error.
    pub fn read(dir: &Path) -> Result<Lists, Error> {
        if !dir.is_dir() {
            return Err(Error::SplitList {
                path: dir.to_owned(),
                reason: "not a folder of split lists (train.txt, val.txt, test.txt)".into(),
            });
        }
        let mut parts = HashMap::new();
        for part in Part::ALL {
            let path = dir.join(format!("{}.txt", part.name()));
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&path, e)),
            };
            for (number, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                if let Some(earlier) = parts.insert(line.to_owned(), part) {
                    return Err(Error::SplitList {
                        path,
                        reason: format!(
                            "line {}: {line} is already in {}.txt",
                            number + 1,
                            earlier.name()
                        ),
                    });
                }
            }
        }
        Ok(Lists { parts })
    }

    /// The split of the image `class/file`, or `None` when no list names it.
    pub fn part_of(&self, file: &str) -> Option<Part> {
        self.parts.get(file).copied()
    }

    /// The listed files that are not in `present` (to report images that went missing).
    pub fn missing<'a>(&'a self, present: &std::collections::HashSet<&str>) -> Vec<&'a str> {
        let mut missing: Vec<&str> = self
            .parts
            .keys()
            .map(String::as_str)
            .filter(|f| !present.contains(f))
            .collect();
        missing.sort_unstable();
        missing
    }
}

/// FNV-1a, 64 bits: a stable hash of the class name for its seed.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// SplitMix64 (Steele, Lea, Flood 2014).
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (multiply-shift; the bias is below 2^-40 for these sizes).
    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(bound)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(parts: &[Option<Part>]) -> [usize; 4] {
        let mut c = [0; 4];
        for p in parts {
            c[p.map_or(3, |p| p as usize)] += 1;
        }
        c
    }

    fn fractions(val: f64, test: f64, seed: u64) -> SplitOptions {
        SplitOptions {
            spec: SplitSpec::Fractions { val, test },
            seed,
        }
    }

    #[test]
    fn fractions_round_and_keep_one_for_each_side() -> Result<(), Error> {
        assert_eq!(
            counts(&assign("a", 31, &fractions(0.0, 0.2, 0))?),
            [25, 0, 6, 0]
        );
        assert_eq!(
            counts(&assign("a", 800, &fractions(0.1, 0.2, 0))?),
            [560, 80, 160, 0]
        );
        // at least one test image, even when 20% rounds to 0
        assert_eq!(
            counts(&assign("a", 2, &fractions(0.0, 0.2, 0))?),
            [1, 0, 1, 0]
        );
        // one image: it stays for training
        assert_eq!(
            counts(&assign("a", 1, &fractions(0.2, 0.2, 0))?),
            [1, 0, 0, 0]
        );
        // tiny class: test is served before validation
        assert_eq!(
            counts(&assign("a", 2, &fractions(0.2, 0.2, 0))?),
            [1, 0, 1, 0]
        );
        assert_eq!(
            counts(&assign("a", 0, &fractions(0.2, 0.2, 0))?),
            [0, 0, 0, 0]
        );
        Ok(())
    }

    #[test]
    fn per_class_counts() -> Result<(), Error> {
        let spec = |train, val, test| SplitOptions {
            spec: SplitSpec::PerClass { train, val, test },
            seed: 7,
        };
        assert_eq!(counts(&assign("a", 31, &spec(30, 0, None))?), [30, 0, 1, 0]);
        assert_eq!(
            counts(&assign("a", 800, &spec(30, 5, Some(50)))?),
            [30, 5, 50, 715]
        );
        assert_eq!(counts(&assign("a", 20, &spec(30, 0, None))?), [20, 0, 0, 0]);
        Ok(())
    }

    #[test]
    fn the_seed_and_the_class_change_the_shuffle_but_nothing_else() -> Result<(), Error> {
        let a = assign("a", 100, &fractions(0.1, 0.2, 0))?;
        assert_eq!(a, assign("a", 100, &fractions(0.1, 0.2, 0))?);
        assert_ne!(a, assign("a", 100, &fractions(0.1, 0.2, 1))?);
        assert_ne!(a, assign("b", 100, &fractions(0.1, 0.2, 0))?);
        assert_eq!(
            counts(&a),
            counts(&assign("b", 100, &fractions(0.1, 0.2, 9))?)
        );
        Ok(())
    }

    #[test]
    fn bad_fractions_are_refused() {
        assert!(assign("a", 10, &fractions(0.5, 0.5, 0)).is_err());
        assert!(assign("a", 10, &fractions(-0.1, 0.2, 0)).is_err());
        assert!(assign("a", 10, &fractions(f64::NAN, 0.2, 0)).is_err());
    }

    #[test]
    fn lists_round_trip_and_refuse_duplicates() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("train.txt"), "a/1.jpg\na/2.jpg\n")?;
        std::fs::write(dir.path().join("test.txt"), "a/3.jpg\n")?;
        let lists = Lists::read(dir.path())?;
        assert_eq!(lists.part_of("a/2.jpg"), Some(Part::Train));
        assert_eq!(lists.part_of("a/3.jpg"), Some(Part::Test));
        assert_eq!(lists.part_of("a/4.jpg"), None);
        let present = ["a/1.jpg", "a/2.jpg"].into_iter().collect();
        assert_eq!(lists.missing(&present), ["a/3.jpg"]);
        std::fs::write(dir.path().join("val.txt"), "a/1.jpg\n")?;
        let message = Lists::read(dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.contains("val.txt: line 1: a/1.jpg is already in train.txt"),
            "{message}"
        );
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn every_image_gets_at_most_one_split_and_counts_add_up(
            count in 0usize..300, val in 0.0f64..0.45, test in 0.0f64..0.45, seed in proptest::prelude::any::<u64>()
        ) {
            let parts = assign("x", count, &fractions(val, test, seed)).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let c = counts(&parts);
            proptest::prop_assert_eq!(parts.len(), count);
            proptest::prop_assert_eq!(c[3], 0);
            if count > 0 {
                proptest::prop_assert!(c[0] >= 1);
            }
            if count >= 2 && test > 0.0 {
                proptest::prop_assert!(c[2] >= 1);
            }
        }
    }
}
