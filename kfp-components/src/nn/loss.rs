//! Softmax cross-entropy with label smoothing.
//!
//! PyTorch's `CrossEntropyLoss(label_smoothing = eps)` with mean reduction: the target of an
//! example with label `y` over `K` classes is `(1 - eps) * onehot(y) + eps / K`, the loss is
//! `-sum_k target_k * log_softmax(z)_k` averaged over the batch, and its gradient with respect
//! to the logits is `(softmax(z) - target) / batch`. `log_softmax` is computed as
//! `z - max(z) - log(sum(exp(z - max(z))))`, so large logits do not overflow.
//!
//! [`weighted_softmax_cross_entropy`] also weighs each example by the weight of its class (for
//! class-balanced training): the batch loss is `sum_i w_i l_i / sum_i w_i` (PyTorch's
//! weighted-mean reduction) and the gradient of example `i` is
//! `w_i (softmax(z_i) - target_i) / sum_i w_i`. The weight scales the example's whole smoothed
//! loss (PyTorch instead weighs each smoothing term by its own class).
//!
//! ```
//! use kfp_components::nn::loss::softmax_cross_entropy;
//! use ndarray::array;
//!
//! let logits = array![[2.0f32, 0.0, 0.0], [0.0, 0.0, 0.0]];
//! let (loss, grad) = softmax_cross_entropy(logits.view(), &[0, 2], 0.0).unwrap();
//! let p0 = 2f32.exp() / (2f32.exp() + 2.0);
//! let want = -(p0.ln() + (1.0f32 / 3.0).ln()) / 2.0;
//! assert!((loss - want).abs() < 1e-6);
//! assert!((grad[[0, 0]] - (p0 - 1.0) / 2.0).abs() < 1e-6);
//! ```
use ndarray::{Array2, ArrayView2};

use super::error::NnError;

/// Mean softmax cross-entropy over the batch and its gradient with respect to `logits`.
///
/// Errors when `labels` does not have one label per row, a label is not below the number of
/// classes, `label_smoothing` is outside `[0, 1]`, or the batch is empty.
pub fn softmax_cross_entropy(
    logits: ArrayView2<'_, f32>,
    labels: &[usize],
    label_smoothing: f32,
) -> Result<(f32, Array2<f32>), NnError> {
    weighted_softmax_cross_entropy(logits, labels, label_smoothing, None)
}

/// Like [`softmax_cross_entropy`], with each example weighted by `class_weights[label]` (see
/// the module documentation); `None` weighs every class 1.
///
/// Also errors when `class_weights` does not have one weight per class, or a weight is
/// negative or not finite, or the batch's weights sum to zero.
pub fn weighted_softmax_cross_entropy(
    logits: ArrayView2<'_, f32>,
    labels: &[usize],
    label_smoothing: f32,
    class_weights: Option<&[f32]>,
) -> Result<(f32, Array2<f32>), NnError> {
    let (n, k) = logits.dim();
    if labels.len() != n {
        return Err(NnError::Shape {
            what: "labels (one per row of logits)".into(),
            expected: vec![n],
            got: vec![labels.len()],
        });
    }
    if n == 0 || k == 0 {
        return Err(NnError::Shape {
            what: "logits".into(),
            expected: vec![0, 0],
            got: vec![n, k],
        });
    }
    if !(0.0..=1.0).contains(&label_smoothing) {
        return Err(NnError::option(
            "label_smoothing",
            format!("must be in [0, 1], got {label_smoothing}"),
        ));
    }
    if let Some((i, &y)) = labels.iter().enumerate().find(|(_, y)| **y >= k) {
        return Err(NnError::option(
            "labels",
            format!("label {y} of example {i} is not below the number of classes ({k})"),
        ));
    }
    if let Some(w) = class_weights {
        if w.len() != k {
            return Err(NnError::Shape {
                what: "class weights (one per class)".into(),
                expected: vec![k],
                got: vec![w.len()],
            });
        }
        if let Some((c, v)) = w
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite() || **v < 0.0)
        {
            return Err(NnError::option(
                "class_weights",
                format!("the weight of class {c} is {v}; weights must be finite and >= 0"),
            ));
        }
    }
    let weight = |y: usize| class_weights.map_or(1.0, |w| w[y] as f64);
    let weight_sum: f64 = labels.iter().map(|&y| weight(y)).sum();
    if weight_sum <= 0.0 {
        return Err(NnError::option(
            "class_weights",
            "the examples of this batch all have weight 0",
        ));
    }
    let eps = label_smoothing as f64;
    let off = eps / k as f64;
    let mut grad = Array2::<f32>::zeros((n, k));
    let mut total = 0.0f64;
    for (i, (row, mut g)) in logits.outer_iter().zip(grad.outer_iter_mut()).enumerate() {
        let wi = weight(labels[i]);
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
        let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
        let lse = max + sum.ln();
        let mut loss = 0.0;
        for (j, (&z, gj)) in row.iter().zip(g.iter_mut()).enumerate() {
            let logp = z as f64 - lse;
            let target = off + if j == labels[i] { 1.0 - eps } else { 0.0 };
            loss -= target * logp;
            *gj = (wi * (logp.exp() - target) / weight_sum) as f32;
        }
        total += wi * loss;
    }
    Ok(((total / weight_sum) as f32, grad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = StdRng::seed_from_u64(7);
        for &(n, k, eps, weighted) in &[
            (1usize, 2usize, 0.0f32, false),
            (4, 5, 0.1, false),
            (3, 11, 0.3, false),
            (5, 4, 0.1, true),
            (2, 3, 0.0, true),
        ] {
            let z = Array2::from_shape_fn((n, k), |_| rng.random_range(-3.0f32..3.0));
            let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..k)).collect();
            let weights: Vec<f32> = (0..k).map(|_| rng.random_range(0.2f32..3.0)).collect();
            let weights = weighted.then_some(weights.as_slice());
            let loss = |z: &Array2<f32>| {
                weighted_softmax_cross_entropy(z.view(), &labels, eps, weights).unwrap()
            };
            let (_, g) = loss(&z);
            let h = 1e-2f32;
            for i in 0..n {
                for j in 0..k {
                    let mut p = z.clone();
                    p[[i, j]] += h;
                    let mut m = z.clone();
                    m[[i, j]] -= h;
                    let lp = loss(&p).0 as f64;
                    let lm = loss(&m).0 as f64;
                    let fd = (lp - lm) / (2.0 * h as f64);
                    let got = g[[i, j]] as f64;
                    // The loss is returned as f32 (about 3e-7 relative): / 2h gives ~3e-5 of noise.
                    assert!(
                        (fd - got).abs() <= 1e-4 + 1e-3 * fd.abs(),
                        "n{n} k{k} ({i},{j}): fd {fd} got {got}"
                    );
                }
            }
        }
    }

    #[test]
    fn smoothing_follows_the_pytorch_formula_and_large_logits_are_stable() {
        // Written out: loss = -(1 - eps) log p_y - eps / K sum_k log p_k.
        let z = ndarray::array![[1000.0f32, 999.0, 990.0]];
        let (loss, g) = softmax_cross_entropy(z.view(), &[1], 0.2).unwrap();
        let zf = [1000.0f64, 999.0, 990.0];
        let lse = 1000.0 + (0.0f64.exp() + (-1.0f64).exp() + (-10.0f64).exp()).ln();
        let logp: Vec<f64> = zf.iter().map(|v| v - lse).collect();
        let want = -(0.8 * logp[1]) - 0.2 / 3.0 * logp.iter().sum::<f64>();
        assert!(
            loss.is_finite() && (loss as f64 - want).abs() < 1e-5,
            "{loss} vs {want}"
        );
        assert!((g.sum()).abs() < 1e-6, "gradient rows sum to zero");
    }

    #[test]
    fn class_weights_give_the_weighted_mean_of_the_examples_losses() {
        let z = ndarray::array![[0.5f32, -1.0, 2.0], [1.0, 0.0, 0.0], [0.2, 0.1, -0.3]];
        let labels = [2, 0, 0];
        let single = |i: usize| {
            softmax_cross_entropy(z.slice(ndarray::s![i..i + 1, ..]), &labels[i..i + 1], 0.1)
                .unwrap()
                .0 as f64
        };
        let w = [3.0f32, 0.5, 0.25];
        let (loss, _) = weighted_softmax_cross_entropy(z.view(), &labels, 0.1, Some(&w)).unwrap();
        let want = (0.25 * single(0) + 3.0 * single(1) + 3.0 * single(2)) / 6.25;
        assert!((loss as f64 - want).abs() < 1e-6, "{loss} vs {want}");
        // Equal weights are the plain mean.
        let ones = [1.0f32; 3];
        let (a, ga) = weighted_softmax_cross_entropy(z.view(), &labels, 0.1, Some(&ones)).unwrap();
        let (b, gb) = softmax_cross_entropy(z.view(), &labels, 0.1).unwrap();
        assert!((a - b).abs() < 1e-7 && (&ga - &gb).iter().all(|d| d.abs() < 1e-7));
        // Bad weights are errors naming what is wrong.
        let e = |w: &[f32]| {
            weighted_softmax_cross_entropy(z.view(), &labels, 0.1, Some(w))
                .unwrap_err()
                .to_string()
        };
        assert!(e(&[1.0, 1.0]).contains("class weights"));
        assert!(e(&[1.0, f32::NAN, 1.0]).contains("class 1"));
        assert!(e(&[0.0, 1.0, 0.0]).contains("weight 0"));
    }

    #[test]
    fn bad_labels_are_errors() {
        let z = Array2::<f32>::zeros((2, 3));
        let e = softmax_cross_entropy(z.view(), &[0, 3], 0.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("label 3 of example 1"), "{e}");
        assert!(softmax_cross_entropy(z.view(), &[0], 0.0).is_err());
        assert!(softmax_cross_entropy(z.view(), &[0, 1], 1.5).is_err());
    }
}
