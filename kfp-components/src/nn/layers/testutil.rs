//! Finite-difference gradient checks shared by the layer tests.
//!
//! The scalar checked is `L = sum(y * r)` for a fixed random `r`, accumulated in `f64`; its
//! gradient with respect to `y` is `r`. Central differences `(L(x + h) - L(x - h)) / 2h` are
//! compared with the analytic input and parameter gradients. With `f32` forward passes the
//! rounding noise of `L` is about `1e-7 * sum|y r|`, so with `h = 1e-2` the difference is good
//! to about `1e-4` on the sizes used here: tolerance `2e-3 + 1e-2 * |g|` passes correct code
//! and fails an off-by-one index (which moves a gradient by O(1)).
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

use super::{Act, BufferPool, Ctx, Layer};

pub(crate) fn randn(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..len).map(|_| StandardNormal.sample(&mut rng)).collect()
}

/// Values spread so that no two are within `gap` of each other and none is within `gap` of
/// 0 or 6 (kinks of ReLU, ReLU6 and max pooling), shuffled, in about [-8, 8].
pub(crate) fn spread(len: usize, gap: f32, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let step = 16.0 / len as f32;
    assert!(step > 2.0 * gap, "too many values for gap {gap}");
    let mut v: Vec<f32> = (0..len).map(|i| -8.0 + (i as f32 + 0.5) * step).collect();
    for x in v.iter_mut() {
        if x.abs() < gap || (*x - 6.0).abs() < gap {
            *x += 2.0 * gap;
        }
    }
    for i in (1..len).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
    v
}

fn loss(layer: &mut Layer, x: &Act, r: &[f32]) -> f64 {
    let mut pool = BufferPool::default();
    let mut ctx = Ctx {
        train: true,
        dropout_seed: 1,
        pool: &mut pool,
        profile: None,
    };
    let y = layer.forward(x.clone(), &mut ctx).expect("forward");
    layer.release(&mut pool);
    y.data
        .iter()
        .zip(r)
        .map(|(a, b)| *a as f64 * *b as f64)
        .sum()
}

fn close(fd: f64, an: f64, what: &str) {
    assert!(
        (fd - an).abs() <= 2e-3 + 1e-2 * an.abs().max(fd.abs()),
        "{what}: finite difference {fd}, analytic {an}"
    );
}

/// Checks the input gradient and every trainable parameter's gradient of `layer` at `x`
/// (at most `max_checks` entries of each tensor, spread over it).
pub(crate) fn check_layer(layer: &mut Layer, x: Act, label: &str) {
    let h = 1e-2f32;
    let max_checks = 80;
    let mut pool = BufferPool::default();
    let mut ctx = Ctx {
        train: true,
        dropout_seed: 1,
        pool: &mut pool,
        profile: None,
    };
    let y = layer.forward(x.clone(), &mut ctx).expect("forward");
    let r = randn(y.data.len(), 99);
    let dy = Act {
        data: r.clone(),
        ..y
    };
    let mut params = Vec::new();
    layer.params_mut(&mut params);
    for p in params {
        p.grad.fill(0.0);
    }
    let dx = layer
        .backward(dy, true, &mut ctx)
        .expect("backward")
        .expect("input gradient");
    assert_eq!(
        (dx.n, dx.h, dx.w, dx.c),
        (x.n, x.h, x.w, x.c),
        "{label}: dx shape"
    );
    let stride = (x.data.len() / max_checks).max(1);
    for i in (0..x.data.len()).step_by(stride) {
        let mut xp = x.clone();
        xp.data[i] += h;
        let lp = loss(layer, &xp, &r);
        xp.data[i] -= 2.0 * h;
        let lm = loss(layer, &xp, &r);
        close(
            (lp - lm) / (2.0 * h as f64),
            dx.data[i] as f64,
            &format!("{label}: dx[{i}]"),
        );
    }
    let mut params = Vec::new();
    layer.params_mut(&mut params);
    let grads: Vec<(String, bool, Vec<f32>)> = params
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.trainable(),
                p.grad.iter().copied().collect(),
            )
        })
        .collect();
    for (pi, (name, trainable, grad)) in grads.iter().enumerate() {
        if !trainable {
            continue;
        }
        let stride = (grad.len() / max_checks).max(1);
        for i in (0..grad.len()).step_by(stride) {
            let bump = |layer: &mut Layer, d: f32| {
                let mut params = Vec::new();
                layer.params_mut(&mut params);
                let v = params[pi].value.as_slice_mut().expect("contiguous");
                v[i] += d;
            };
            bump(layer, h);
            let lp = loss(layer, &x, &r);
            bump(layer, -2.0 * h);
            let lm = loss(layer, &x, &r);
            bump(layer, h);
            close(
                (lp - lm) / (2.0 * h as f64),
                grad[i] as f64,
                &format!("{label}: {name}[{i}]"),
            );
        }
    }
}

/// Fills every tensor of `layer` with random normal values (scaled by `scale`).
pub(crate) fn randomize(layer: &mut Layer, seed: u64, scale: f32) {
    let mut params = Vec::new();
    layer.params_mut(&mut params);
    for (k, p) in params.into_iter().enumerate() {
        if !p.trainable() {
            continue;
        }
        let v = randn(p.value.len(), seed + k as u64);
        for (d, s) in p.value.iter_mut().zip(v) {
            *d = s * scale;
        }
    }
}

/// An NHWC activation of random normal values.
pub(crate) fn act(n: usize, h: usize, w: usize, c: usize, seed: u64) -> Act {
    Act::new(randn(n * h * w * c, seed), n, h, w, c).expect("shape")
}
