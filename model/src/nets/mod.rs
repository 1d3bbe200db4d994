//! The networks. Every one maps a batch of normalised log-mel windows
//! `[batch, n_mels, frames]` to genre logits `[batch, labels]`.

mod conv3x3;
mod dropout;
pub mod musicnn;
mod seed_cnn;
mod seed_cnn_fused;

pub use conv3x3::Conv3x3;
pub use dropout::SeededDropout;
pub use seed_cnn::{SeedCnn, SeedCnnConfig};

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

/// What the tagger and the trainer need from a network.
pub trait GenreNet: Send + Sync {
    /// `x`: `[batch, n_mels, frames]`; returns logits `[batch, labels]`. `train` turns on
    /// dropout and batch statistics.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor>;
}

/// The architecture named in a model's card, with its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Arch {
    SeedCnn(SeedCnnConfig),
    /// The pretrained musicnn backbone (frozen) with a genre head.
    Musicnn(musicnn::MusicnnConfig),
}

impl Arch {
    pub fn build(&self, vb: VarBuilder, n_labels: usize, seed: u64) -> Result<Box<dyn GenreNet>> {
        match self {
            Arch::SeedCnn(c) => Ok(Box::new(SeedCnn::new(c, n_labels, vb, seed)?)),
            Arch::Musicnn(c) => Ok(Box::new(musicnn::Musicnn::new(c, n_labels, vb, seed)?)),
        }
    }
}
