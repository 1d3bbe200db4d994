//! A convolutional recurrent network after Choi, Fazekas, Sandler & Cho, "Convolutional
//! recurrent neural networks for music classification" (ICASSP 2017): conv blocks that
//! pool the frequency axis away, then a two-layer GRU over the remaining time steps, then
//! dense → labels. The fifth seed paper reports a CRNN of this kind at 86.7 % on GTZAN.
//!
//! Choi's input is 29 s (96 mel bands at 12 kHz, hop 256: 1 366 frames) and his pools
//! (2×2, 3×3, 4×4, 4×4) leave 15 time steps. Here the window is 3 s like every model's
//! (96 × 141 on Choi's front end), so the pools are (2×2, 3×2, 4×2, 4×2): frequency still
//! goes 96 → 1 as in the paper, and time 141 → 8 steps for the GRU. Also assumed: each
//! block is conv 3×3 ("same") → batch norm → ELU → max-pool → dropout 0.1 (Choi's), with
//! 32, 64, 64, 64 channels and GRUs of 32 units (between Choi's 0.1 M- and 0.4 M-parameter
//! settings, chosen for CPU training time); the last GRU step's state → dropout 0.3 →
//! dense → labels; windows standardised like every other model's here.
//!
//! Parameters at 96 × 141: 92 672 in the convolutions + 448 batch-norm scales and shifts +
//! 9 408 + 6 336 in the GRUs + 330 = 109 194 (a test checks the count).

use super::{ConvSame, SeededDropout};
use crate::net::GenreNet;
use candle_core::{Module, ModuleT, Result, Tensor};
use candle_nn::rnn::{gru, GRUConfig, GRU, RNN};
use candle_nn::{batch_norm, linear, BatchNorm, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrnnConfig {
    /// The window the network is built for (the pools must take `n_mels` to 1).
    pub n_mels: usize,
    pub frames: usize,
    pub channels: Vec<usize>,
    /// (mel, time) max-pool of each block, one per entry of `channels`.
    pub pools: Vec<(usize, usize)>,
    pub conv_dropout: f32,
    /// Units of each GRU layer.
    pub gru: Vec<usize>,
    pub dropout: f32,
}

impl Default for CrnnConfig {
    fn default() -> Self {
        Self {
            n_mels: 96,
            frames: 141,
            channels: vec![32, 64, 64, 64],
            pools: vec![(2, 2), (3, 2), (4, 2), (4, 2)],
            conv_dropout: 0.1,
            gru: vec![32, 32],
            dropout: 0.3,
        }
    }
}

struct Block {
    conv: ConvSame,
    bn: BatchNorm,
    pool: (usize, usize),
    dropout: SeededDropout,
}

pub struct Crnn {
    blocks: Vec<Block>,
    grus: Vec<GRU>,
    dropout: SeededDropout,
    out: Linear,
}

impl Crnn {
    pub fn new(cfg: &CrnnConfig, n_labels: usize, vb: VarBuilder, seed: u64) -> Result<Self> {
        if cfg.channels.is_empty() || cfg.pools.len() != cfg.channels.len() || cfg.gru.is_empty() {
            candle_core::bail!("crnn needs one pool per conv block and at least one GRU");
        }
        let (h, w) = cfg
            .pools
            .iter()
            .fold((cfg.n_mels, cfg.frames), |(h, w), (ph, pw)| {
                (h / ph, w / pw)
            });
        if h != 1 || w == 0 {
            candle_core::bail!(
                "crnn's pools must take the {} mel bands to 1 and leave time steps; they leave {h} × {w}",
                cfg.n_mels
            );
        }
        let mut blocks = Vec::new();
        let mut c_in = 1;
        for (i, (&c, &pool)) in cfg.channels.iter().zip(&cfg.pools).enumerate() {
            let vb = vb.pp(format!("blocks.{i}"));
            blocks.push(Block {
                conv: ConvSame::new(c_in, c, (3, 3), vb.pp("conv"))?,
                bn: batch_norm(c, super::seed_4block::bn_config(), vb.pp("bn"))?,
                pool,
                dropout: SeededDropout::new(cfg.conv_dropout, seed.wrapping_add(i as u64)),
            });
            c_in = c;
        }
        let mut grus = Vec::new();
        for (i, &units) in cfg.gru.iter().enumerate() {
            grus.push(gru(
                c_in,
                units,
                GRUConfig::default(),
                vb.pp(format!("gru.{i}")),
            )?);
            c_in = units;
        }
        Ok(Self {
            blocks,
            grus,
            dropout: SeededDropout::new(cfg.dropout, seed.wrapping_add(99)),
            out: linear(c_in, n_labels, vb.pp("out"))?,
        })
    }
}

impl GenreNet for Crnn {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut x = x.unsqueeze(1)?;
        for b in &self.blocks {
            let y = b.bn.forward_t(&b.conv.forward(&x)?, train)?.elu(1.0)?;
            x = b
                .dropout
                .forward_t(&y.max_pool2d_with_stride(b.pool, b.pool)?, train)?;
        }
        // [batch, channels, 1, steps] → [batch, steps, channels]
        let mut seq = x.squeeze(2)?.transpose(1, 2)?.contiguous()?;
        for g in &self.grus {
            let states = g.seq(&seq)?;
            seq = g
                .states_to_tensor(&states)?
                .reshape((seq.dim(0)?, states.len(), ()))?;
        }
        let last = seq.narrow(1, seq.dim(1)? - 1, 1)?.squeeze(1)?;
        self.out.forward(&self.dropout.forward_t(&last, train)?)
    }
}
