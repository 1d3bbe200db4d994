//! The registry of model kinds: the architecture a model's card names, with its
//! hyper-parameters, and what each kind needs — its network, the window it was built for,
//! its front end and window normalisation. A new kind is a variant here and its own module.

use crate::classic::{HandFeatures, HandFeaturesConfig};
use crate::front_end::FrontEndConfig;
use crate::mel::MelConfig;
use crate::net::GenreNet;
use crate::nets::efficientat::{EfficientAt, EfficientAtConfig};
use crate::nets::musicnn::{Musicnn, MusicnnConfig};
use crate::nets::{
    Crnn, CrnnConfig, Seed128Chunk, Seed128ChunkConfig, Seed2Block, Seed2BlockConfig, Seed4Block,
    Seed4BlockConfig, SeedCnn, SeedCnnConfig,
};
use crate::window::WindowNorm;
use candle_core::Result;
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

/// The architecture named in a model's card, with its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Arch {
    SeedCnn(SeedCnnConfig),
    /// The pretrained musicnn backbone (frozen) with a genre head.
    Musicnn(MusicnnConfig),
    /// EfficientAT's AudioSet network (frozen) with a genre decision.
    EfficientAt(EfficientAtConfig),
    /// The seed papers' systems, reproduced (see each module).
    #[serde(rename = "seed_2block")]
    Seed2Block(Seed2BlockConfig),
    #[serde(rename = "seed_128chunk")]
    Seed128Chunk(Seed128ChunkConfig),
    #[serde(rename = "seed_4block")]
    Seed4Block(Seed4BlockConfig),
    Crnn(CrnnConfig),
    /// The fifth seed paper's hand-made features and a classical classifier.
    HandFeatures(HandFeaturesConfig),
}

impl Arch {
    pub fn build(&self, vb: VarBuilder, n_labels: usize, seed: u64) -> Result<Box<dyn GenreNet>> {
        Ok(match self {
            Arch::SeedCnn(c) => Box::new(SeedCnn::new(c, n_labels, vb, seed)?),
            Arch::Musicnn(c) => Box::new(Musicnn::new(c, n_labels, vb, seed)?),
            Arch::EfficientAt(c) => Box::new(EfficientAt::new(c, n_labels, vb, seed)?),
            Arch::Seed2Block(c) => Box::new(Seed2Block::new(c, n_labels, vb, seed)?),
            Arch::Seed128Chunk(c) => Box::new(Seed128Chunk::new(c, n_labels, vb, seed)?),
            Arch::Seed4Block(c) => Box::new(Seed4Block::new(c, n_labels, vb, seed)?),
            Arch::Crnn(c) => Box::new(Crnn::new(c, n_labels, vb, seed)?),
            Arch::HandFeatures(c) => Box::new(HandFeatures::new(c, n_labels, vb)?),
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
