//! The whole network (`MN` in `mn_model.py`): `features` — a 3×3/2 conv + BN + hard
//! swish, the 15 inverted-residual blocks, a 1×1 conv to 6× the last width + BN + hard
//! swish — then the "mlp" `classifier`: global average pool (the embedding), linear to
//! 512, hard swish, dropout (off at inference), linear to the class logits.

use super::blocks::{hard_swish, ConvBnAct, InvertedResidual};
use super::config::{Activation, MnConfig};
use super::folded::FoldedMn;
use super::fused::FusedMn;
use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{linear, Linear, VarBuilder};
use std::sync::OnceLock;

/// What one forward pass yields.
pub struct MnOutput {
    /// `[batch, num_classes]`: AudioSet logits (sigmoid gives the tag probabilities).
    pub logits: Tensor,
    /// `[batch, embedding_dim]`: the last feature map averaged over frequency and time.
    pub embedding: Tensor,
}

pub struct Mn {
    pub cfg: MnConfig,
    pub stem: ConvBnAct,
    pub blocks: Vec<InvertedResidual>,
    pub last: ConvBnAct,
    pub hidden: Linear,
    pub out: Linear,
    /// The fused CPU inference path, built from the weights on first use (they are filled
    /// in after construction when a model file loads, and never change after: frozen).
    fused: OnceLock<FusedMn>,
    /// The folded path for other devices, built on first use for the same reason.
    folded: OnceLock<FoldedMn>,
}

impl Mn {
    /// `vb`: the checkpoint's root (`features.*`, `classifier.*`).
    pub fn new(cfg: &MnConfig, vb: VarBuilder) -> Result<Self> {
        let f = vb.pp("features");
        let hs = Some(Activation::HardSwish);
        let stem = ConvBnAct::new(1, cfg.stem_channels(), 3, 2, false, hs, f.pp("0"))?;
        let block_cfgs = cfg.blocks();
        let blocks = block_cfgs
            .iter()
            .enumerate()
            .map(|(i, b)| InvertedResidual::new(*b, f.pp((i + 1).to_string()).pp("block")))
            .collect::<Result<Vec<_>>>()?;
        let last_in = block_cfgs.last().map_or(0, |b| b.output);
        let last = ConvBnAct::new(
            last_in,
            cfg.embedding_dim(),
            1,
            1,
            false,
            hs,
            f.pp((block_cfgs.len() + 1).to_string()),
        )?;
        let c = vb.pp("classifier");
        Ok(Self {
            cfg: *cfg,
            stem,
            blocks,
            last,
            hidden: linear(cfg.embedding_dim(), cfg.hidden_dim(), c.pp("2"))?,
            out: linear(cfg.hidden_dim(), cfg.num_classes, c.pp("5"))?,
            fused: OnceLock::new(),
            folded: OnceLock::new(),
        })
    }

    /// `[batch, n_mels, frames]` log-mel windows → logits and embedding: through the
    /// fused pass on the CPU, the folded one on other devices (f32), candle's ops for
    /// other types.
    pub fn forward(&self, x: &Tensor) -> Result<MnOutput> {
        if x.dtype() != DType::F32 {
            return self.forward_candle(x);
        }
        if !x.device().is_cpu() {
            return self.forward_folded(x);
        }
        let fused = match self.fused.get() {
            Some(f) => f,
            None => {
                let f = FusedMn::new(self)?;
                self.fused.get_or_init(|| f)
            }
        };
        let embedding = x.contiguous()?.apply_op1_no_bwd(fused)?;
        let logits = self.classify(&embedding)?;
        Ok(MnOutput { logits, embedding })
    }

    /// The same with the norms folded and fused ops (`folded.rs`): the GPU's inference
    /// path, on any device (on the CPU through the ops' twins, for the tests).
    pub fn forward_folded(&self, x: &Tensor) -> Result<MnOutput> {
        let folded = match self.folded.get() {
            Some(f) => f,
            None => {
                let f = FoldedMn::new(self)?;
                self.folded.get_or_init(|| f)
            }
        };
        let embedding = folded.forward(self, x)?;
        let logits = self.classify(&embedding)?;
        Ok(MnOutput { logits, embedding })
    }

    /// The same through candle's ops (any device, differentiable).
    pub fn forward_candle(&self, x: &Tensor) -> Result<MnOutput> {
        let mut x = self.stem.forward(&x.unsqueeze(1)?)?;
        for b in &self.blocks {
            x = b.forward(&x)?;
        }
        let x = self.last.forward(&x)?;
        let embedding = x.mean((2, 3))?;
        let logits = self.classify(&embedding)?;
        Ok(MnOutput { logits, embedding })
    }

    /// The classifier on pooled embeddings `[batch, embedding_dim]`.
    pub fn classify(&self, embedding: &Tensor) -> Result<Tensor> {
        self.out
            .forward(&hard_swish(&self.hidden.forward(embedding)?)?)
    }
}
