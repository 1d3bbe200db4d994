//! The two-block CNN of the first seed paper, as its layer list gives it: on 64 mel bands
//! × 3 s, conv 3×3 × 64 (valid) → ReLU → max-pool 2×4 → dropout 0.2; conv 3×5 × 64 (valid)
//! → ReLU → max-pool 2×4 → dropout 0.2; flatten → dense 32 → dropout → ReLU; dense → labels.
//!
//! Where the paper is silent (assumptions, also in the README's zoo notes):
//! - pools and kernels are (mel × time): "2×4" pools 2 bands and 4 frames;
//! - the front end is the seed papers' (22 050 Hz, n_fft 2048, hop 512, dB) with 64 mel
//!   bands, so a 3-s window is 64 × 130 and the dense input is 64 × 14 × 7 = 6 272;
//! - the dense layer's dropout is 0.2, like the conv blocks' (the paper gives no rate);
//! - windows are standardised like every other model's here.
//!
//! Parameters at 64 × 130: 640 + 61 504 + 200 736 + 330 = 263 210 (a test checks it).

use super::{ConvSame, SeededDropout};
use crate::net::GenreNet;
use candle_core::{Module, Result, Tensor};
use candle_nn::{linear, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seed2BlockConfig {
    /// The window the network is built for (the dense layer's input follows from it).
    pub n_mels: usize,
    pub frames: usize,
    pub channels: usize,
    pub dense: usize,
    pub dropout: f32,
}

impl Default for Seed2BlockConfig {
    fn default() -> Self {
        Self {
            n_mels: 64,
            frames: 130,
            channels: 64,
            dense: 32,
            dropout: 0.2,
        }
    }
}

impl Seed2BlockConfig {
    /// `(mels, frames)` after both conv + pool stages.
    fn pooled(&self) -> (usize, usize) {
        let (h, w) = ((self.n_mels - 2) / 2, (self.frames - 2) / 4);
        ((h.saturating_sub(2)) / 2, (w.saturating_sub(4)) / 4)
    }
}

pub struct Seed2Block {
    conv1: ConvSame,
    conv2: ConvSame,
    dense: Linear,
    out: Linear,
    drop: [SeededDropout; 3],
}

impl Seed2Block {
    pub fn new(cfg: &Seed2BlockConfig, n_labels: usize, vb: VarBuilder, seed: u64) -> Result<Self> {
        let (h, w) = cfg.pooled();
        if h == 0 || w == 0 {
            candle_core::bail!(
                "a {}×{} window vanishes in seed-2block's pools",
                cfg.n_mels,
                cfg.frames
            );
        }
        let c = cfg.channels;
        Ok(Self {
            conv1: ConvSame::new(1, c, (3, 3), vb.pp("conv1"))?,
            conv2: ConvSame::new(c, c, (3, 5), vb.pp("conv2"))?,
            dense: linear(c * h * w, cfg.dense, vb.pp("dense"))?,
            out: linear(cfg.dense, n_labels, vb.pp("out"))?,
            drop: [0, 1, 2].map(|i| SeededDropout::new(cfg.dropout, seed.wrapping_add(i))),
        })
    }
}

impl GenreNet for Seed2Block {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let x = x.unsqueeze(1)?;
        let x = self.conv1.forward_valid(&x)?.relu()?;
        let x = x.max_pool2d_with_stride((2, 4), (2, 4))?;
        let x = self.drop[0].forward_t(&x, train)?;
        let x = self.conv2.forward_valid(&x)?.relu()?;
        let x = x.max_pool2d_with_stride((2, 4), (2, 4))?;
        let x = self.drop[1].forward_t(&x, train)?.flatten_from(1)?;
        let x = self.dense.forward(&x)?;
        let x = self.drop[2].forward_t(&x, train)?.relu()?;
        self.out.forward(&x)
    }
}
