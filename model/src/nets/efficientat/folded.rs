//! The network's inference off the CPU: every batch norm folded into its convolution once,
//! then per layer one fused op or one GEMM — the stem and the depthwise convolutions as
//! [`depthwise_bias_act`] (bias and activation in the same kernel), the 1×1 convolutions as
//! batched GEMMs (cuBLAS on CUDA) followed by one [`bias_act`] or [`bias_residual`] pass,
//! and the squeeze-excitation's scale folded into the projection's weights per window (a
//! `[batch, out, in]` product, far smaller than the map it would otherwise scale). On
//! CUDA that is about ten launches per block where candle's ops took hundreds (see
//! docs/gpu.md).
//!
//! The same code runs on the CPU through the ops' Rust twins, which is how the tests hold
//! it to the fused CPU pass (`fused.rs`, what CPU users get) without a GPU; on the CPU
//! that pass stays the fast one.

use super::blocks::ConvBnAct;
use super::config::Activation;
use super::network::Mn;
use crate::fused_ops::{bias_act, bias_residual, depthwise_bias_act, Act};
use candle_core::{Result, Tensor};

fn act(a: Option<Activation>) -> Act {
    match a {
        None => Act::Identity,
        Some(Activation::Relu) => Act::Relu,
        Some(Activation::HardSwish) => Act::HardSwish,
    }
}

/// A k×k convolution whose output channels each read one input channel, norm folded.
struct Stencil {
    /// `[c_out, k, k]`.
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    act: Act,
}

impl Stencil {
    fn new(c: &ConvBnAct) -> Result<Self> {
        let (w, bias) = c.folded()?;
        Ok(Self {
            weight: w.reshape((w.dim(0)?, c.kernel, c.kernel))?.contiguous()?,
            bias,
            stride: c.stride,
            act: act(c.activation),
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        depthwise_bias_act(x, &self.weight, &self.bias, self.stride, self.act)
    }
}

/// A 1×1 convolution, norm folded: `weight` `[c_out, c_in]`.
struct Pointwise {
    weight: Tensor,
    bias: Tensor,
    act: Act,
}

impl Pointwise {
    fn new(c: &ConvBnAct) -> Result<Self> {
        let (w, bias) = c.folded()?;
        Ok(Self {
            weight: w.reshape((w.dim(0)?, w.dim(1)?))?.contiguous()?,
            bias,
            act: act(c.activation),
        })
    }

    /// `weight` (`[c_out, c_in]`, or per window `[batch, c_out, c_in]`) times each
    /// window's `[c_in, h·w]` map, as one batched GEMM.
    fn gemm(weight: &Tensor, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let x = x.reshape((b, c, h * w))?;
        let weight = match weight.rank() {
            2 => weight.unsqueeze(0)?.broadcast_as((b, weight.dim(0)?, c))?,
            _ => weight.clone(),
        };
        let y = weight.matmul(&x)?;
        y.reshape((b, y.dim(1)?, h, w))
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        bias_act(&Self::gemm(&self.weight, x)?, &self.bias, self.act)
    }
}

struct Block {
    expand: Option<Pointwise>,
    depthwise: Stencil,
    project: Pointwise,
    residual: bool,
}

/// `[batch, n_mels, frames]` → the pooled embedding `[batch, embedding_dim]`; the
/// weights stay on the network's device.
pub(super) struct FoldedMn {
    stem: Stencil,
    blocks: Vec<Block>,
    last: Pointwise,
}

impl FoldedMn {
    pub fn new(net: &Mn) -> Result<Self> {
        let blocks = net
            .blocks
            .iter()
            .map(|b| {
                Ok(Block {
                    expand: b.expand.as_ref().map(Pointwise::new).transpose()?,
                    depthwise: Stencil::new(&b.depthwise)?,
                    project: Pointwise::new(&b.project)?,
                    residual: b.cfg.residual(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            stem: Stencil::new(&net.stem)?,
            blocks,
            last: Pointwise::new(&net.last)?,
        })
    }

    /// `net` must be the network this was folded from: its squeeze-excitations, which
    /// hold no norm to fold, run as they are.
    pub fn forward(&self, net: &Mn, x: &Tensor) -> Result<Tensor> {
        let mut x = self.stem.forward(&x.unsqueeze(1)?)?;
        for (b, nb) in self.blocks.iter().zip(&net.blocks) {
            let input = x;
            let mut y = match &b.expand {
                Some(e) => e.forward(&input)?,
                None => input.clone(),
            };
            y = b.depthwise.forward(&y)?;
            let weight = match &nb.se {
                Some(se) => {
                    // W·diag(s) per window: [1, out, in] × [batch, 1, in].
                    let s = se.scale(&y)?.unsqueeze(1)?;
                    b.project.weight.unsqueeze(0)?.broadcast_mul(&s)?
                }
                None => b.project.weight.clone(),
            };
            let p = Pointwise::gemm(&weight, &y)?;
            x = if b.residual {
                bias_residual(&p, &b.project.bias, &input)?
            } else {
                bias_act(&p, &b.project.bias, Act::Identity)?
            };
        }
        self.last.forward(&x)?.mean((2, 3))
    }
}
