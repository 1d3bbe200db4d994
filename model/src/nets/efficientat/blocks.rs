//! The network's units, under the checkpoint's names: torchvision's `ConvNormActivation`
//! (conv without bias → batch norm, ε = 0.001 → activation; `<i>.0` the conv, `<i>.1` the
//! norm) and EfficientAT's `InvertedResidual` (`block.<i>`: 1×1 expansion where it
//! widens, k×k depthwise, squeeze-excitation where configured, 1×1 projection without
//! activation, the input added back where the shapes allow).

use super::config::{Activation, BlockConfig};
use super::se::SqueezeExcitation;
use candle_core::{Result, Tensor};
use candle_nn::{batch_norm, BatchNorm, BatchNormConfig, ModuleT, VarBuilder};

/// EfficientAT's batch-norm ε (`partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)`).
pub const BN_EPS: f64 = 1e-3;

/// `x · relu6(x + 3) / 6`, in the order PyTorch's kernel evaluates it.
pub fn hard_swish(x: &Tensor) -> Result<Tensor> {
    (x * (x + 3.0)?.clamp(0f32, 6f32)?)? / 6.0
}

fn activate(x: Tensor, act: Option<Activation>) -> Result<Tensor> {
    match act {
        None => Ok(x),
        Some(Activation::Relu) => x.relu(),
        Some(Activation::HardSwish) => hard_swish(&x),
    }
}

/// Conv (no bias) → batch norm → activation. The conv is either dense (`groups = 1`,
/// any kernel) or depthwise (one filter per channel).
pub struct ConvBnAct {
    /// `[out, in / groups, k, k]`, PyTorch's layout.
    pub weight: Tensor,
    pub bn: BatchNorm,
    pub activation: Option<Activation>,
    pub kernel: usize,
    pub stride: usize,
    pub depthwise: bool,
}

impl ConvBnAct {
    pub fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        depthwise: bool,
        activation: Option<Activation>,
        vb: VarBuilder,
    ) -> Result<Self> {
        let per_group = if depthwise { 1 } else { c_in };
        let weight = vb.get((c_out, per_group, kernel, kernel), "0.weight")?;
        let bn_cfg = BatchNormConfig {
            eps: BN_EPS,
            ..Default::default()
        };
        Ok(Self {
            weight,
            bn: batch_norm(c_out, bn_cfg, vb.pp("1"))?,
            activation,
            kernel,
            stride,
            depthwise,
        })
    }

    /// "Same" padding for odd kernels, as `ConvNormActivation` pads: `(k − 1) / 2`.
    pub fn padding(&self) -> usize {
        (self.kernel - 1) / 2
    }

    /// `[b, c_in, h, w]` → `[b, c_out, h', w']`, in inference mode (running statistics).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = if self.depthwise {
            depthwise_conv(x, &self.weight, self.stride, self.padding())?
        } else {
            x.conv2d(&self.weight, self.padding(), self.stride, 1, 1)?
        };
        activate(self.bn.forward_t(&y, false)?, self.activation)
    }

    /// The norm folded into the conv: `(weight · s, shift)` per output channel with
    /// `s = γ / √(σ² + ε)`, `shift = β − μ·s`.
    pub fn folded(&self) -> Result<(Tensor, Tensor)> {
        let (gamma, beta) = self
            .bn
            .weight_and_bias()
            .ok_or_else(|| candle_core::Error::Msg("batch norm without affine".into()))?;
        let s = (gamma / (self.bn.running_var() + BN_EPS)?.sqrt()?)?;
        let shift = (beta - (self.bn.running_mean() * &s)?)?;
        let w = self
            .weight
            .broadcast_mul(&s.reshape((s.dim(0)?, 1, 1, 1))?)?;
        Ok((w, shift))
    }
}

/// A depthwise convolution (`groups = channels`) as a sum of `k²` shifted, strided views
/// of the zero-padded input, each scaled by its tap per channel. candle runs a grouped
/// `conv2d` as one convolution per group (hundreds per layer here); this is `k²` broadcast
/// multiply-adds whatever the width, on any device, and differentiable.
pub fn depthwise_conv(x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> Result<Tensor> {
    let (b, c, h, wd) = x.dims4()?;
    let k = w.dim(2)?;
    let (ho, wo) = (
        (h + 2 * pad - k) / stride + 1,
        (wd + 2 * pad - k) / stride + 1,
    );
    // Each tap reads `stride · out` rows from its offset: pad the far side that far.
    let extra_h = (k - 1 + stride * ho).saturating_sub(h + 2 * pad);
    let extra_w = (k - 1 + stride * wo).saturating_sub(wd + 2 * pad);
    let xp = x
        .pad_with_zeros(2, pad, pad + extra_h)?
        .pad_with_zeros(3, pad, pad + extra_w)?;
    let mut acc: Option<Tensor> = None;
    for dy in 0..k {
        for dx in 0..k {
            let mut tap = xp.narrow(2, dy, stride * ho)?.narrow(3, dx, stride * wo)?;
            if stride > 1 {
                tap = tap
                    .reshape((b, c, ho, stride, wo, stride))?
                    .narrow(3, 0, 1)?
                    .narrow(5, 0, 1)?
                    .reshape((b, c, ho, wo))?;
            }
            let wk = w
                .narrow(2, dy, 1)?
                .narrow(3, dx, 1)?
                .reshape((1, c, 1, 1))?;
            let term = tap.broadcast_mul(&wk)?;
            acc = Some(match acc {
                None => term,
                Some(a) => (a + term)?,
            });
        }
    }
    acc.ok_or_else(|| candle_core::Error::Msg("empty depthwise kernel".into()))
}

/// One inverted-residual block (`features.<n>.block.*`).
pub struct InvertedResidual {
    pub cfg: BlockConfig,
    pub expand: Option<ConvBnAct>,
    pub depthwise: ConvBnAct,
    pub se: Option<SqueezeExcitation>,
    pub project: ConvBnAct,
}

impl InvertedResidual {
    /// `vb`: the block's `features.<n>.block` prefix.
    pub fn new(cfg: BlockConfig, vb: VarBuilder) -> Result<Self> {
        let mut i = 0;
        let mut next = || {
            i += 1;
            vb.pp((i - 1).to_string())
        };
        let act = Some(cfg.activation);
        let expand = if cfg.expands() {
            Some(ConvBnAct::new(
                cfg.input,
                cfg.expanded,
                1,
                1,
                false,
                act,
                next(),
            )?)
        } else {
            None
        };
        let depthwise = ConvBnAct::new(
            cfg.expanded,
            cfg.expanded,
            cfg.kernel,
            cfg.stride,
            true,
            act,
            next(),
        )?;
        let se = match cfg.se {
            Some(squeeze) => Some(SqueezeExcitation::new(cfg.expanded, squeeze, next())?),
            None => None,
        };
        let project = ConvBnAct::new(cfg.expanded, cfg.output, 1, 1, false, None, next())?;
        Ok(Self {
            cfg,
            expand,
            depthwise,
            se,
            project,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = match &self.expand {
            Some(e) => e.forward(x)?,
            None => x.clone(),
        };
        y = self.depthwise.forward(&y)?;
        if let Some(se) = &self.se {
            y = se.forward(&y)?;
        }
        y = self.project.forward(&y)?;
        if self.cfg.residual() {
            y = (y + x)?;
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn depthwise_equals_candles_grouped_conv() -> Result<()> {
        let dev = Device::Cpu;
        for (k, stride, h, w) in [(3, 1, 9, 12), (3, 2, 9, 12), (5, 2, 16, 15), (5, 1, 7, 8)] {
            let c = 6;
            let x = Tensor::randn(0f32, 1.0, (2, c, h, w), &dev)?;
            let wt = Tensor::randn(0f32, 1.0, (c, 1, k, k), &dev)?;
            let pad = (k - 1) / 2;
            let want = x.conv2d(&wt, pad, stride, 1, c)?;
            let got = depthwise_conv(&x, &wt, stride, pad)?;
            assert_eq!(got.dims(), want.dims(), "k {k} stride {stride} {h}×{w}");
            let diff = (got - want)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(diff < 1e-5, "k {k} stride {stride} {h}×{w}: {diff}");
        }
        Ok(())
    }

    #[test]
    fn hard_swish_is_pytorchs() -> Result<()> {
        let x = Tensor::new(&[-4f32, -3.0, -1.5, 0.0, 1.0, 3.0, 5.0], &Device::Cpu)?;
        let y = hard_swish(&x)?.to_vec1::<f32>()?;
        assert_eq!(y, [0.0, 0.0, -0.375, 0.0, 1.0 * 4.0 / 6.0, 3.0, 5.0]);
        Ok(())
    }
}
