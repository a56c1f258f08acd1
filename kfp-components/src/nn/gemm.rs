//! The one matrix multiply of the engine: `C = alpha * A * B + beta * C` on strided `f32`
//! matrices.
//!
//! Every dense product of the engine (convolutions through im2col, their weight and input
//! gradients, dense layers) goes through [`gemm()`], so the kernel can be swapped in one place.
//! Transposes cost nothing: a matrix is a slice plus a row stride and a column stride, and a
//! transposed view only swaps them ([`MatRef::t`]).
//!
//! ## The kernel, chosen by measurement
//!
//! The backend is the [gemm](https://crates.io/crates/gemm) crate (pure Rust, runtime CPU
//! dispatch with AVX-512 micro-kernels through its `x86-v4` feature, rayon parallelism over
//! blocks of `C`). It was measured against `matrixmultiply` (what `ndarray`'s `dot` uses) on
//! the shapes of `caltech-s` at 64x64, batch 32, on the 2-core AVX-512 build machine
//! (`cargo test --release -p kfp-components --lib nn::gemm::tests::measure -- --ignored
//! --nocapture`; other builds were running at the same time, so the numbers are noisy):
//!
//! | shape `m x k x n` (what)             | gemm, x86-v4 | gemm, no x86-v4 | matrixmultiply |
//! | ------------------------------------ | ------------ | --------------- | -------------- |
//! | 32768 x 288 x 64 (conv2 forward)     | 51           | 30              | 22-25          |
//! | 288 x 32768 x 64 (conv2 weight grad) | 67           | 37              | 32-38          |
//! | 32768 x 64 x 288 (conv2 input grad)  | 57           | 24              | 29-38          |
//! | 8192 x 576 x 128 (conv3 forward)     | 84           | 38              | 28-52          |
//! | 2048 x 1152 x 256 (conv4 forward)    | 165          | 40              | 36-76          |
//! | 1152 x 2048 x 256 (conv4 weight grad)| 144          | 44              | 34-76          |
//!
//! (GFLOP/s, 2-thread rayon pool; `matrixmultiply` through `ndarray::linalg::general_mat_mul`,
//! as this workspace builds it; ranges are two runs.) The gemm crate with its AVX-512 kernels wins on every shape,
//! by 2-4x on the large ones. The tall, narrow products of the early convolutions (64
//! columns) stay far below the machine's peak when run over the whole batch, which is why
//! the convolution layer runs them per tile of 256 output pixels on one thread each
//! (`layers::conv`, path `Tiled`): that raised the whole `caltech-s` training step by
//! about 1.3x in the same conditions.
//!
//! ## Determinism
//!
//! The `gemm` crate splits the work over blocks of rows and columns of `C`, never over the
//! inner dimension `k`, so every element of `C` is summed in the same order whatever the
//! thread count or scheduling; the unit test `same_result_with_1_and_2_threads` checks this.
//!
//! Threads: [`gemm()`] uses the rayon pool it is called from (`rayon::current_num_threads()`);
//! the caller decides the thread count by installing a pool.
use super::error::NnError;

/// A read-only strided view of an `f32` matrix: element `(i, j)` is
/// `data[i * row_stride + j * col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    /// The elements (the view may use only part of them).
    pub data: &'a [f32],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance between consecutive rows.
    pub row_stride: usize,
    /// Distance between consecutive columns.
    pub col_stride: usize,
}

/// A mutable strided view of an `f32` matrix (same layout rules as [`MatRef`]).
#[derive(Debug)]
pub struct MatMut<'a> {
    /// The elements (the view may use only part of them).
    pub data: &'a mut [f32],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance between consecutive rows.
    pub row_stride: usize,
    /// Distance between consecutive columns.
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A dense row-major `rows x cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

impl<'a> MatMut<'a> {
    /// A dense row-major `rows x cols` matrix.
    pub fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        MatMut {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }
}

/// The smallest slice length that holds every element of a `rows x cols` view.
fn span(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(row_stride)?
        .checked_add((cols - 1).checked_mul(col_stride)?)?
        .checked_add(1)
}

fn check(
    what: &str,
    len: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
) -> Result<(), NnError> {
    match span(rows, cols, rs, cs) {
        Some(need) if need <= len && rs <= isize::MAX as usize && cs <= isize::MAX as usize => {
            Ok(())
        }
        _ => Err(NnError::Shape {
            what: format!("gemm: {what} ({rows}x{cols}, strides {rs}/{cs})"),
            expected: vec![span(rows, cols, rs, cs).unwrap_or(usize::MAX)],
            got: vec![len],
        }),
    }
}

/// Work (multiply-adds) below which the product runs on the calling thread only.
const PARALLEL_MIN_WORK: usize = 1 << 17;

/// `c = alpha * a * b + beta * c`. With `beta == 0` the old content of `c` is not read (it
/// may hold anything, even NaN).
///
/// Errors when the shapes do not agree or a view reaches past the end of its slice.
///
/// ```
/// use kfp_components::nn::gemm::{gemm, MatMut, MatRef};
///
/// let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2x3
/// let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]; // 3x2
/// let mut c = [0.0; 4];
/// gemm(1.0, MatRef::row_major(&a, 2, 3), MatRef::row_major(&b, 3, 2), 0.0,
///      MatMut::row_major(&mut c, 2, 2)).unwrap();
/// assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
/// ```
pub fn gemm(
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: MatMut<'_>,
) -> Result<(), NnError> {
    gemm_in(alpha, a, b, beta, c, true)
}

/// [`gemm()`] on the calling thread only, for callers that already run one product per rayon
/// task.
pub fn gemm_serial(
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: MatMut<'_>,
) -> Result<(), NnError> {
    gemm_in(alpha, a, b, beta, c, false)
}

fn gemm_in(
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: MatMut<'_>,
    parallel: bool,
) -> Result<(), NnError> {
    if a.cols != b.rows || a.rows != c.rows || b.cols != c.cols {
        return Err(NnError::Shape {
            what: format!(
                "gemm: A is {}x{}, B is {}x{}, C is {}x{}",
                a.rows, a.cols, b.rows, b.cols, c.rows, c.cols
            ),
            expected: vec![a.rows, b.cols],
            got: vec![c.rows, c.cols],
        });
    }
    check(
        "A",
        a.data.len(),
        a.rows,
        a.cols,
        a.row_stride,
        a.col_stride,
    )?;
    check(
        "B",
        b.data.len(),
        b.rows,
        b.cols,
        b.row_stride,
        b.col_stride,
    )?;
    check(
        "C",
        c.data.len(),
        c.rows,
        c.cols,
        c.row_stride,
        c.col_stride,
    )?;
    let (m, n, k) = (c.rows, c.cols, a.cols);
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        // C = beta * C.
        for i in 0..m {
            for j in 0..n {
                let x = &mut c.data[i * c.row_stride + j * c.col_stride];
                *x = if beta == 0.0 { 0.0 } else { beta * *x };
            }
        }
        return Ok(());
    }
    let threads = rayon::current_num_threads();
    let parallelism =
        if parallel && threads > 1 && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MIN_WORK {
            gemm::Parallelism::Rayon(threads)
        } else {
            gemm::Parallelism::None
        };
    // SAFETY: the shapes agree and `check` proved every element of each view lies inside its
    // slice; strides fit in isize; `c` is borrowed mutably so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.data.as_mut_ptr(),
            c.col_stride as isize,
            c.row_stride as isize,
            beta != 0.0,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            beta,
            alpha,
            false,
            false,
            false,
            parallelism,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    fn naive(a: MatRef<'_>, b: MatRef<'_>) -> Vec<f64> {
        let mut out = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                let mut s = 0.0f64;
                for p in 0..a.cols {
                    s += a.data[i * a.row_stride + p * a.col_stride] as f64
                        * b.data[p * b.row_stride + j * b.col_stride] as f64;
                }
                out[i * b.cols + j] = s;
            }
        }
        out
    }

    #[test]
    fn matches_naive_with_transposes_strides_and_beta() {
        for &(m, k, n) in &[(1, 1, 1), (7, 5, 3), (33, 17, 65), (64, 300, 20)] {
            let a = random(m * k, 1);
            let bt = random(n * k, 2);
            let c0 = random(m * n * 2, 3);
            // B given transposed ([n, k] row-major), C with row stride 2n (every other block).
            let av = MatRef::row_major(&a, m, k);
            let bv = MatRef::row_major(&bt, n, k).t();
            let want = naive(av, bv);
            let mut c = c0.clone();
            gemm(
                0.5,
                av,
                bv,
                2.0,
                MatMut {
                    data: &mut c,
                    rows: m,
                    cols: n,
                    row_stride: 2 * n,
                    col_stride: 1,
                },
            )
            .unwrap();
            for i in 0..m {
                for j in 0..n {
                    let got = c[i * 2 * n + j] as f64;
                    let exp = 0.5 * want[i * n + j] + 2.0 * c0[i * 2 * n + j] as f64;
                    assert!(
                        (got - exp).abs() < 1e-4 * (1.0 + exp.abs()),
                        "{m}x{k}x{n} ({i},{j}): {got} vs {exp}"
                    );
                }
                for j in n..2 * n {
                    assert_eq!(c[i * 2 * n + j], c0[i * 2 * n + j], "outside the view");
                }
            }
        }
    }

    #[test]
    fn beta_zero_ignores_nan_and_errors_on_bad_views() {
        let a = [1.0, 2.0];
        let b = [3.0, 4.0];
        let mut c = [f32::NAN];
        gemm(
            1.0,
            MatRef::row_major(&a, 1, 2),
            MatRef::row_major(&b, 2, 1),
            0.0,
            MatMut::row_major(&mut c, 1, 1),
        )
        .unwrap();
        assert_eq!(c, [11.0]);
        let e = gemm(
            1.0,
            MatRef::row_major(&a, 1, 2),
            MatRef::row_major(&b, 1, 2),
            0.0,
            MatMut::row_major(&mut c, 1, 1),
        );
        assert!(e.is_err());
        let e = gemm(
            1.0,
            MatRef::row_major(&a, 2, 2),
            MatRef::row_major(&b, 2, 1),
            0.0,
            MatMut::row_major(&mut c, 2, 1),
        );
        assert!(e.unwrap_err().to_string().contains("A"));
    }

    #[test]
    fn same_result_with_1_and_2_threads() {
        let (m, k, n) = (300, 700, 70);
        let a = random(m * k, 4);
        let b = random(k * n, 5);
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut c = vec![0.0; m * n];
                gemm(
                    1.0,
                    MatRef::row_major(&a, m, k),
                    MatRef::row_major(&b, k, n),
                    0.0,
                    MatMut::row_major(&mut c, m, n),
                )
                .unwrap();
                c
            })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(run(2), run(2));
    }

    /// Prints GFLOP/s of the gemm crate and of matrixmultiply (ndarray's `dot`) on the shapes
    /// of caltech-s (64x64, batch 32). Run with `--release --ignored --nocapture`.
    #[test]
    #[ignore]
    fn measure() {
        use std::time::Instant;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let shapes = [
            ("conv2 fwd", 32768, 288, 64),
            ("conv2 dW", 288, 32768, 64),
            ("conv2 dX", 32768, 64, 288),
            ("conv3 fwd", 8192, 576, 128),
            ("conv4 fwd", 2048, 1152, 256),
            ("conv4 dW", 1152, 2048, 256),
        ];
        for (name, m, k, n) in shapes {
            let a = random(m * k, 1);
            let b = random(k * n, 2);
            let mut c = vec![0.0; m * n];
            let flop = 2.0 * (m * k * n) as f64;
            let reps = 10;
            let ours = pool.install(|| {
                gemm(
                    1.0,
                    MatRef::row_major(&a, m, k),
                    MatRef::row_major(&b, k, n),
                    0.0,
                    MatMut::row_major(&mut c, m, n),
                )
                .unwrap();
                let t = Instant::now();
                for _ in 0..reps {
                    gemm(
                        1.0,
                        MatRef::row_major(&a, m, k),
                        MatRef::row_major(&b, k, n),
                        0.0,
                        MatMut::row_major(&mut c, m, n),
                    )
                    .unwrap();
                }
                flop * reps as f64 / t.elapsed().as_secs_f64() / 1e9
            });
            let aa = ndarray::Array2::from_shape_vec((m, k), a.clone()).unwrap();
            let bb = ndarray::Array2::from_shape_vec((k, n), b.clone()).unwrap();
            let mut cc = ndarray::Array2::<f32>::zeros((m, n));
            let mm = pool.install(|| {
                ndarray::linalg::general_mat_mul(1.0, &aa, &bb, 0.0, &mut cc);
                let t = Instant::now();
                for _ in 0..reps {
                    ndarray::linalg::general_mat_mul(1.0, &aa, &bb, 0.0, &mut cc);
                }
                flop * reps as f64 / t.elapsed().as_secs_f64() / 1e9
            });
            eprintln!(
                "{name:10} {m}x{k}x{n}: gemm {ours:.1} GFLOP/s, matrixmultiply {mm:.1} GFLOP/s"
            );
        }
    }
}
