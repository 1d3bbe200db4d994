//! The genre head on top of the frozen backbone: standardise the chosen features, dropout,
//! one linear layer. Deliberately small: 100 GTZAN clips can teach a linear map from
//! musicnn's learnt description of music to genres, not much more; a larger head has room
//! to memorise the few artists behind each genre's clips, which is what generalises worst
//! to music from elsewhere.

use super::backbone::{BackboneOutputs, N_TAGS, PENULTIMATE_DIM, POOLED_DIM};
use crate::nets::SeededDropout;
use candle_core::{Module, Result, Tensor};
use candle_nn::{linear, Init, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

/// Which backbone output the head reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadInput {
    /// Max and mean over time of every front- and mid-end channel (1 506-d).
    Pooled,
    /// The 200-d embedding the tag layer reads.
    Penultimate,
    /// The 50 tag logits: the narrowest, most pretrained-knowledge-bound choice.
    Tags,
}

impl HeadInput {
    pub fn dim(self) -> usize {
        match self {
            HeadInput::Pooled => POOLED_DIM,
            HeadInput::Penultimate => PENULTIMATE_DIM,
            HeadInput::Tags => N_TAGS,
        }
    }

    pub fn select(self, out: &BackboneOutputs) -> Tensor {
        match self {
            HeadInput::Pooled => out.pooled.clone(),
            HeadInput::Penultimate => out.penultimate.clone(),
            HeadInput::Tags => out.tags.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HeadConfig {
    pub input: HeadInput,
    pub dropout: f32,
}

impl Default for HeadConfig {
    fn default() -> Self {
        Self {
            input: HeadInput::Pooled,
            dropout: 0.5,
        }
    }
}

pub struct Head {
    /// Per-feature mean and standard deviation of the training features, so that one
    /// weight decay suits every feature whatever its scale (set by the trainer; stored
    /// in the model file with the weights).
    feature_mean: Tensor,
    feature_std: Tensor,
    dropout: SeededDropout,
    linear: Linear,
}

impl Head {
    pub fn new(cfg: &HeadConfig, n_labels: usize, vb: VarBuilder, seed: u64) -> Result<Self> {
        let d = cfg.input.dim();
        Ok(Self {
            feature_mean: vb.get_with_hints(d, "feature_mean", Init::Const(0.0))?,
            feature_std: vb.get_with_hints(d, "feature_std", Init::Const(1.0))?,
            dropout: SeededDropout::new(cfg.dropout, seed),
            linear: linear(d, n_labels, vb.pp("linear"))?,
        })
    }

    /// `features`: `[batch, dim]` of [`HeadConfig::input`] → genre logits.
    pub fn forward_t(&self, features: &Tensor, train: bool) -> Result<Tensor> {
        let z = features
            .broadcast_sub(&self.feature_mean)?
            .broadcast_div(&self.feature_std)?;
        self.linear.forward(&self.dropout.forward_t(&z, train)?)
    }
}
