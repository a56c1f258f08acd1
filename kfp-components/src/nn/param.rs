//! Trainable and non-trainable tensors of a model, as the optimizer sees them.
use ndarray::ArrayD;

use super::spec::ParamRole;

/// One named tensor of a model with its gradient.
///
/// Layers own their `Param`s; the optimizer visits them in a fixed order (the order of
/// [`super::ModelSpec::param_shapes`]), so per-parameter optimizer state can be kept by
/// index.
#[derive(Debug, Clone)]
pub struct Param {
    /// `<layer>.<role>`, e.g. `conv1.weight`.
    pub name: String,
    /// What the tensor is for (decides e.g. whether it is trainable).
    pub role: ParamRole,
    /// The current value.
    pub value: ArrayD<f32>,
    /// The gradient of the loss with respect to `value`, accumulated by `backward` (same
    /// shape; all zeros for non-trainable tensors such as BatchNorm running statistics).
    pub grad: ArrayD<f32>,
}

impl Param {
    /// A parameter with the given value and a zero gradient.
    pub fn new(name: impl Into<String>, role: ParamRole, value: ArrayD<f32>) -> Self {
        let grad = ArrayD::zeros(value.raw_dim());
        Param {
            name: name.into(),
            role,
            value,
            grad,
        }
    }

    /// Whether the optimizer updates this tensor.
    pub fn trainable(&self) -> bool {
        self.role.trainable()
    }
}
