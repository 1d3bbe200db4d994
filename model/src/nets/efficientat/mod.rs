//! EfficientAT's `mn04_as` (Schmid, Koutini & Widmer, "Efficient large-scale audio
//! tagging via transformer-to-CNN knowledge distillation", ICASSP 2023): a
//! MobileNetV3-Large at width 0.4 trained on AudioSet's 527 classes, ported layer for
//! layer as EfficientAT's `models/mn/model.py` and `models/mn/block_types.py` build it
//! with `get_model(width_mult=0.4, strides=[2, 2, 2, 2], head_type="mlp", se_dims="c",
//! se_agg="max", se_r=4)`, under the checkpoint's own tensor names and layouts, so the
//! published file loads unchanged.
//!
//! Input: EfficientAT log-mels `[batch, 128, frames]` ([`crate::mel::MelConfig::efficientat`]);
//! any number of frames (the network ends in a global average pool). A model file holds
//! the network and a [`Decision`] that turns its outputs into genre logits.

mod blocks;
mod config;
mod decision;
mod folded;
mod fused;
mod labels;
mod network;
mod se;
mod taught;

pub use blocks::{depthwise_conv, hard_swish, BN_EPS};
pub use config::{make_divisible, Activation, BlockConfig, MnConfig};
pub use decision::{Decision, DecisionHead, HeadFeatures};
pub use labels::{audioset_labels, GTZAN_CLASSES, GTZAN_GROUPS, STYLE_CLASSES};
pub use network::{Mn, MnOutput};
pub use taught::{anchor_for, rbf_kernel, TaughtConfig, TaughtHead};

use crate::net::{GenreNet, NetOutput};
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

/// The card's description: which network, and how its outputs become genre logits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EfficientAtConfig {
    pub net: MnConfig,
    pub decision: Decision,
}

impl EfficientAtConfig {
    /// `mn04_as`, zero-shot over the ten GTZAN-named classes.
    pub fn mn04_zero_shot() -> Self {
        Self {
            net: MnConfig::mn04_as(),
            decision: Decision::zero_shot_gtzan(),
        }
    }
}

pub struct EfficientAt {
    net: Mn,
    decision: DecisionHead,
}

impl EfficientAt {
    /// `vb`: the model file's root; the network under the checkpoint's names, the
    /// decision's parameters under `decision`.
    pub fn new(
        cfg: &EfficientAtConfig,
        n_labels: usize,
        vb: VarBuilder,
        seed: u64,
    ) -> Result<Self> {
        Ok(Self {
            net: Mn::new(&cfg.net, vb.clone())?,
            decision: cfg
                .decision
                .build(n_labels, &cfg.net, vb.pp("decision"), seed)?,
        })
    }

    pub fn network(&self) -> &Mn {
        &self.net
    }

    /// The network's logits and embedding for `[batch, n_mels, frames]` windows.
    pub fn outputs(&self, x: &Tensor) -> Result<MnOutput> {
        self.net.forward(x)
    }

    /// The AudioSet music-genre logits ([`STYLE_CLASSES`]) from the network's outputs.
    pub fn style_logits(out: &MnOutput) -> Result<Tensor> {
        out.logits
            .narrow(1, STYLE_CLASSES.start, STYLE_CLASSES.len())
    }
}

impl EfficientAt {
    /// The network's outputs, detached (it is frozen), for the decision.
    fn frozen_outputs(&self, x: &Tensor) -> Result<MnOutput> {
        let out = self.outputs(x)?;
        Ok(MnOutput {
            logits: out.logits.detach(),
            embedding: out.embedding.detach(),
        })
    }
}

impl GenreNet for EfficientAt {
    /// The network is frozen: `train` only reaches the decision.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.decision.forward(&self.frozen_outputs(x)?, train)
    }

    fn forward_candle_ops(&self, x: &Tensor) -> Result<Tensor> {
        self.decision.forward(&self.net.forward_candle(x)?, false)
    }

    /// The genre decision, the AudioSet music-genre logits and what teaching learns from
    /// (`[logits | embedding]`), from one pass.
    fn infer(&self, x: &Tensor) -> Result<NetOutput> {
        let out = self.frozen_outputs(x)?;
        Ok(NetOutput {
            genre_logits: self.decision.forward(&out, false)?,
            style_logits: Some(Self::style_logits(&out)?),
            teach_features: Some(Tensor::cat(&[&out.logits, &out.embedding], 1)?),
        })
    }
}
