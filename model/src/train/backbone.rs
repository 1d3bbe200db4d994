//! The frozen networks a transfer head reads. Each maps a batch of windows to one feature
//! vector per window; [`backbone_features`](super::backbone_features) runs it once per
//! window, the [`FeatureCache`](super::FeatureCache) keeps the vectors, and the head (or
//! decision) trains on them. Adding a backbone means one impl of [`FeatureBackbone`].

use crate::nets::efficientat::Mn;
use crate::nets::musicnn::{Backbone, HeadInput};
use crate::Result;
use candle_core::Tensor;

pub trait FeatureBackbone: Sync {
    /// What the features are (network and output), as part of the feature cache's key:
    /// two backbones with equal weights but different outputs must never share entries.
    fn describe(&self) -> serde_json::Value;
    /// Length of one window's feature vector.
    fn dim(&self) -> usize;
    /// `x`: `[batch, n_mels, frames]` windows → `[batch, dim]` features.
    fn features(&self, x: &Tensor) -> Result<Tensor>;
}

/// musicnn with one of its outputs (see [`HeadInput`]).
pub struct MusicnnFeatures<'a> {
    pub backbone: &'a Backbone,
    pub input: HeadInput,
}

impl FeatureBackbone for MusicnnFeatures<'_> {
    /// Just the output's name: the key musicnn entries had before other backbones
    /// existed, so existing caches stay valid (the backbone hash tells networks apart).
    fn describe(&self) -> serde_json::Value {
        serde_json::json!(self.input)
    }

    fn dim(&self) -> usize {
        self.input.dim()
    }

    fn features(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.input.select(&self.backbone.forward(x)?))
    }
}

/// EfficientAT: every window's AudioSet logits and pooled embedding, `[logits | embedding]`
/// (911-d for mn04), so every decision kind (zero-shot, calibrated, heads on either or
/// both) trains and is scored on one cached pass.
pub struct EfficientAtFeatures<'a> {
    pub net: &'a Mn,
}

impl FeatureBackbone for EfficientAtFeatures<'_> {
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({ "net": "efficientat", "outputs": ["logits", "embedding"] })
    }

    fn dim(&self) -> usize {
        self.net.cfg.num_classes + self.net.cfg.embedding_dim()
    }

    fn features(&self, x: &Tensor) -> Result<Tensor> {
        let out = self.net.forward(x)?;
        Ok(Tensor::cat(&[&out.logits, &out.embedding], 1)?)
    }
}
