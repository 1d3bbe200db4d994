//! How the AudioSet network's outputs become genre logits. One enum in the model card,
//! so a model file says which decision it was made with; each kind builds its own
//! (possibly trained) parameters under `decision.*` in the file.

use super::labels::GTZAN_CLASSES;
use super::network::MnOutput;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decision {
    /// No training: the logits of the AudioSet classes `classes` (one per label, in label
    /// order) are the genre logits.
    ZeroShot { classes: Vec<usize> },
}

impl Decision {
    /// Zero-shot over the ten classes named like GTZAN's genres.
    pub fn zero_shot_gtzan() -> Self {
        Decision::ZeroShot {
            classes: GTZAN_CLASSES.to_vec(),
        }
    }

    /// `vb`: the model file's `decision` prefix.
    pub fn build(
        &self,
        n_labels: usize,
        n_classes: usize,
        vb: VarBuilder,
        _seed: u64,
    ) -> Result<DecisionHead> {
        match self {
            Decision::ZeroShot { classes } => {
                if classes.len() != n_labels {
                    candle_core::bail!(
                        "zero-shot decision names {} AudioSet classes for {n_labels} labels",
                        classes.len()
                    );
                }
                if let Some(c) = classes.iter().find(|&&c| c >= n_classes) {
                    candle_core::bail!(
                        "zero-shot decision names class {c}; the network has {n_classes}"
                    );
                }
                let idx: Vec<u32> = classes.iter().map(|&c| c as u32).collect();
                Ok(DecisionHead::ZeroShot {
                    index: Tensor::new(idx.as_slice(), vb.device())?,
                })
            }
        }
    }
}

/// A [`Decision`] with its parameters.
pub enum DecisionHead {
    ZeroShot { index: Tensor },
}

impl DecisionHead {
    /// The network's outputs for a batch → genre logits `[batch, labels]`.
    pub fn forward(&self, out: &MnOutput, _train: bool) -> Result<Tensor> {
        match self {
            DecisionHead::ZeroShot { index } => out.logits.index_select(index, 1),
        }
    }
}
