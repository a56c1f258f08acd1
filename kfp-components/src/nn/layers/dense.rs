//! Fully connected layer: `y = x W + b`, kernel `[in, out]`.
use super::super::error::NnError;
use super::super::gemm::{MatMut, MatRef, gemm};
use super::super::param::Param;
use super::super::spec::ParamRole;
use super::conv::{no_forward, not_contiguous};
use super::{Act, BufferPool, Ctx, column_sums_into};

/// A dense layer.
#[derive(Debug)]
pub struct Dense {
    inputs: usize,
    units: usize,
    /// `[in, out]` kernel.
    pub weight: Param,
    /// Bias.
    pub bias: Option<Param>,
    saved: Option<Vec<f32>>,
    saved_n: usize,
}

impl Dense {
    /// A layer from `inputs` features to `units`; weights zero until initialised.
    pub fn new(name: &str, inputs: usize, units: usize, bias: bool) -> Dense {
        Dense {
            inputs,
            units,
            weight: Param::new(
                format!("{name}.weight"),
                ParamRole::Weight,
                ndarray::ArrayD::zeros(vec![inputs, units]),
            ),
            bias: bias.then(|| {
                Param::new(
                    format!("{name}.bias"),
                    ParamRole::Bias,
                    ndarray::ArrayD::zeros(vec![units]),
                )
            }),
            saved: None,
            saved_n: 0,
        }
    }

    /// weight, then bias.
    pub fn params(&self) -> impl Iterator<Item = &Param> {
        std::iter::once(&self.weight).chain(self.bias.as_ref())
    }

    /// Mutable access, same order.
    pub fn params_mut(&mut self) -> impl Iterator<Item = &mut Param> {
        std::iter::once(&mut self.weight).chain(self.bias.as_mut())
    }

    /// Frees what backward needed.
    pub fn release(&mut self, pool: &mut BufferPool) {
        if let Some(v) = self.saved.take() {
            pool.give(v);
        }
    }

    /// Forward pass.
    pub fn forward(&mut self, x: Act, ctx: &mut Ctx<'_>) -> Result<Act, NnError> {
        if x.per_example() != self.inputs {
            return Err(NnError::Shape {
                what: format!("input of dense `{}`", self.weight.name),
                expected: vec![0, self.inputs],
                got: vec![x.n, x.per_example()],
            });
        }
        self.release(ctx.pool);
        let n = x.n;
        let mut y = vec![0.0f32; n * self.units];
        if let Some(b) = &self.bias {
            let b = b
                .value
                .as_slice()
                .ok_or_else(|| not_contiguous(&self.weight.name))?;
            for row in y.chunks_exact_mut(self.units) {
                row.copy_from_slice(b);
            }
        }
        let w = self
            .weight
            .value
            .as_slice()
            .ok_or_else(|| not_contiguous(&self.weight.name))?;
        gemm(
            1.0,
            MatRef::row_major(&x.data, n, self.inputs),
            MatRef::row_major(w, self.inputs, self.units),
            if self.bias.is_some() { 1.0 } else { 0.0 },
            MatMut::row_major(&mut y, n, self.units),
        )?;
        if ctx.train {
            self.saved = Some(x.data);
            self.saved_n = n;
        } else {
            ctx.pool.give(x.data);
        }
        Act::new(y, n, 1, 1, self.units)
    }

    /// Backward pass.
    pub fn backward(
        &mut self,
        dy: Act,
        need_dx: bool,
        pool: &mut BufferPool,
    ) -> Result<Option<Act>, NnError> {
        let Some(mut x) = self.saved.take() else {
            return Err(no_forward(&self.weight.name));
        };
        let n = self.saved_n;
        if dy.n != n || dy.per_example() != self.units {
            return Err(NnError::Shape {
                what: format!("output gradient of dense `{}`", self.weight.name),
                expected: vec![n, self.units],
                got: vec![dy.n, dy.per_example()],
            });
        }
        if let Some(b) = &mut self.bias {
            let gb = b
                .grad
                .as_slice_mut()
                .ok_or_else(|| not_contiguous(&self.weight.name))?;
            column_sums_into(&dy.data, self.units, gb);
        }
        let gw = self
            .weight
            .grad
            .as_slice_mut()
            .ok_or_else(|| not_contiguous(&self.weight.name))?;
        gemm(
            1.0,
            MatRef::row_major(&x, n, self.inputs).t(),
            MatRef::row_major(&dy.data, n, self.units),
            1.0,
            MatMut::row_major(gw, self.inputs, self.units),
        )?;
        if !need_dx {
            pool.give(x);
            return Ok(None);
        }
        let w = self
            .weight
            .value
            .as_slice()
            .ok_or_else(|| not_contiguous(&self.weight.name))?;
        gemm(
            1.0,
            MatRef::row_major(&dy.data, n, self.units),
            MatRef::row_major(w, self.inputs, self.units).t(),
            0.0,
            MatMut::row_major(&mut x, n, self.inputs),
        )?;
        Act::new(x, n, 1, 1, self.inputs).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Layer;
    use super::super::testutil::{act, check_layer, randomize};
    use super::*;

    #[test]
    fn gradients_match_finite_differences() {
        for (n, inputs, units, bias) in [(1, 3, 2, true), (4, 7, 5, true), (3, 6, 4, false)] {
            let mut layer = Layer::Dense(Dense::new("fc", inputs, units, bias));
            randomize(&mut layer, 5, 0.5);
            check_layer(
                &mut layer,
                act(n, 1, 1, inputs, 6),
                &format!("dense {inputs}->{units}"),
            );
        }
    }
}
