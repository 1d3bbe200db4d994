//! The four-block CNN of the seed paper that reported 71 %: conv 3×3 → batch norm → ReLU →
//! max-pool 2×2 → dropout, with 32, 64, 128 and 256 channels and dropout 0.2, 0.3, 0.3,
//! 0.4; flatten → dense 512 → batch norm → ReLU → dropout 0.5 → dense → labels, on 5-s
//! segments of 128 mel bands.
//!
//! The paper resized each spectrogram to a 256 × 256 image. That is an image-model habit:
//! resizing interpolates between mel bands and between frames (inventing values that no
//! analysis produced), stretches time by a different factor for every clip length, and
//! quadruples the convolutions' cost. Here the network takes the 5-s window as the front
//! end makes it, 128 bands × 216 frames (22 050 Hz, n_fft 2048, hop 512), and the dense
//! layer's input follows from that: 256 × 8 × 13 = 26 624.
//!
//! Other assumptions (the paper is silent): "same" padding; ReLU after the dense layer's
//! batch norm; windows standardised like every other model's here.
//!
//! Parameters at 128 × 216: 387 840 in the convolutions, 960 batch-norm scales and shifts,
//! and 13 632 000 + 1 024 + 5 130 in the dense layers: 14 026 954, 97 % of them in the
//! first dense layer (a test checks the count).

use super::{ConvSame, SeededDropout};
use crate::net::GenreNet;
use candle_core::{Module, ModuleT, Result, Tensor};
use candle_nn::{batch_norm, linear, BatchNorm, BatchNormConfig, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seed4BlockConfig {
    /// The window the network is built for (the dense layer's input follows from it).
    pub n_mels: usize,
    pub frames: usize,
    pub channels: Vec<usize>,
    /// Dropout after each block, one per entry of `channels`.
    pub block_dropout: Vec<f32>,
    pub dense: usize,
    pub dense_dropout: f32,
}

impl Default for Seed4BlockConfig {
    fn default() -> Self {
        Self {
            n_mels: 128,
            frames: 216,
            channels: vec![32, 64, 128, 256],
            block_dropout: vec![0.2, 0.3, 0.3, 0.4],
            dense: 512,
            dense_dropout: 0.5,
        }
    }
}

struct Block {
    conv: ConvSame,
    bn: BatchNorm,
    dropout: SeededDropout,
}

pub struct Seed4Block {
    blocks: Vec<Block>,
    dense: Linear,
    dense_bn: BatchNorm,
    dense_dropout: SeededDropout,
    out: Linear,
}

/// PyTorch's and Keras's batch-norm defaults as candle spells them.
pub(super) fn bn_config() -> BatchNormConfig {
    BatchNormConfig {
        eps: 1e-5,
        remove_mean: true,
        affine: true,
        momentum: 0.1,
    }
}

impl Seed4Block {
    pub fn new(cfg: &Seed4BlockConfig, n_labels: usize, vb: VarBuilder, seed: u64) -> Result<Self> {
        let pools = cfg.channels.len() as u32;
        let (h, w) = (cfg.n_mels >> pools, cfg.frames >> pools);
        if cfg.channels.is_empty() || cfg.block_dropout.len() != cfg.channels.len() {
            candle_core::bail!("seed-4block needs one dropout rate per block");
        }
        if h == 0 || w == 0 {
            candle_core::bail!(
                "a {}×{} window vanishes in {pools} 2×2 pools",
                cfg.n_mels,
                cfg.frames
            );
        }
        let mut blocks = Vec::new();
        let mut c_in = 1;
        for (i, (&c, &p)) in cfg.channels.iter().zip(&cfg.block_dropout).enumerate() {
            let vb = vb.pp(format!("blocks.{i}"));
            blocks.push(Block {
                conv: ConvSame::new(c_in, c, (3, 3), vb.pp("conv"))?,
                bn: batch_norm(c, bn_config(), vb.pp("bn"))?,
                dropout: SeededDropout::new(p, seed.wrapping_add(i as u64)),
            });
            c_in = c;
        }
        Ok(Self {
            blocks,
            dense: linear(c_in * h * w, cfg.dense, vb.pp("dense"))?,
            dense_bn: batch_norm(cfg.dense, bn_config(), vb.pp("dense_bn"))?,
            dense_dropout: SeededDropout::new(cfg.dense_dropout, seed.wrapping_add(99)),
            out: linear(cfg.dense, n_labels, vb.pp("out"))?,
        })
    }
}

impl GenreNet for Seed4Block {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut x = x.unsqueeze(1)?;
        for b in &self.blocks {
            let y = if train {
                b.bn.forward_t(&b.conv.forward(&x)?, true)?
            } else {
                b.conv.forward_folded(&x, &b.bn)?
            };
            x = b.dropout.forward_t(&y.relu()?.max_pool2d(2)?, train)?;
        }
        let x = self.dense.forward(&x.flatten_from(1)?)?;
        let x = self.dense_bn.forward_t(&x, train)?.relu()?;
        self.out.forward(&self.dense_dropout.forward_t(&x, train)?)
    }
}
