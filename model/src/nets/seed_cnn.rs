//! The seed papers' CNN, done carefully: blocks of conv3×3 → batch norm → ReLU → 2×2
//! max-pool, then global average *and* max pooling (average alone washes out short
//! salient events such as a snare pattern), dropout, and one linear layer.
//!
//! Default `[16, 32, 64, 128]` on a 128 × 130 window (3 s at 22 050 Hz, hop 512):
//! 100 202 trainable parameters (+480 batch-norm running statistics) and 59.3 M
//! multiply-accumulates (119 MFLOP) per window — see [`SeedCnn::macs`]; the tests check
//! both figures against the built network.

use super::{Conv3x3, GenreNet, SeededDropout};
use candle_core::{Module, ModuleT, Result, Tensor};
use candle_nn::{batch_norm, linear, BatchNorm, BatchNormConfig, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedCnnConfig {
    /// Output channels of each conv block; each block halves both axes.
    pub channels: Vec<usize>,
    pub dropout: f32,
}

impl Default for SeedCnnConfig {
    fn default() -> Self {
        Self { channels: vec![16, 32, 64, 128], dropout: 0.3 }
    }
}

struct Block {
    conv: Conv3x3,
    bn: BatchNorm,
}

pub struct SeedCnn {
    blocks: Vec<Block>,
    dropout: SeededDropout,
    head: Linear,
}

impl SeedCnn {
    pub fn new(cfg: &SeedCnnConfig, n_labels: usize, vb: VarBuilder, seed: u64) -> Result<Self> {
        if cfg.channels.is_empty() {
            candle_core::bail!("seed CNN needs at least one block");
        }
        let bn_cfg = BatchNormConfig { eps: 1e-5, remove_mean: true, affine: true, momentum: 0.1 };
        let mut blocks = Vec::new();
        let mut c_in = 1;
        for (i, &c) in cfg.channels.iter().enumerate() {
            let vb = vb.pp(format!("blocks.{i}"));
            blocks.push(Block { conv: Conv3x3::new(c_in, c, vb.pp("conv"))?, bn: batch_norm(c, bn_cfg, vb.pp("bn"))? });
            c_in = c;
        }
        let head = linear(2 * c_in, n_labels, vb.pp("head"))?;
        Ok(Self { blocks, dropout: SeededDropout::new(cfg.dropout, seed), head })
    }

    /// Multiply-accumulates per window of `n_mels × frames` (convolutions and head).
    pub fn macs(cfg: &SeedCnnConfig, n_labels: usize, n_mels: usize, frames: usize) -> u64 {
        let (mut h, mut w, mut c_in, mut total) = (n_mels, frames, 1usize, 0u64);
        for &c in &cfg.channels {
            total += (h * w * c * c_in * 9) as u64;
            h /= 2;
            w /= 2;
            c_in = c;
        }
        total + (2 * c_in * n_labels) as u64
    }
}

impl GenreNet for SeedCnn {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        // Inference in chunks of 4 windows: whole-batch im2col at batch 32 made a 19 MB
        // column matrix and a 34 MB output per call that left the cache and page-faulted
        // (`cargo xtask bench`: 4.65 ms/window at batch 32 against 2.77 ms at batch 1).
        const CHUNK: usize = 4;
        let b = x.dim(0)?;
        if !train && b > CHUNK {
            let parts = (0..b).step_by(CHUNK).map(|i| self.forward_t(&x.narrow(0, i, CHUNK.min(b - i))?, false)).collect::<Result<Vec<_>>>()?;
            return Tensor::cat(&parts, 0);
        }
        let mut x = x.unsqueeze(1)?;
        for b in &self.blocks {
            x = if train { b.bn.forward_t(&b.conv.forward(&x)?, true)? } else { b.conv.forward_folded(&x, &b.bn)? };
            x = x.relu()?.max_pool2d(2)?;
        }
        let x = x.flatten_from(2)?;
        let pooled = Tensor::cat(&[x.mean(2)?, x.max(2)?], 1)?;
        self.head.forward(&self.dropout.forward_t(&pooled, train)?)
    }
}
