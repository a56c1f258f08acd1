//! A tiny synthetic Caltech-style archive, so that tests need no real data.
//!
//! [`SyntheticSpec::small`] lays out what the real `101_ObjectCategories.tar.gz` has, in
//! miniature: a few classes of generated JPEGs (capitalised and lower-case names, so the sort
//! order matters; sizes that vary; a grayscale image in every class), a `BACKGROUND_Google`
//! folder with its stray non-image file `tmp`, and an empty class folder. Optional extras: a
//! corrupt image ([`SyntheticSpec::with_corrupt_image`]). It is written as a `.tar.gz`, a
//! `.tar`, the official `caltech-101.zip` wrapping, or a folder; everything is deterministic.
//!
//! Each class has its own colour, so a test can tell labels apart by pixels.
//!
//! ```
//! use kfp_components::caltech101::synthetic::SyntheticSpec;
//!
//! let spec = SyntheticSpec::small();
//! assert_eq!(spec.class_names(), ["Faces", "accordion", "airplanes"]);
//! let dir = tempfile::tempdir()?;
//! spec.write_zip(dir.path().join("caltech-101.zip"))?;
//! # Ok::<(), std::io::Error>(())
//! ```
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::Path;

use super::classes::BACKGROUND_CLASS;
use super::source::{ARCHIVE_NAME, FOLDER_NAME};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticSpec {
    /// Class folders and how many images each holds (0 = an empty folder).
    pub classes: Vec<(String, usize)>,
    /// Images in `BACKGROUND_Google` (0 = no such folder).
    pub background: usize,
    /// Put the stray non-image file `BACKGROUND_Google/tmp` in.
    pub stray_file: bool,
    /// Replace one image of the second class by a truncated JPEG.
    pub corrupt_image: bool,
    /// JPEG quality, 1 to 100.
    pub quality: u8,
}

impl SyntheticSpec {
    /// Three classes (`Faces` 6, `accordion` 5, `airplanes` 7 images), `empty_class` with
    /// none, 3 background images and the stray `tmp` file.
    pub fn small() -> Self {
        SyntheticSpec {
            classes: vec![
                ("accordion".into(), 5),
                ("airplanes".into(), 7),
                ("Faces".into(), 6),
                ("empty_class".into(), 0),
            ],
            background: 3,
            stray_file: true,
            corrupt_image: false,
            quality: 90,
        }
    }

    /// The same with one truncated JPEG (see [`SyntheticSpec::corrupt_file`]).
    pub fn with_corrupt_image(mut self) -> Self {
        self.corrupt_image = true;
        self
    }

    /// The classes a loader should find by default: non-empty, background left out, sorted.
    pub fn class_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .classes
            .iter()
            .filter(|(name, count)| *count > 0 && name != BACKGROUND_CLASS)
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }

    /// The number of good images of each class of [`SyntheticSpec::class_names`].
    pub fn class_sizes(&self) -> Vec<usize> {
        self.class_names()
            .iter()
            .map(|name| {
                let count = self
                    .classes
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(0, |(_, c)| *c);
                if self
                    .corrupt_file()
                    .is_some_and(|f| f.starts_with(&format!("{name}/")))
                {
                    count - 1
                } else {
                    count
                }
            })
            .collect()
    }

    /// The number of good images in the classes of [`SyntheticSpec::class_names`].
    pub fn image_count(&self) -> usize {
        self.class_sizes().iter().sum()
    }

    /// The corrupt image, as `class/name`, when there is one.
    pub fn corrupt_file(&self) -> Option<String> {
        let names = self.class_names();
        let class = names.get(1)?;
        self.corrupt_image
            .then(|| format!("{class}/image_0002.jpg"))
    }

    /// Every file of the class folders and the background folder, as (`class/name`, bytes),
    /// in generation order (good images only: not the corrupt one nor `tmp`).
    pub fn images(&self) -> Vec<(String, Vec<u8>)> {
        self.files()
            .into_iter()
            .filter(|(path, _)| Some(path) != self.corrupt_file().as_ref())
            .filter(|(path, _)| !path.ends_with("/tmp"))
            .collect()
    }

    /// All entries under the image folder: folders (`None`) and files, as relative paths.
    fn entries(&self) -> Vec<(String, Option<Vec<u8>>)> {
        let mut entries = Vec::new();
        let mut folders: Vec<(String, usize)> = self.classes.clone();
        if self.background > 0 || self.stray_file {
            folders.push((BACKGROUND_CLASS.to_owned(), self.background));
        }
        let files = self.files();
        for (folder, _) in folders {
            entries.push((folder.clone(), None));
            for (path, bytes) in files
                .iter()
                .filter(|(p, _)| p.starts_with(&format!("{folder}/")))
            {
                entries.push((path.clone(), Some(bytes.clone())));
            }
        }
        entries
    }

    fn files(&self) -> Vec<(String, Vec<u8>)> {
        let corrupt = self.corrupt_file();
        let mut files = Vec::new();
        let mut classes: Vec<(String, usize)> = self.classes.clone();
        classes.push((BACKGROUND_CLASS.to_owned(), self.background));
        for (class_index, (class, count)) in classes.iter().enumerate() {
            for i in 0..*count {
                let path = format!("{class}/image_{:04}.jpg", i + 1);
                let (width, height) = (40 + (i * 13 + class_index * 7) % 50, 30 + (i * 7) % 40);
                let gray = i == 2;
                let bytes = match class_image(class_index, i, width, height, gray, self.quality) {
                    Ok(bytes) if Some(&path) == corrupt.as_ref() => {
                        bytes[..bytes.len() / 2].to_vec()
                    }
                    Ok(bytes) => bytes,
                    Err(e) => format!("encoding failed: {e}").into_bytes(),
                };
                files.push((path, bytes));
            }
        }
        if self.stray_file {
            // As in the real archive: a JPEG without an image file name.
            let bytes = class_image(99, 0, 20, 20, false, self.quality).unwrap_or_default();
            files.push((format!("{BACKGROUND_CLASS}/tmp"), bytes));
        }
        files
    }

    /// Writes `101_ObjectCategories/...` as a gzip-compressed tar.
    pub fn write_tar_gz(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let file = std::fs::File::create(path)?;
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        self.write_tar_to(gz)?.finish()?.flush()
    }

    /// Writes `101_ObjectCategories/...` as a plain tar.
    pub fn write_tar(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        self.write_tar_to(std::fs::File::create(path)?)?.flush()
    }

    /// Writes the tar to `writer` and returns it.
    pub fn write_tar_to<W: Write>(&self, writer: W) -> std::io::Result<W> {
        let mut builder = tar::Builder::new(writer);
        let dir = |path: &str, builder: &mut tar::Builder<W>| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            header.set_mode(0o755);
            header.set_mtime(0);
            builder.append_data(&mut header, path, std::io::empty())
        };
        dir(FOLDER_NAME, &mut builder)?;
        for (path, bytes) in self.entries() {
            let path = format!("{FOLDER_NAME}/{path}");
            match bytes {
                None => dir(&path, &mut builder)?,
                Some(bytes) => {
                    let mut header = tar::Header::new_gnu();
                    header.set_size(bytes.len() as u64);
                    header.set_mode(0o644);
                    header.set_mtime(0);
                    builder.append_data(&mut header, &path, bytes.as_slice())?;
                }
            }
        }
        builder.into_inner()
    }

    /// Writes the official download's layout: a zip holding
    /// `caltech-101/101_ObjectCategories.tar.gz` (and a stand-in `Annotations.tar`).
    pub fn write_zip(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let mut tar_gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        tar_gz = self.write_tar_to(tar_gz)?;
        let tar_gz = tar_gz.finish()?;
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path)?);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        let zip_io = std::io::Error::other;
        zip.add_directory("caltech-101/", options).map_err(zip_io)?;
        zip.start_file(format!("caltech-101/{ARCHIVE_NAME}"), options)
            .map_err(zip_io)?;
        zip.write_all(&tar_gz)?;
        zip.start_file("caltech-101/Annotations.tar", options)
            .map_err(zip_io)?;
        zip.write_all(b"not read by the loader")?;
        zip.finish().map_err(zip_io)?.flush()
    }

    /// Writes `dir/101_ObjectCategories/...` as files (creating `dir`).
    pub fn write_folder(&self, dir: impl AsRef<Path>) -> std::io::Result<()> {
        let root = dir.as_ref().join(FOLDER_NAME);
        std::fs::create_dir_all(&root)?;
        for (path, bytes) in self.entries() {
            match bytes {
                None => std::fs::create_dir_all(root.join(&path))?,
                Some(bytes) => std::fs::write(root.join(&path), bytes)?,
            }
        }
        Ok(())
    }
}

/// A generated image: the class colour, a diagonal gradient and a square whose place depends
/// on the image number.
fn class_image(
    class: usize,
    image: usize,
    width: usize,
    height: usize,
    gray: bool,
    quality: u8,
) -> std::io::Result<Vec<u8>> {
    const PALETTE: [[u8; 3]; 6] = [
        [200, 40, 40],
        [40, 160, 60],
        [50, 70, 210],
        [220, 200, 40],
        [160, 60, 200],
        [40, 200, 200],
    ];
    let base = PALETTE[class % PALETTE.len()];
    let (sx, sy) = ((image * 11) % width.max(1), (image * 5) % height.max(1));
    let mut rgb = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let shade = ((x + y) * 40 / (width + height)) as u8;
            let in_square = x >= sx && x < sx + width / 4 && y >= sy && y < sy + height / 4;
            for c in base {
                rgb.push(if in_square {
                    255 - c
                } else {
                    c.saturating_add(shade)
                });
            }
        }
    }
    if gray {
        let luma: Vec<u8> = rgb
            .chunks_exact(3)
            .map(|p| {
                ((u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000)
                    as u8
            })
            .collect();
        encode_jpeg_gray(&luma, width, height, quality)
    } else {
        encode_jpeg(&rgb, width, height, quality)
    }
}

/// Encodes RGB pixels (3 bytes each, rows top to bottom) as a baseline JPEG.
pub fn encode_jpeg(
    rgb: &[u8],
    width: usize,
    height: usize,
    quality: u8,
) -> std::io::Result<Vec<u8>> {
    encode(rgb, width, height, quality, mozjpeg::ColorSpace::JCS_RGB, 3)
}

/// Encodes 8-bit gray pixels as a grayscale JPEG.
pub fn encode_jpeg_gray(
    gray: &[u8],
    width: usize,
    height: usize,
    quality: u8,
) -> std::io::Result<Vec<u8>> {
    encode(
        gray,
        width,
        height,
        quality,
        mozjpeg::ColorSpace::JCS_GRAYSCALE,
        1,
    )
}

/// Encodes CMYK pixels as a CMYK JPEG with an Adobe marker; the values are stored as given
/// (Adobe's convention: 255 = no ink).
pub fn encode_jpeg_cmyk(
    cmyk: &[u8],
    width: usize,
    height: usize,
    quality: u8,
) -> std::io::Result<Vec<u8>> {
    encode(
        cmyk,
        width,
        height,
        quality,
        mozjpeg::ColorSpace::JCS_CMYK,
        4,
    )
}

fn encode(
    pixels: &[u8],
    width: usize,
    height: usize,
    quality: u8,
    color_space: mozjpeg::ColorSpace,
    channels: usize,
) -> std::io::Result<Vec<u8>> {
    if width == 0 || height == 0 || pixels.len() != width * height * channels {
        return Err(std::io::Error::other(format!(
            "{} bytes are not {width}×{height} pixels of {channels} channels",
            pixels.len()
        )));
    }
    let encoded = std::panic::catch_unwind(AssertUnwindSafe(|| -> std::io::Result<Vec<u8>> {
        let mut compress = mozjpeg::Compress::new(color_space);
        compress.set_size(width, height);
        compress.set_fastest_defaults();
        compress.set_quality(f32::from(quality.clamp(1, 100)));
        let mut started = compress.start_compress(Vec::new())?;
        started.write_scanlines(pixels)?;
        started.finish()
    }));
    encoded.unwrap_or_else(|_| Err(std::io::Error::other("the JPEG encoder failed")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_caltech_like() {
        let spec = SyntheticSpec::small();
        assert_eq!(spec.class_sizes(), [6, 5, 7]);
        assert_eq!(spec.image_count(), 18);
        let entries = spec.entries();
        assert!(
            entries
                .iter()
                .any(|(p, b)| p == "empty_class" && b.is_none())
        );
        assert!(entries.iter().any(|(p, _)| p == "BACKGROUND_Google/tmp"));
        assert!(
            spec.images()
                .iter()
                .all(|(_, bytes)| bytes.starts_with(&[0xFF, 0xD8]))
        );
        let corrupt = spec.with_corrupt_image();
        assert_eq!(
            corrupt.corrupt_file().as_deref(),
            Some("accordion/image_0002.jpg")
        );
        assert_eq!(corrupt.class_sizes(), [6, 4, 7]);
    }

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(
            SyntheticSpec::small().images(),
            SyntheticSpec::small().images()
        );
    }
}
