//! The preview: a PNG grid of sample images, to look at what a run produced.
//!
//! One row per class in class order (label 0 at the top; at most [`MAX_ROWS`] rows), up to
//! [`COLUMNS`] images per row, training images first, each shrunk to at most
//! [`THUMBNAIL`] pixels square, on a dark grey background with 2-pixel gaps. Row `i` is
//! `classes[i]` of `dataset.json`.
//!
//! ```
//! use kfp_components::caltech101::{load, preview, synthetic::SyntheticSpec, LoadOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let archive = dir.path().join("a.tar.gz");
//! SyntheticSpec::small().write_tar_gz(&archive)?;
//! let png = preview::render(&load(&archive, &LoadOptions::new(16))?)?;
//! assert!(png.starts_with(b"\x89PNG"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
use fast_image_resize as fr;

use super::load::Caltech101;
use super::split::Part;

/// Images per row.
pub const COLUMNS: usize = 8;
/// The largest side of a thumbnail.
pub const THUMBNAIL: u32 = 32;
/// At most this many classes are shown.
pub const MAX_ROWS: usize = 256;
const GAP: usize = 2;
const BACKGROUND: u8 = 40;

/// Renders the grid as PNG bytes.
pub fn render(data: &Caltech101) -> std::io::Result<Vec<u8>> {
    let size = data.image.size;
    let thumb = size.min(THUMBNAIL) as usize;
    let rows = data.classes.len().clamp(1, MAX_ROWS);
    let (width, height) = (COLUMNS * (thumb + GAP) + GAP, rows * (thumb + GAP) + GAP);
    let mut canvas = vec![BACKGROUND; width * height * 3];
    // The samples of each class: training images first, in artifact order.
    let mut samples: Vec<Vec<usize>> = vec![Vec::new(); rows];
    for want_train in [true, false] {
        for (index, (&label, part)) in data.labels.iter().zip(&data.split).enumerate() {
            let Some(row) = usize::try_from(label).ok().filter(|r| *r < rows) else {
                continue;
            };
            if (*part == Part::Train) == want_train && samples[row].len() < COLUMNS {
                samples[row].push(index);
            }
        }
    }
    let mut resizer = fr::Resizer::new();
    let mut small = fr::images::Image::new(thumb as u32, thumb as u32, fr::PixelType::U8x3);
    for (row, indices) in samples.iter().enumerate() {
        for (column, &index) in indices.iter().enumerate() {
            let Some(image) = data.images.get(index) else {
                continue;
            };
            let pixels: &[u8] = if thumb as u32 == size {
                image
            } else {
                let src = fr::images::ImageRef::new(size, size, image, fr::PixelType::U8x3)
                    .map_err(std::io::Error::other)?;
                resizer
                    .resize(&src, &mut small, None)
                    .map_err(std::io::Error::other)?;
                small.buffer()
            };
            let (x0, y0) = (GAP + column * (thumb + GAP), GAP + row * (thumb + GAP));
            for (y, line) in pixels.chunks_exact(thumb * 3).enumerate() {
                let at = ((y0 + y) * width + x0) * 3;
                canvas[at..at + thumb * 3].copy_from_slice(line);
            }
        }
    }
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, width as u32, height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer
            .write_image_data(&canvas)
            .map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)?;
    }
    Ok(png)
}
