//! The networks. Every one maps a batch of normalised log-mel windows
//! `[batch, n_mels, frames]` to genre logits `[batch, labels]`; some also give logits of a
//! wider, multi-label style vocabulary (the card's `styles`).

mod conv3x3;
mod dropout;
pub mod efficientat;
mod linear_head;
pub mod musicnn;
mod seed_cnn;
mod seed_cnn_fused;

pub use conv3x3::Conv3x3;
pub use dropout::SeededDropout;
pub use linear_head::LinearHead;
pub use seed_cnn::{SeedCnn, SeedCnnConfig};

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
}

impl Arch {
    pub fn build(&self, vb: VarBuilder, n_labels: usize, seed: u64) -> Result<Box<dyn GenreNet>> {
        match self {
            Arch::SeedCnn(c) => Ok(Box::new(SeedCnn::new(c, n_labels, vb, seed)?)),
            Arch::Musicnn(c) => Ok(Box::new(musicnn::Musicnn::new(c, n_labels, vb, seed)?)),
            Arch::EfficientAt(c) => Ok(Box::new(efficientat::EfficientAt::new(
                c, n_labels, vb, seed,
            )?)),
        }
    }
}
