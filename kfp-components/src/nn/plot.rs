//! Pictures of a training run: the loss and accuracy curves (SVG) and the confusion matrix
//! (PNG).
//!
//! **Choices.** Curves are drawn with `plotters` through its SVG backend only
//! (`default-features = false`): its default bitmap text rendering needs `font-kit`, which
//! links fontconfig and reads system fonts at run time, or `ab_glyph` with a font file that
//! this crate would have to ship. In SVG, text is a `<text>` element laid out by the viewer
//! (browsers, the Kubeflow UI), so no font is needed anywhere; the curves are a few
//! kilobytes. The confusion matrix of 101 classes is 10,201 cells: as SVG rectangles that is
//! about a megabyte, while a PNG heatmap written with the `png` crate (already a dependency)
//! is a few kilobytes and opens everywhere; it has no text (rows are true classes in label
//! order top to bottom, columns predicted classes left to right, each row normalised by its
//! class's support, white = 0 to dark blue = 1; the class names are in `metrics.json`).
//! Both files are written atomically.
//!
//! ```
//! use kfp_components::nn::plot::{confusion_png, curves_svg};
//! use kfp_components::nn::train::EpochRecord;
//!
//! let history = vec![
//!     EpochRecord { epoch: 1, train_loss: 2.0, train_acc: 0.3, eval_loss: Some(1.8), eval_acc: Some(0.35), ..Default::default() },
//!     EpochRecord { epoch: 2, train_loss: 1.2, train_acc: 0.6, eval_loss: Some(1.4), eval_acc: Some(0.5), ..Default::default() },
//! ];
//! let svg = curves_svg(&history, "val")?;
//! assert!(svg.starts_with("<svg") && svg.contains("accuracy"));
//! let png = confusion_png(&[vec![3, 1], vec![0, 4]])?;
//! assert_eq!(&png[1..4], b"PNG");
//! # Ok::<(), kfp_components::nn::NnError>(())
//! ```
use std::path::Path;

use plotters::prelude::*;

use super::error::NnError;
use super::io::write_atomic;
use super::train::EpochRecord;

fn draw_error(e: impl std::fmt::Display) -> NnError {
    NnError::option("plot", format!("drawing failed: {e}"))
}

/// A curve: its legend, colour and (epoch, value) points.
type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// One panel: `series` of (name, colour, points) over epochs `1..=epochs`.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    y_label: &str,
    epochs: usize,
    y_range: std::ops::Range<f64>,
    series: &[Series<'_>],
) -> Result<(), NnError> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(1f64..epochs.max(2) as f64, y_range)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_label)
        .x_labels(epochs.clamp(2, 10))
        .draw()
        .map_err(draw_error)?;
    for (name, colour, points) in series {
        if points.is_empty() {
            continue;
        }
        let colour = *colour;
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(draw_error)?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
            .map_err(draw_error)?;
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

/// The training curves as an SVG document: loss (left) and top-1 accuracy (right) per
/// epoch, for the training batches and for the evaluated split named `eval_name`.
pub fn curves_svg(history: &[EpochRecord], eval_name: &str) -> Result<String, NnError> {
    let epochs = history.iter().map(|r| r.epoch).max().unwrap_or(1);
    let pts = |f: &dyn Fn(&EpochRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        history
            .iter()
            .filter_map(|r| f(r).filter(|v| v.is_finite()).map(|v| (r.epoch as f64, v)))
            .collect()
    };
    let train_loss = pts(&|r| Some(r.train_loss));
    let eval_loss = pts(&|r| r.eval_loss);
    let train_acc = pts(&|r| Some(r.train_acc));
    let eval_acc = pts(&|r| r.eval_acc);
    let max_loss = train_loss
        .iter()
        .chain(&eval_loss)
        .map(|p| p.1)
        .fold(0.0f64, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let (left, right) = root.split_horizontally(500);
        let train_colour = RGBColor(31, 119, 180);
        let eval_colour = RGBColor(255, 127, 14);
        panel(
            &left,
            "loss",
            "loss",
            epochs,
            0.0..(max_loss * 1.05).max(1e-3),
            &[
                ("train", train_colour, train_loss),
                (eval_name, eval_colour, eval_loss),
            ],
        )?;
        panel(
            &right,
            "top-1 accuracy",
            "accuracy",
            epochs,
            0.0..1.0,
            &[
                ("train", train_colour, train_acc),
                (eval_name, eval_colour, eval_acc),
            ],
        )?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// Writes [`curves_svg`] to `path` atomically.
pub fn write_curves_svg(
    path: &Path,
    history: &[EpochRecord],
    eval_name: &str,
) -> Result<(), NnError> {
    write_atomic(path, curves_svg(history, eval_name)?.as_bytes())
}

/// The confusion matrix (`[true][predicted]` counts) as a PNG heatmap: rows normalised by
/// their sum, white (0) to dark blue (1), square cells of `max(4, 600 / classes)` pixels.
pub fn confusion_png(confusion: &[Vec<u64>]) -> Result<Vec<u8>, NnError> {
    let k = confusion.len();
    if k == 0 || confusion.iter().any(|row| row.len() != k) {
        return Err(NnError::option(
            "confusion matrix",
            format!("must be square and non-empty, got {k} rows"),
        ));
    }
    let cell = (600 / k).max(4);
    let side = k * cell;
    let mut rgb = vec![0u8; side * side * 3];
    for (i, row) in confusion.iter().enumerate() {
        let total: u64 = row.iter().sum();
        for (j, &count) in row.iter().enumerate() {
            let v = if total == 0 {
                0.0
            } else {
                count as f64 / total as f64
            };
            // White to (8, 48, 107), matplotlib's "Blues" end.
            let colour = [255.0 - v * 247.0, 255.0 - v * 207.0, 255.0 - v * 148.0]
                .map(|c: f64| c.round().clamp(0.0, 255.0) as u8);
            for y in i * cell..(i + 1) * cell {
                for x in j * cell..(j + 1) * cell {
                    rgb[(y * side + x) * 3..(y * side + x) * 3 + 3].copy_from_slice(&colour);
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let size = u32::try_from(side)
            .map_err(|_| NnError::option("confusion matrix", "too many classes to draw"))?;
        let mut encoder = png::Encoder::new(&mut out, size, size);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(draw_error)?;
        writer.write_image_data(&rgb).map_err(draw_error)?;
        writer.finish().map_err(draw_error)?;
    }
    Ok(out)
}

/// Writes [`confusion_png`] to `path` atomically.
pub fn write_confusion_png(path: &Path, confusion: &[Vec<u64>]) -> Result<(), NnError> {
    write_atomic(path, &confusion_png(confusion)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_png_decodes_to_the_expected_cells() -> Result<(), Box<dyn std::error::Error>> {
        let m = vec![vec![2, 0, 0], vec![1, 1, 0], vec![0, 0, 0]];
        let bytes = confusion_png(&m)?;
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info()?;
        let mut buf = vec![0; reader.output_buffer_size().ok_or("size")?];
        let info = reader.next_frame(&mut buf)?;
        assert_eq!((info.width, info.height), (600, 600));
        let px = |y: usize, x: usize| {
            let o = (y * 600 + x) * 3;
            [buf[o], buf[o + 1], buf[o + 2]]
        };
        assert_eq!(px(10, 10), [8, 48, 107], "row 0 all on the diagonal");
        assert_eq!(px(10, 250), [255, 255, 255]);
        // Row 1: half and half → the midpoint colour.
        assert_eq!(px(250, 10), [132, 152, 181]);
        assert_eq!(px(250, 250), px(250, 10));
        assert_eq!(px(450, 450), [255, 255, 255], "an empty row is white");
        assert!(confusion_png(&[vec![1, 2]]).is_err());
        Ok(())
    }

    #[test]
    fn curves_have_both_series_and_survive_odd_histories() -> Result<(), Box<dyn std::error::Error>>
    {
        let history: Vec<EpochRecord> = (1..=3)
            .map(|e| EpochRecord {
                epoch: e,
                train_loss: 3.0 / e as f64,
                train_acc: 0.2 * e as f64,
                eval_loss: (e != 2).then_some(2.0),
                eval_acc: Some(0.1 * e as f64),
                ..Default::default()
            })
            .collect();
        let svg = curves_svg(&history, "test")?;
        assert!(
            svg.contains(">\ntrain\n<") && svg.contains(">\ntest\n<"),
            "legends"
        );
        assert_eq!(svg.matches(r#"stroke-width="2""#).count(), 4, "four curves");
        // One epoch, a NaN loss, and an empty history still draw.
        let mut one = history[..1].to_vec();
        one[0].train_loss = f64::NAN;
        curves_svg(&one, "val")?;
        curves_svg(&[], "val")?;
        let dir = tempfile::tempdir()?;
        write_curves_svg(&dir.path().join("curves.svg"), &history, "val")?;
        write_confusion_png(&dir.path().join("c.png"), &[vec![1]])?;
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 2);
        Ok(())
    }
}
