//! The genre head on top of the frozen backbone: a [`LinearHead`] (standardise, dropout,
//! one linear layer) on the backbone output the card chooses. Deliberately small: 100
//! GTZAN clips can teach a linear map from musicnn's learnt description of music to
//! genres, not much more; a larger head has room to memorise the few artists behind each
//! genre's clips, which is what generalises worst to music from elsewhere.

use super::backbone::{BackboneOutputs, N_TAGS, PENULTIMATE_DIM, POOLED_DIM};
use crate::nets::LinearHead;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
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

/// musicnn's genre head: a [`LinearHead`] on [`HeadConfig::input`].
pub type Head = LinearHead;

impl HeadConfig {
    pub fn build(&self, n_labels: usize, vb: VarBuilder, seed: u64) -> Result<Head> {
        LinearHead::new(self.input.dim(), self.dropout, n_labels, vb, seed)
    }
}
