//! The networks. Every one maps a batch of normalised log-mel windows
//! `[batch, n_mels, frames]` to genre logits `[batch, labels]`; some also give logits of a
//! wider, multi-label style vocabulary (the card's `styles`).

mod conv_same;
mod crnn;
mod dropout;
pub mod efficientat;
mod linear_head;
pub mod musicnn;
mod seed_128chunk;
mod seed_2block;
mod seed_4block;
mod seed_cnn;
mod seed_cnn_fused;

pub use conv_same::ConvSame;
pub use crnn::{Crnn, CrnnConfig};
pub use dropout::SeededDropout;
pub use linear_head::LinearHead;
pub use seed_128chunk::{Seed128Chunk, Seed128ChunkConfig};
pub use seed_2block::{Seed2Block, Seed2BlockConfig};
pub use seed_4block::{Seed4Block, Seed4BlockConfig};
pub use seed_cnn::{SeedCnn, SeedCnnConfig};

use crate::front_end::FrontEndConfig;
use crate::mel::MelConfig;
use crate::window::WindowNorm;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

/// One inference pass: what the tagger reads.
#[derive(Debug, Clone)]
pub struct NetOutput {
    /// `[batch, labels]`: softmaxed into the genre distribution (one genre per window).
    pub genre_logits: Tensor,
    /// `[batch, card.styles.len()]` for a model with a style vocabulary, else `None`.
    /// Styles are multi-label (a window can be both "Funk" and "Soul music"), so each is
    /// read through its own sigmoid, not a softmax.
    pub style_logits: Option<Tensor>,
}

/// What the tagger and the trainer need from a network.
pub trait GenreNet: Send + Sync {
    /// `x`: `[batch, n_mels, frames]`; returns logits `[batch, labels]`. `train` turns on
    /// dropout and batch statistics.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor>;

    /// Inference: the genre logits and, for a network with a style vocabulary, its style
    /// logits from the same pass. Networks without styles keep this default.
    fn infer(&self, x: &Tensor) -> Result<NetOutput> {
        Ok(NetOutput {
            genre_logits: self.forward_t(x, false)?,
            style_logits: None,
        })
    }

    /// Inference genre logits through candle's own ops alone: the path a GPU runs. On the
    /// CPU, `forward_t(x, false)` may take hand-fused kernels instead; this lets the two be
    /// compared on one machine (`gpu_check`). Networks without fused kernels keep this
    /// default.
    fn forward_candle_ops(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_t(x, false)
    }
}

/// The architecture named in a model's card, with its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Arch {
    SeedCnn(SeedCnnConfig),
    /// The pretrained musicnn backbone (frozen) with a genre head.
    Musicnn(musicnn::MusicnnConfig),
    /// EfficientAT's AudioSet network (frozen) with a genre decision.
    EfficientAt(efficientat::EfficientAtConfig),
    /// The seed papers' systems, reproduced (see each module).
    #[serde(rename = "seed_2block")]
    Seed2Block(Seed2BlockConfig),
    #[serde(rename = "seed_128chunk")]
    Seed128Chunk(Seed128ChunkConfig),
    #[serde(rename = "seed_4block")]
    Seed4Block(Seed4BlockConfig),
    Crnn(CrnnConfig),
    /// The fifth seed paper's hand-made features and a classical classifier.
    HandFeatures(crate::classic::HandFeaturesConfig),
}

impl Arch {
    pub fn build(&self, vb: VarBuilder, n_labels: usize, seed: u64) -> Result<Box<dyn GenreNet>> {
        Ok(match self {
            Arch::SeedCnn(c) => Box::new(SeedCnn::new(c, n_labels, vb, seed)?),
            Arch::Musicnn(c) => Box::new(musicnn::Musicnn::new(c, n_labels, vb, seed)?),
            Arch::EfficientAt(c) => Box::new(efficientat::EfficientAt::new(c, n_labels, vb, seed)?),
            Arch::Seed2Block(c) => Box::new(Seed2Block::new(c, n_labels, vb, seed)?),
            Arch::Seed128Chunk(c) => Box::new(Seed128Chunk::new(c, n_labels, vb, seed)?),
            Arch::Seed4Block(c) => Box::new(Seed4Block::new(c, n_labels, vb, seed)?),
            Arch::Crnn(c) => Box::new(Crnn::new(c, n_labels, vb, seed)?),
            Arch::HandFeatures(c) => Box::new(crate::classic::HandFeatures::new(c, n_labels, vb)?),
        })
    }

    /// The `(n_mels, frames)` window a network with a fixed-size layer was built for
    /// (`None`: any window). A card whose front end makes another size is refused.
    pub fn input(&self) -> Option<(usize, usize)> {
        match self {
            Arch::SeedCnn(_) | Arch::Musicnn(_) | Arch::EfficientAt(_) | Arch::HandFeatures(_) => {
                None
            }
            Arch::Seed2Block(c) => Some((c.n_mels, c.frames)),
            Arch::Seed128Chunk(c) => Some((c.n_mels, c.frames)),
            Arch::Seed4Block(c) => Some((c.n_mels, c.frames)),
            Arch::Crnn(c) => Some((c.n_mels, c.frames)),
        }
    }

    /// The front end a from-scratch network of this architecture is trained on (`None`
    /// for the pretrained ones, whose front end is their backbone's).
    pub fn front_end(&self) -> Option<FrontEndConfig> {
        let librosa = MelConfig::seed_default();
        let mel = match self {
            Arch::SeedCnn(_) => librosa,
            Arch::Seed2Block(Seed2BlockConfig { n_mels, .. })
            | Arch::Seed128Chunk(Seed128ChunkConfig { n_mels, .. })
            | Arch::Seed4Block(Seed4BlockConfig { n_mels, .. }) => MelConfig {
                n_mels: *n_mels,
                ..librosa
            },
            // Choi et al.'s: 12 kHz, n_fft 512, hop 256, 96 mel bands, dB.
            Arch::Crnn(c) => MelConfig {
                sample_rate: 12_000,
                n_fft: 512,
                hop: 256,
                n_mels: c.n_mels,
                ..librosa
            },
            Arch::HandFeatures(_) => return Some(FrontEndConfig::hand_features()),
            Arch::Musicnn(_) | Arch::EfficientAt(_) => return None,
        };
        Some(mel.into())
    }

    /// How a from-scratch system's windows are normalised: the CNNs see standardised
    /// mels (the tag must not depend on playback gain); the hand-made features are the
    /// paper's as computed, and their scaler is part of the fitted model.
    pub fn window_norm(&self) -> WindowNorm {
        match self {
            Arch::HandFeatures(_) | Arch::Musicnn(_) | Arch::EfficientAt(_) => WindowNorm::None,
            _ => WindowNorm::Standardize,
        }
    }
}
