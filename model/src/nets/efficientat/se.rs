//! Channel squeeze-excitation (Hu et al. 2018) as EfficientAT's `SqueezeExcitation`
//! builds it in `mn_block_types.py`: mean over frequency and time, a linear bottleneck with
//! ReLU, a linear layer back and a *sigmoid* (not MobileNetV3's hard sigmoid), the
//! result scaling each channel. `ConcurrentSEBlock` wraps it (`conc_se_layers.0`); with
//! channel SE alone its `max` aggregation is over one tensor, the identity.

use candle_core::{Module, Result, Tensor};
use candle_nn::{linear, Linear, VarBuilder};

pub struct SqueezeExcitation {
    fc1: Linear,
    fc2: Linear,
}

impl SqueezeExcitation {
    /// `vb`: the `ConcurrentSEBlock`'s prefix.
    pub fn new(channels: usize, squeeze: usize, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("conc_se_layers").pp("0");
        Ok(Self {
            fc1: linear(channels, squeeze, vb.pp("fc1"))?,
            fc2: linear(squeeze, channels, vb.pp("fc2"))?,
        })
    }

    /// The per-channel scale, `[batch, channels]`, for a `[batch, channels, f, t]` map.
    pub fn scale(&self, x: &Tensor) -> Result<Tensor> {
        let s = x.mean((2, 3))?;
        let s = self.fc1.forward(&s)?.relu()?;
        candle_nn::ops::sigmoid(&self.fc2.forward(&s)?)
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let s = self.scale(x)?.unsqueeze(2)?.unsqueeze(3)?;
        x.broadcast_mul(&s)
    }

    /// `(fc1 weight [squeeze, channels], fc1 bias, fc2 weight [channels, squeeze], fc2
    /// bias)`, for the fused CPU path.
    pub fn weights(&self) -> (&Tensor, Option<&Tensor>, &Tensor, Option<&Tensor>) {
        (
            self.fc1.weight(),
            self.fc1.bias(),
            self.fc2.weight(),
            self.fc2.bias(),
        )
    }
}
