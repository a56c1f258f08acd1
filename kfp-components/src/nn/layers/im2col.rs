//! Patch extraction (im2col) and its adjoint (col2im) for NHWC convolutions.
//!
//! The patch matrix of group `g` has one row per output pixel (`n * oh * ow` rows, in NHWC
//! order, so the product with the kernel is directly the NHWC output) and one column per
//! kernel tap and input channel of the group, ordered `(ky, kx, ci)`: exactly the row order of
//! the HWIO kernel, whose `[kh * kw * cin_g, filters]` reshape needs no copy. With one group
//! a patch row is `kh * kw` contiguous runs of `c` channels, copied with `copy_from_slice`.
use rayon::prelude::*;

use super::super::spec::Padding;

/// The geometry of a convolution or pool over an NHWC input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Input channels.
    pub c: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Rows of padding above.
    pub pad_top: usize,
    /// Columns of padding on the left.
    pub pad_left: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl Geometry {
    /// Resolves padding; `None` if the kernel does not fit.
    pub fn new(
        input: [usize; 3],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: Padding,
    ) -> Option<Geometry> {
        let (oh, pad_top, _) = padding.resolve(input[0], kernel[0], stride[0])?;
        let (ow, pad_left, _) = padding.resolve(input[1], kernel[1], stride[1])?;
        Some(Geometry {
            h: input[0],
            w: input[1],
            c: input[2],
            kh: kernel[0],
            kw: kernel[1],
            sh: stride[0],
            sw: stride[1],
            pad_top,
            pad_left,
            oh,
            ow,
        })
    }

    /// Input row of output row `oy` and kernel row `ky`, if inside the image.
    #[inline]
    pub fn in_y(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.sh + ky)
            .checked_sub(self.pad_top)
            .filter(|&y| y < self.h)
    }

    /// Input column of output column `ox` and kernel column `kx`, if inside the image.
    #[inline]
    pub fn in_x(&self, ox: usize, kx: usize) -> Option<usize> {
        (ox * self.sw + kx)
            .checked_sub(self.pad_left)
            .filter(|&x| x < self.w)
    }

    /// Whether the convolution is a plain per-pixel product (1x1, stride 1, no padding).
    pub fn is_pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.sh == 1
            && self.sw == 1
            && self.oh == self.h
            && self.ow == self.w
    }
}

/// Writes the patch matrix of channel group `[c0, c0 + cg)` of `x` (`n` images) into `cols`
/// (`n * oh * ow` rows of `kh * kw * cg` values); padding is zero.
pub fn im2col(x: &[f32], n: usize, g: &Geometry, c0: usize, cg: usize, cols: &mut [f32]) {
    let k = g.kh * g.kw * cg;
    let row_block = g.ow * k;
    debug_assert_eq!(cols.len(), n * g.oh * row_block);
    debug_assert_eq!(x.len(), n * g.h * g.w * g.c);
    cols.par_chunks_mut(row_block)
        .enumerate()
        .for_each(|(r, out)| im2col_rows(x, g, c0, cg, r * g.ow, (r + 1) * g.ow, out));
}

/// The adjoint of [`im2col`]: adds every patch value of `cols` back into its input position
/// of `dx` (padding positions are dropped). Parallel over images; within an image the sums
/// run in a fixed order.
pub fn col2im_add(cols: &[f32], n: usize, g: &Geometry, c0: usize, cg: usize, dx: &mut [f32]) {
    let k = g.kh * g.kw * cg;
    let per_image = g.h * g.w * g.c;
    debug_assert_eq!(cols.len(), n * g.oh * g.ow * k);
    debug_assert_eq!(dx.len(), n * per_image);
    dx.par_chunks_mut(per_image)
        .zip(cols.par_chunks(g.oh * g.ow * k))
        .for_each(|(d, c)| col2im_rows_add(c, g, c0, cg, 0, g.oh * g.ow, d));
}

/// Sequential [`im2col`] of output rows `[r0, r1)` (flat over `(image, oy, ox)`, counted from
/// the first image of `x`) into `out` (`(r1 - r0) * kh * kw * cg` values).
pub fn im2col_rows(
    x: &[f32],
    g: &Geometry,
    c0: usize,
    cg: usize,
    r0: usize,
    r1: usize,
    out: &mut [f32],
) {
    let k = g.kh * g.kw * cg;
    let plane = g.oh * g.ow;
    for (row, r) in out.chunks_exact_mut(k).zip(r0..r1) {
        let (img, p) = (r / plane, r % plane);
        let (oy, ox) = (p / g.ow, p % g.ow);
        let base = img * g.h * g.w * g.c;
        // With one group and unit horizontal stride, the taps of a kernel row over columns
        // inside the image are one contiguous run of the input: one copy instead of `kw`.
        let whole_row = cg == g.c && g.sw == 1 && ox >= g.pad_left && ox + g.kw - g.pad_left <= g.w;
        for ky in 0..g.kh {
            let iy = g.in_y(oy, ky);
            if whole_row {
                let dst = &mut row[ky * g.kw * cg..(ky + 1) * g.kw * cg];
                match iy {
                    Some(iy) => {
                        let src = base + (iy * g.w + ox - g.pad_left) * g.c;
                        dst.copy_from_slice(&x[src..src + g.kw * cg]);
                    }
                    None => dst.fill(0.0),
                }
                continue;
            }
            for kx in 0..g.kw {
                let dst = &mut row[(ky * g.kw + kx) * cg..(ky * g.kw + kx + 1) * cg];
                match (iy, g.in_x(ox, kx)) {
                    (Some(iy), Some(ix)) => {
                        let src = base + (iy * g.w + ix) * g.c + c0;
                        dst.copy_from_slice(&x[src..src + cg]);
                    }
                    _ => dst.fill(0.0),
                }
            }
        }
    }
}

/// Sequential [`col2im_add`] of output rows `[r0, r1)` (the adjoint of [`im2col_rows`]).
pub fn col2im_rows_add(
    cols: &[f32],
    g: &Geometry,
    c0: usize,
    cg: usize,
    r0: usize,
    r1: usize,
    dx: &mut [f32],
) {
    let k = g.kh * g.kw * cg;
    let plane = g.oh * g.ow;
    for (row, r) in cols.chunks_exact(k).zip(r0..r1) {
        let (img, p) = (r / plane, r % plane);
        let (oy, ox) = (p / g.ow, p % g.ow);
        let base = img * g.h * g.w * g.c;
        for ky in 0..g.kh {
            let Some(iy) = g.in_y(oy, ky) else { continue };
            for kx in 0..g.kw {
                let Some(ix) = g.in_x(ox, kx) else { continue };
                let src = &row[(ky * g.kw + kx) * cg..(ky * g.kw + kx + 1) * cg];
                let at = base + (iy * g.w + ix) * g.c + c0;
                for (a, b) in dx[at..at + cg].iter_mut().zip(src) {
                    *a += b;
                }
            }
        }
    }
}
