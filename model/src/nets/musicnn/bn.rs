//! TensorFlow 1's inference batch norm (`epsilon = 0.001`), kept under TF's own parameter
//! names so a reader can match every tensor to musicnn's checkpoint. musicnn works
//! channel-last (`[batch, time, channels]`), so the norm acts on the last axis.

use candle_core::{Result, Tensor};
use candle_nn::{Init, VarBuilder};

/// TF1's `batch_normalization` default epsilon, which musicnn never overrides.
pub const TF_EPS: f64 = 1e-3;

pub struct TfBatchNorm {
    gamma: Tensor,
    beta: Tensor,
    mean: Tensor,
    var: Tensor,
}

impl TfBatchNorm {
    pub fn new(c: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            gamma: vb.get_with_hints(c, "gamma", Init::Const(1.0))?,
            beta: vb.get_with_hints(c, "beta", Init::Const(0.0))?,
            mean: vb.get_with_hints(c, "moving_mean", Init::Const(0.0))?,
            var: vb.get_with_hints(c, "moving_variance", Init::Const(1.0))?,
        })
    }

    /// The norm as `x·scale + shift`. Computed per call rather than cached because the
    /// variables are filled in after construction when a model file loads (the cost is a
    /// few vectors of at most 1 506 values).
    pub fn scale_shift(&self) -> Result<(Tensor, Tensor)> {
        let scale = (&self.gamma / (&self.var + TF_EPS)?.sqrt()?)?;
        let shift = (&self.beta - (&self.mean * &scale)?)?;
        Ok((scale, shift))
    }

    /// Normalises the last axis of `x`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (scale, shift) = self.scale_shift()?;
        x.broadcast_mul(&scale)?.broadcast_add(&shift)
    }

    /// `max_f bn(relu(z_f))` from `max_f z` and `min_f z`: the norm is an affine map per
    /// channel, so this is `bn(relu(max z))` where the channel's scale is ≥ 0 and
    /// `bn(relu(min z))` where it is negative. The ReLU and the norm then run on the
    /// frequency-pooled tensor, 59 to 96 times smaller than the feature map.
    pub fn relu_bn_of_max(&self, zmax: &Tensor, zmin: &Tensor) -> Result<Tensor> {
        let (scale, shift) = self.scale_shift()?;
        let positive = scale.ge(0f32)?.broadcast_as(zmax.shape())?;
        let picked = positive.where_cond(zmax, zmin)?;
        picked.relu()?.broadcast_mul(&scale)?.broadcast_add(&shift)
    }
}
