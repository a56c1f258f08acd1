//! Classification metrics: top-1, top-5, mean per-class accuracy, confusion matrix,
//! per-class precision / recall / support, and the loss.
//!
//! Definitions (the ones torchvision's reference scripts and scikit-learn use):
//!
//! - The predicted class is the arg-max of the logits, the first one on ties.
//! - Top-k counts an example as right when its label is among the `k` largest logits, ties
//!   broken by class index (consistent with the arg-max); `k` is clipped to the number of
//!   classes.
//! - Mean per-class accuracy is the mean over classes of their recall (right / support),
//!   over the classes that occur in the evaluated set (a class with no example has no
//!   recall and is left out of the mean, as scikit-learn's `balanced_accuracy_score`).
//! - Precision of a class that is never predicted is 0 (scikit-learn's `zero_division=0`).
//! - The confusion matrix is `[true class][predicted class]` counts.
//!
//! [`ClassificationMetrics`] is what `metrics.json` holds (serde); it is written atomically.
//!
//! ```
//! use kfp_components::nn::metrics::ClassificationMetrics;
//! use ndarray::array;
//!
//! let logits = array![[2.0f32, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 2.0], [0.0, 2.0, 1.0]];
//! let classes = ["a", "b", "c"].map(String::from);
//! let m = ClassificationMetrics::from_logits(logits.view(), &[0, 1, 2, 2], &classes, None)?;
//! assert_eq!(m.top1, 0.75);
//! assert_eq!(m.mean_per_class_accuracy, (1.0 + 1.0 + 0.5) / 3.0);
//! assert_eq!(m.confusion_matrix[2], vec![0, 1, 1]);
//! # Ok::<(), kfp_components::nn::NnError>(())
//! ```
use std::path::Path;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::error::NnError;
use super::io::write_atomic;

/// One class's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    /// The class name.
    pub class: String,
    /// Right predictions of this class over all predictions of it (0 if never predicted).
    pub precision: f64,
    /// Right predictions of this class over its examples (0 if it has none).
    pub recall: f64,
    /// Examples of this class in the evaluated set.
    pub support: u64,
    /// Examples predicted as this class.
    pub predicted: u64,
}

/// The metrics of a classifier on one set of examples (`metrics.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    /// Examples evaluated.
    pub num_examples: u64,
    /// Mean loss, when the caller computed it.
    pub loss: Option<f64>,
    /// Top-1 accuracy in `[0, 1]`.
    pub top1: f64,
    /// Top-5 accuracy in `[0, 1]`.
    pub top5: f64,
    /// Mean of the per-class recalls over the classes present.
    pub mean_per_class_accuracy: f64,
    /// Per-class figures, by label.
    pub per_class: Vec<ClassReport>,
    /// `confusion_matrix[true][predicted]`.
    pub confusion_matrix: Vec<Vec<u64>>,
}

/// The rank of `label` among `row` (0 = first), in the order of [`argmax`]: larger first,
/// NaN before everything, ties broken by index.
fn rank(row: &[f32], label: usize) -> usize {
    let y = row[label];
    let beats = |j: usize, v: f32| match (v.is_nan(), y.is_nan()) {
        (true, true) => j < label,
        (true, false) => true,
        (false, true) => false,
        (false, false) => v > y || (v == y && j < label),
    };
    row.iter()
        .enumerate()
        .filter(|&(j, &v)| beats(j, v))
        .count()
}

impl ClassificationMetrics {
    /// The metrics of `logits` (`[examples, classes]`) against `labels`; `classes` names the
    /// columns.
    pub fn from_logits(
        logits: ArrayView2<f32>,
        labels: &[usize],
        classes: &[String],
        loss: Option<f64>,
    ) -> Result<Self, NnError> {
        let k = classes.len();
        if logits.nrows() != labels.len() || logits.ncols() != k {
            return Err(NnError::Shape {
                what: "logits".into(),
                expected: vec![labels.len(), k],
                got: logits.shape().to_vec(),
            });
        }
        if let Some(&bad) = labels.iter().find(|&&l| l >= k) {
            return Err(NnError::option(
                "labels",
                format!("label {bad} is out of range for {k} classes"),
            ));
        }
        let mut confusion = vec![vec![0u64; k]; k];
        let (mut top1, mut top5) = (0u64, 0u64);
        let mut row = vec![0f32; k];
        for (logit, &label) in logits.rows().into_iter().zip(labels) {
            for (r, &v) in row.iter_mut().zip(logit) {
                *r = v;
            }
            let r = rank(&row, label);
            top1 += (r == 0) as u64;
            top5 += (r < 5) as u64;
            let predicted = argmax(&row);
            confusion[label][predicted] += 1;
        }
        Ok(Self::from_confusion(confusion, classes, top1, top5, loss))
    }

    fn from_confusion(
        confusion: Vec<Vec<u64>>,
        classes: &[String],
        top1: u64,
        top5: u64,
        loss: Option<f64>,
    ) -> Self {
        let n: u64 = confusion.iter().flatten().sum();
        let per_class: Vec<ClassReport> = classes
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let right = confusion[c][c];
                let support: u64 = confusion[c].iter().sum();
                let predicted: u64 = confusion.iter().map(|row| row[c]).sum();
                let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
                ClassReport {
                    class: name.clone(),
                    precision: ratio(right, predicted),
                    recall: ratio(right, support),
                    support,
                    predicted,
                }
            })
            .collect();
        let present: Vec<f64> = per_class
            .iter()
            .filter(|c| c.support > 0)
            .map(|c| c.recall)
            .collect();
        let frac = |a: u64| if n == 0 { 0.0 } else { a as f64 / n as f64 };
        ClassificationMetrics {
            num_examples: n,
            loss,
            top1: frac(top1),
            top5: frac(top5),
            mean_per_class_accuracy: if present.is_empty() {
                0.0
            } else {
                present.iter().sum::<f64>() / present.len() as f64
            },
            per_class,
            confusion_matrix: confusion,
        }
    }

    /// Writes the metrics as pretty JSON, atomically.
    pub fn write_json(&self, path: &Path) -> Result<(), NnError> {
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| NnError::format(path, format!("cannot serialise: {e}")))?;
        write_atomic(path, &text)
    }
}

/// The index of the largest value, the first on ties; NaN counts as largest.
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate().skip(1) {
        let b = row[best];
        if (v > b && !b.is_nan()) || (v.is_nan() && !b.is_nan()) {
            best = j;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|c| format!("c{c}")).collect()
    }

    #[test]
    fn hand_made_case() {
        // 3 classes, 6 examples. Predictions (arg-max): 0, 0, 1, 2, 2, 2. Labels: 0, 1, 1, 1, 2, 0.
        let logits = array![
            [5.0f32, 1.0, 0.0],
            [3.0, 2.0, 1.0],
            [0.0, 4.0, 1.0],
            [0.0, 1.0, 2.0],
            [1.0, 0.0, 9.0],
            [0.5, 0.0, 0.6],
        ];
        let labels = [0, 1, 1, 1, 2, 0];
        let m = ClassificationMetrics::from_logits(logits.view(), &labels, &names(3), Some(0.5))
            .unwrap();
        assert_eq!(
            m.confusion_matrix,
            vec![vec![1, 0, 1], vec![1, 1, 1], vec![0, 0, 1]]
        );
        assert_eq!(m.num_examples, 6);
        assert_eq!(m.top1, 3.0 / 6.0);
        // k = 5 > 3 classes: every example is in the top "5".
        assert_eq!(m.top5, 1.0);
        // Recalls 1/2, 1/3, 1/1.
        assert!((m.mean_per_class_accuracy - (0.5 + 1.0 / 3.0 + 1.0) / 3.0).abs() < 1e-12);
        // Precisions: class 0 predicted twice (1 right), class 1 once (right), class 2 three
        // times (1 right).
        let p: Vec<f64> = m.per_class.iter().map(|c| c.precision).collect();
        assert_eq!(p, vec![0.5, 1.0, 1.0 / 3.0]);
        let s: Vec<u64> = m.per_class.iter().map(|c| c.support).collect();
        assert_eq!(s, vec![2, 3, 1]);
        assert_eq!(m.loss, Some(0.5));
    }

    #[test]
    fn top5_and_ties() {
        // 7 classes; the label's logit ranks 5th (index 4 → rank 4 → in top-5) or 6th.
        let row = [7.0f32, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0];
        let logits = Array2::from_shape_fn((2, 7), |(_, j)| row[j]);
        let m =
            ClassificationMetrics::from_logits(logits.view(), &[4, 5], &names(7), None).unwrap();
        assert_eq!(m.top5, 0.5);
        assert_eq!(m.top1, 0.0);
        // Ties: all equal → the arg-max is class 0; label 0 is top-1, label 1 is not.
        let flat = Array2::<f32>::zeros((2, 3));
        let m = ClassificationMetrics::from_logits(flat.view(), &[0, 1], &names(3), None).unwrap();
        assert_eq!(m.top1, 0.5);
        assert_eq!(m.confusion_matrix[1], vec![1, 0, 0]);
        // A class absent from the set is left out of the per-class mean; never predicted → 0.
        let logits = array![[1.0f32, 0.0, 0.0], [0.0, 1.0, 0.0]];
        let m =
            ClassificationMetrics::from_logits(logits.view(), &[0, 0], &names(3), None).unwrap();
        assert_eq!(m.mean_per_class_accuracy, 0.5);
        assert_eq!(m.per_class[2].precision, 0.0);
        assert_eq!(argmax(&[1.0, f32::NAN, 3.0]), 1);
    }

    #[test]
    fn bad_inputs_and_json_round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let logits = array![[1.0f32, 0.0]];
        assert!(ClassificationMetrics::from_logits(logits.view(), &[2], &names(2), None).is_err());
        assert!(ClassificationMetrics::from_logits(logits.view(), &[0], &names(3), None).is_err());
        let m = ClassificationMetrics::from_logits(logits.view(), &[0], &names(2), None)?;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("metrics.json");
        m.write_json(&path)?;
        let back: ClassificationMetrics = serde_json::from_slice(&std::fs::read(&path)?)?;
        assert_eq!(back, m);
        assert_eq!(
            std::fs::read_dir(dir.path())?.count(),
            1,
            "no temporary left"
        );
        assert!(
            m.write_json(&dir.path().join("missing/metrics.json"))
                .is_err()
        );
        Ok(())
    }
}
