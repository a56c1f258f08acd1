//! Caltech101 loading across crates: the real archive in `../shared/caltech101/` (torchvision's
//! classes and counts, the stray file, the splits), the `load_caltech101` example's command
//! line, and the numpy-only oracle (`tests/oracle/read_dataset.py`) reading the artifact.
//!
//! Without the real archive these tests skip with a note, and fail when `CI=true`.
mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::Command;

use kfp_components::caltech101::{
    self, LoadOptions,
    split::{Part, SplitOptions, SplitSpec, assign},
    synthetic::SyntheticSpec,
};

const ARCHIVE: &str = "caltech101/101_ObjectCategories.tar.gz";

/// torchvision's `Caltech101` categories: sorted, `BACKGROUND_Google` removed.
#[rustfmt::skip]
const TORCHVISION_CLASSES: [&str; 101] = [
    "Faces", "Faces_easy", "Leopards", "Motorbikes", "accordion", "airplanes", "anchor", "ant",
    "barrel", "bass", "beaver", "binocular", "bonsai", "brain", "brontosaurus", "buddha",
    "butterfly", "camera", "cannon", "car_side", "ceiling_fan", "cellphone", "chair",
    "chandelier", "cougar_body", "cougar_face", "crab", "crayfish", "crocodile",
    "crocodile_head", "cup", "dalmatian", "dollar_bill", "dolphin", "dragonfly",
    "electric_guitar", "elephant", "emu", "euphonium", "ewer", "ferry", "flamingo",
    "flamingo_head", "garfield", "gerenuk", "gramophone", "grand_piano", "hawksbill",
    "headphone", "hedgehog", "helicopter", "ibis", "inline_skate", "joshua_tree", "kangaroo",
    "ketch", "lamp", "laptop", "llama", "lobster", "lotus", "mandolin", "mayfly", "menorah",
    "metronome", "minaret", "nautilus", "octopus", "okapi", "pagoda", "panda", "pigeon",
    "pizza", "platypus", "pyramid", "revolver", "rhino", "rooster", "saxophone", "schooner",
    "scissors", "scorpion", "sea_horse", "snoopy", "soccer_ball", "stapler", "starfish",
    "stegosaurus", "stop_sign", "strawberry", "sunflower", "tick", "trilobite", "umbrella",
    "watch", "water_lilly", "wheelchair", "wild_cat", "windsor_chair", "wrench", "yin_yang",
];

#[test]
fn the_real_archive_gives_torchvisions_classes_counts_and_a_stratified_split() {
    let Some(archive) = support::shared_file(ARCHIVE) else {
        return;
    };
    let started = std::time::Instant::now();
    let data = caltech101::load(&archive, &LoadOptions::new(32))
        .unwrap_or_else(|e| panic!("loading {}: {e}", archive.display()));
    eprintln!(
        "loaded {} images at 32x32 in {:.1?}",
        data.len(),
        started.elapsed()
    );

    assert_eq!(data.classes, TORCHVISION_CLASSES);
    assert_eq!(data.len(), 8_677);
    let counts: BTreeMap<&str, usize> = data
        .classes
        .iter()
        .map(String::as_str)
        .zip(data.class_counts())
        .collect();
    for (class, count) in [
        ("airplanes", 800),
        ("Motorbikes", 798),
        ("Faces", 435),
        ("Faces_easy", 435),
        ("inline_skate", 31),
        ("Leopards", 200),
    ] {
        assert_eq!(counts[class], count, "{class}");
    }
    assert!(
        data.files
            .iter()
            .all(|f| !f.starts_with("BACKGROUND_Google/"))
    );
    // The one stray file, and nothing else, is reported: every category image decodes.
    let warnings: Vec<String> = data.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].contains("BACKGROUND_Google/tmp: not an image file"),
        "{warnings:?}"
    );

    // W3's split: 20% per class (at least one) for test, seed 0, disjoint and stratified.
    let unique: HashSet<&str> = data.files.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), data.len(), "an image appears twice");
    let mut test_per_class = vec![0usize; data.classes.len()];
    for (label, part) in data.labels.iter().zip(&data.split) {
        if *part == Part::Test {
            test_per_class[*label as usize] += 1;
        }
    }
    for ((class, n), tests) in data
        .classes
        .iter()
        .zip(data.class_counts())
        .zip(&test_per_class)
    {
        let want = ((n as f64 * 0.2).round() as usize).max(1);
        assert_eq!(*tests, want, "{class}: {tests} test images of {n}");
    }
    let [train, val, test] = data.split_counts();
    assert_eq!((train + test, val), (8_677, 0));
    assert_eq!(test, test_per_class.iter().sum::<usize>());

    // The classic protocol: 30 training images per class, the rest for test.
    let thirty = SplitOptions {
        spec: SplitSpec::PerClass {
            train: 30,
            val: 0,
            test: None,
        },
        seed: 0,
    };
    let mut totals = [0usize; 3];
    for (class, n) in data.classes.iter().zip(data.class_counts()) {
        let parts = assign(class, n, &thirty).unwrap_or_else(|e| panic!("{class}: {e}"));
        for part in parts.into_iter().flatten() {
            totals[part as usize] += 1;
        }
        if class == "inline_skate" {
            assert_eq!(n, 31);
        }
    }
    assert_eq!(totals, [3_030, 0, 5_647]);

    // Pixels: plausible statistics, and the grayscale JPEGs became gray RGB.
    let stats = data
        .train_stats()
        .unwrap_or_else(|| panic!("no training images"));
    assert!(
        stats.mean.iter().all(|m| (0.4..0.65).contains(m)),
        "{stats:?}"
    );
    assert!(
        stats.std.iter().all(|s| (0.2..0.4).contains(s)),
        "{stats:?}"
    );
    let gray = data
        .images
        .iter()
        .filter(|im| im.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2]))
        .count();
    assert!((300..=420).contains(&gray), "{gray} gray images");
}

#[test]
fn the_example_writes_the_artifact_and_fails_clearly_on_bad_sources() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let exe = support::example("load_caltech101");
    let archive = dir.path().join("tiny.tar.gz");
    let made = support::run(Command::new(&exe).arg("--write-synthetic").arg(&archive));
    assert!(made.status.success(), "{made:?}");

    let out = dir.path().join("dataset");
    let run = support::run(
        Command::new(&exe)
            .args(["--size", "24", "--quiet", "--source"])
            .arg(&archive)
            .arg("--out")
            .arg(&out),
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{run:?}");
    let spec = SyntheticSpec::small();
    assert!(stdout.contains("classes: 3\n"), "{stdout}");
    assert!(
        stdout.contains(&format!("images: {} (", spec.image_count())),
        "{stdout}"
    );
    assert!(stdout.contains("BACKGROUND_Google/tmp"), "{stdout}");
    for file in [
        "images.npy",
        "labels.npy",
        "split.npy",
        "dataset.json",
        "preview.png",
        "splits/test.txt",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }

    // A missing source, a truncated archive, a file that is no archive: non-zero, named.
    let truncated = dir.path().join("truncated.tar.gz");
    let bytes = std::fs::read(&archive).unwrap_or_default();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap_or_else(|e| panic!("{e}"));
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not an archive").unwrap_or_else(|e| panic!("{e}"));
    for (source, expect) in [
        (dir.path().join("missing.tar.gz"), "no such file or folder"),
        (truncated, "the archive is truncated or corrupt"),
        (text, "not a Caltech101 source"),
    ] {
        let run = support::run(
            Command::new(&exe)
                .args(["--size", "8", "--quiet", "--source"])
                .arg(&source)
                .arg("--out")
                .arg(dir.path().join("never")),
        );
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{source:?}: {run:?}");
        assert!(
            stderr.contains(&source.display().to_string()) && stderr.contains(expect),
            "{source:?}: {stderr}"
        );
        assert!(!dir.path().join("never").exists());
    }
}

/// Writes the artifact of a synthetic archive, reads it back with numpy only, and checks that
/// numpy sees the same pixels, labels, class names, files and split as our reader.
#[test]
fn numpy_reads_the_same_dataset_from_the_artifact() {
    let Some(python) = support::oracle_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let archive = dir.path().join("101_ObjectCategories.tar.gz");
    let spec = SyntheticSpec::small().with_corrupt_image();
    spec.write_tar_gz(&archive)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut options = LoadOptions::new(20);
    options.split.spec = SplitSpec::Fractions {
        val: 0.2,
        test: 0.2,
    };
    options.split.seed = 3;
    let data = caltech101::load(&archive, &options).unwrap_or_else(|e| panic!("{e}"));
    assert!(data.split_counts().iter().all(|c| *c > 0));
    let out = dir.path().join("dataset");
    caltech101::artifact::write(&data, &out).unwrap_or_else(|e| panic!("{e}"));

    let pixels_file = dir.path().join("pixels.bin");
    let script = support::root().join("tests/oracle/read_dataset.py");
    let run = support::run(
        Command::new(&python)
            .arg(&script)
            .arg(&out)
            .arg("--dump-pixels")
            .arg(&pixels_file),
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let seen: serde_json::Value =
        serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("oracle output: {e}"));

    assert_eq!(seen["classes"], serde_json::json!(data.classes));
    assert_eq!(seen["labels"], serde_json::json!(data.labels));
    assert_eq!(seen["files"], serde_json::json!(data.files));
    let names: Vec<&str> = data.split.iter().map(|p| p.name()).collect();
    assert_eq!(seen["split"], serde_json::json!(names));
    assert_eq!(seen["shape"], serde_json::json!([data.len(), 20, 20, 3]));
    let pixels = std::fs::read(&pixels_file).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        pixels == data.images.concat(),
        "numpy read different pixels"
    );
    let stats = data
        .train_stats()
        .unwrap_or_else(|| panic!("no training images"));
    for (key, ours) in [("mean", stats.mean), ("std", stats.std)] {
        for (c, value) in ours.iter().enumerate() {
            let theirs = seen[key][c].as_f64().unwrap_or(f64::NAN);
            assert!(
                (theirs - value).abs() < 1e-9,
                "{key}[{c}]: numpy {theirs}, ours {value}"
            );
        }
    }
    // The corrupt image is not in the dataset, and the artifact says why.
    let corrupt = spec.corrupt_file().unwrap_or_default();
    assert!(!data.files.contains(&corrupt));
    let manifest = std::fs::read_to_string(out.join("dataset.json")).unwrap_or_default();
    assert!(manifest.contains(&corrupt) && manifest.contains("cannot decode"));
    assert!(Path::new(&out).join("splits/val.txt").is_file());
}
