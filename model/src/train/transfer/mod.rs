//! Transfer learning: a genre head (or decision) on a pretrained backbone's frozen
//! features — musicnn's ([`MusicnnFeatures`](super::MusicnnFeatures)) or EfficientAT's
//! ([`EfficientAtFeatures`](super::EfficientAtFeatures)), in two stages:
//! - `window_features`: the backbone runs once per window (or not at all, for clips
//!   already in the on-disk [`FeatureCache`](super::FeatureCache));
//! - `head`: the head then trains on those vectors in seconds (many epochs, all in
//!   memory), with the CNN trainer's validation figures and early stopping but its own
//!   rule for the weights it keeps ([`HEAD_BEST_BY`] says why), through a view of the
//!   model's trainable part (`trainee`). With [`TransferConfig::fine_tune_dense`]
//!   musicnn's last hidden layer trains under the head, still on cached features (its
//!   input).

mod head;
mod trainee;
mod window_features;

pub use head::{cached_probs, train_head};
pub use window_features::{backbone_features, WindowFeatures};

use super::best_epoch::BestBy;
use crate::nets::musicnn::HeadInput;
use serde::{Deserialize, Serialize};

/// A head keeps the epoch with the lowest validation loss, not the CNN trainer's best
/// accuracy ([`CNN_BEST_BY`](super::CNN_BEST_BY)): a linear head on fixed features reaches
/// its accuracy within a few epochs and then wanders between near-equal values for
/// hundreds more, so the highest accuracy is a lucky epoch on a few dozen validation
/// clips; its loss is smooth, and its lowest point is where the head stops improving.
pub const HEAD_BEST_BY: BestBy = BestBy::Loss;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// AdamW decoupled weight decay: the main regulariser (with dropout) of the head.
    pub weight_decay: f64,
    pub label_smoothing: f32,
    /// Stop after this many epochs without a lower validation loss.
    pub early_stop: usize,
    pub seed: u64,
    /// Hop between training windows, seconds (each window is one feature vector).
    pub train_hop_s: f32,
    /// Hop between validation windows, seconds.
    pub eval_hop_s: f32,
    /// Absolute playback levels (RMS dBFS) at which every training window is seen,
    /// whatever its own level; empty: as recorded. The datasets' genres come at different
    /// recording levels (GTZAN's classical clips around −28 dB RMS, its jazz −20, its pop
    /// −15), so a head trained on windows as recorded learns loudness as a genre and
    /// changes its answer when the same music plays quieter. Gains relative to each clip
    /// would keep every genre's own range; absolute levels give every genre the same ones.
    pub levels_db: Vec<f32>,
    /// Also train musicnn's dense layer (1 506 → 200, initialised from the published
    /// weights) under a head that reads the 200-d embedding. The frozen backbone still runs
    /// once per window: the features it caches are the pooled ones, the dense layer's input.
    /// The dense layer learns at a tenth of the head's rate without weight decay, so it
    /// moves from the pretrained weights rather than decaying towards zero.
    #[serde(default)]
    pub fine_tune_dense: bool,
}

impl TransferConfig {
    /// Which backbone output the training features must be: what the head reads, or,
    /// when the dense layer fine-tunes, that layer's input (the pooled features).
    pub fn cached_input(&self, head: HeadInput) -> HeadInput {
        if self.fine_tune_dense {
            HeadInput::Pooled
        } else {
            head
        }
    }
}

impl Default for TransferConfig {
    fn default() -> Self {
        Self {
            epochs: 300,
            // Large: a step on 256 feature vectors costs little more than on 64, and at 64
            // the per-step overhead dominates an epoch.
            batch_size: 256,
            lr: 1e-3,
            weight_decay: 5e-2,
            label_smoothing: 0.1,
            early_stop: 40,
            seed: 42,
            train_hop_s: 1.0,
            eval_hop_s: 1.5,
            levels_db: vec![-36.0, -30.0, -24.0, -18.0, -12.0],
            fine_tune_dense: false,
        }
    }
}
