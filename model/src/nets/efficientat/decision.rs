//! How the AudioSet network's outputs become genre logits. One enum in the model card,
//! so a model file says which decision it was made with; each kind builds its own
//! (possibly trained) parameters under `decision.*` in the file. The kinds go from no
//! fitted parameter (zero-shot) through eleven (calibrated) to thousands (heads): the
//! README's EfficientAT table compares them (`cargo xtask decisions`).

use super::config::MnConfig;
use super::labels::GTZAN_CLASSES;
use super::network::MnOutput;
use crate::nets::LinearHead;
use candle_core::{Result, Tensor};
use candle_nn::{Init, VarBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decision {
    /// No training: the logits of the AudioSet classes `classes` (one per label, in label
    /// order) are the genre logits.
    ZeroShot { classes: Vec<usize> },
    /// The zero-shot logits recalibrated: `z / T + b` with one fitted temperature `T`
    /// (`decision.log_temperature`, `T = e^t`) and a fitted bias per genre
    /// (`decision.bias`). It can move the boundary between genres AudioSet's labelling
    /// favours and those it does not, but cannot learn anything the ten logits do not say.
    Calibrated { classes: Vec<usize> },
    /// A [`LinearHead`] (standardise, dropout, linear) on network outputs.
    Head {
        features: HeadFeatures,
        dropout: f32,
    },
}

/// Which network outputs a head reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadFeatures {
    /// The pooled embedding (384-d for mn04).
    Embedding,
    /// All AudioSet logits (527).
    Logits,
    /// Both, logits first.
    Both,
}

impl HeadFeatures {
    pub fn dim(self, net: &MnConfig) -> usize {
        match self {
            HeadFeatures::Embedding => net.embedding_dim(),
            HeadFeatures::Logits => net.num_classes,
            HeadFeatures::Both => net.num_classes + net.embedding_dim(),
        }
    }

    pub fn select(self, out: &MnOutput) -> Result<Tensor> {
        match self {
            HeadFeatures::Embedding => Ok(out.embedding.clone()),
            HeadFeatures::Logits => Ok(out.logits.clone()),
            HeadFeatures::Both => Tensor::cat(&[&out.logits, &out.embedding], 1),
        }
    }
}

impl Decision {
    /// Zero-shot over the ten classes named like GTZAN's genres.
    pub fn zero_shot_gtzan() -> Self {
        Decision::ZeroShot {
            classes: GTZAN_CLASSES.to_vec(),
        }
    }

    /// The ten GTZAN-named classes, recalibrated.
    pub fn calibrated_gtzan() -> Self {
        Decision::Calibrated {
            classes: GTZAN_CLASSES.to_vec(),
        }
    }

    /// A head on `features` with the transfer heads' dropout.
    pub fn head(features: HeadFeatures) -> Self {
        Decision::Head {
            features,
            dropout: 0.5,
        }
    }

    /// The names of the variables fitting moves (none for zero-shot), with the prefix
    /// `decision.` the model file stores them under.
    pub fn fitted_variables(&self) -> &'static [&'static str] {
        match self {
            Decision::ZeroShot { .. } => &[],
            Decision::Calibrated { .. } => &["decision.bias", "decision.log_temperature"],
            Decision::Head { .. } => &["decision.linear.weight", "decision.linear.bias"],
        }
    }

    /// `vb`: the model file's `decision` prefix.
    pub fn build(
        &self,
        n_labels: usize,
        net: &MnConfig,
        vb: VarBuilder,
        seed: u64,
    ) -> Result<DecisionHead> {
        let index = |classes: &[usize]| -> Result<Tensor> {
            if classes.len() != n_labels {
                candle_core::bail!(
                    "the decision names {} AudioSet classes for {n_labels} labels",
                    classes.len()
                );
            }
            if let Some(c) = classes.iter().find(|&&c| c >= net.num_classes) {
                candle_core::bail!(
                    "the decision names class {c}; the network has {}",
                    net.num_classes
                );
            }
            let idx: Vec<u32> = classes.iter().map(|&c| c as u32).collect();
            Tensor::new(idx.as_slice(), vb.device())
        };
        match self {
            Decision::ZeroShot { classes } => Ok(DecisionHead::ZeroShot {
                index: index(classes)?,
            }),
            Decision::Calibrated { classes } => Ok(DecisionHead::Calibrated {
                index: index(classes)?,
                bias: vb.get_with_hints(n_labels, "bias", Init::Const(0.0))?,
                log_temperature: vb.get_with_hints(1, "log_temperature", Init::Const(0.0))?,
            }),
            Decision::Head { features, dropout } => Ok(DecisionHead::Head {
                features: *features,
                head: Box::new(LinearHead::new(
                    features.dim(net),
                    *dropout,
                    n_labels,
                    vb,
                    seed,
                )?),
            }),
        }
    }
}

/// A [`Decision`] with its parameters.
pub enum DecisionHead {
    ZeroShot {
        index: Tensor,
    },
    Calibrated {
        index: Tensor,
        bias: Tensor,
        log_temperature: Tensor,
    },
    Head {
        features: HeadFeatures,
        // Boxed: a head is several times the size of the other variants.
        head: Box<LinearHead>,
    },
}

impl DecisionHead {
    /// The network's outputs for a batch → genre logits `[batch, labels]`.
    pub fn forward(&self, out: &MnOutput, train: bool) -> Result<Tensor> {
        match self {
            DecisionHead::ZeroShot { index } => out.logits.index_select(index, 1),
            DecisionHead::Calibrated {
                index,
                bias,
                log_temperature,
            } => out
                .logits
                .index_select(index, 1)?
                .broadcast_mul(&log_temperature.neg()?.exp()?)?
                .broadcast_add(bias),
            DecisionHead::Head { features, head } => head.forward_t(&features.select(out)?, train),
        }
    }

    /// What a head standardises and reads (`None` for the kinds without a head), so a
    /// trainer can take its statistics.
    pub fn head_input(&self, out: &MnOutput) -> Result<Option<Tensor>> {
        match self {
            DecisionHead::Head { features, .. } => features.select(out).map(Some),
            _ => Ok(None),
        }
    }
}
