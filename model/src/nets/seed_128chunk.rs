//! The small CNN of the seed paper that cut every spectrogram into 128 × 128 chunks
//! (128 mel bands × 128 frames at n_fft 2048, hop 512: 2.97 s) and reported 82 % on a
//! split of those chunks — a split in which chunks of one song sit on both sides, which
//! `cargo xtask zoo` measures.
//!
//! The paper describes "a small CNN" of stacked convolution and pooling layers and a dense
//! classifier without listing every size, so these are assumptions (also in the README's
//! zoo notes): four blocks of conv 3×3 ("same") → ReLU → max-pool 2×2 with 8, 16, 32 and
//! 64 channels (128 → 8 in each axis), flatten (64 × 8 × 8 = 4 096) → dense 64 → ReLU →
//! dropout 0.5 → dense → labels; no batch norm (the paper names none); windows
//! standardised like every other model's here.
//!
//! Parameters at 128 × 128: 24 384 in the convolutions + 262 208 + 650 = 287 242 (a test
//! checks it); 15 M multiply-accumulates per chunk.

use super::{ConvSame, SeededDropout};
use crate::net::GenreNet;
use candle_core::{Module, Result, Tensor};
use candle_nn::{linear, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seed128ChunkConfig {
    /// The chunk the network is built for (the dense layer's input follows from it).
    pub n_mels: usize,
    pub frames: usize,
    pub channels: Vec<usize>,
    pub dense: usize,
    pub dropout: f32,
}

impl Default for Seed128ChunkConfig {
    fn default() -> Self {
        Self {
            n_mels: 128,
            frames: 128,
            channels: vec![8, 16, 32, 64],
            dense: 64,
            dropout: 0.5,
        }
    }
}

pub struct Seed128Chunk {
    convs: Vec<ConvSame>,
    dense: Linear,
    out: Linear,
    dropout: SeededDropout,
}

impl Seed128Chunk {
    pub fn new(
        cfg: &Seed128ChunkConfig,
        n_labels: usize,
        vb: VarBuilder,
        seed: u64,
    ) -> Result<Self> {
        let pools = cfg.channels.len() as u32;
        let (h, w) = (cfg.n_mels >> pools, cfg.frames >> pools);
        if cfg.channels.is_empty() || h == 0 || w == 0 {
            candle_core::bail!(
                "a {}×{} chunk vanishes in {pools} 2×2 pools",
                cfg.n_mels,
                cfg.frames
            );
        }
        let mut convs = Vec::new();
        let mut c_in = 1;
        for (i, &c) in cfg.channels.iter().enumerate() {
            convs.push(ConvSame::new(c_in, c, (3, 3), vb.pp(format!("convs.{i}")))?);
            c_in = c;
        }
        Ok(Self {
            convs,
            dense: linear(c_in * h * w, cfg.dense, vb.pp("dense"))?,
            out: linear(cfg.dense, n_labels, vb.pp("out"))?,
            dropout: SeededDropout::new(cfg.dropout, seed),
        })
    }
}

impl GenreNet for Seed128Chunk {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut x = x.unsqueeze(1)?;
        for conv in &self.convs {
            x = conv.forward(&x)?.relu()?.max_pool2d(2)?;
        }
        let x = self.dense.forward(&x.flatten_from(1)?)?.relu()?;
        self.out.forward(&self.dropout.forward_t(&x, train)?)
    }
}
