//! musicnn, the pretrained music-tagging CNN, as a frozen backbone under a small genre
//! head. A model file holds both (`backbone.*` in this port's names, `head.*`), and the
//! card's [`MusicnnConfig`] says which published weights and which head.

mod backbone;
mod band_conv;
mod bn;
mod head;
mod tf_import;

pub use backbone::{
    Backbone, BackboneOutputs, Embedding, Variant, MSD_TAGS, MTT_TAGS, N_MELS, N_TAGS,
    PATCH_FRAMES, PENULTIMATE_DIM, POOLED_DIM,
};
pub use head::{Head, HeadConfig, HeadInput};
pub use tf_import::{import_tf, read_tf_file};

use crate::net::GenreNet;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MusicnnConfig {
    pub variant: Variant,
    pub head: HeadConfig,
}

pub struct Musicnn {
    backbone: Backbone,
    head: Head,
    input: HeadInput,
}

impl Musicnn {
    pub fn new(cfg: &MusicnnConfig, n_labels: usize, vb: VarBuilder, seed: u64) -> Result<Self> {
        Ok(Self {
            backbone: Backbone::new(vb.pp("backbone"))?,
            head: cfg.head.build(n_labels, vb.pp("head"), seed)?,
            input: cfg.head.input,
        })
    }
}

impl GenreNet for Musicnn {
    /// The backbone is frozen: `train` only switches the head's dropout.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let out = self.backbone.forward(x)?;
        self.head
            .forward_t(&self.input.select(&out).detach(), train)
    }

    fn forward_candle_ops(&self, x: &Tensor) -> Result<Tensor> {
        let out = self.backbone.forward_candle_ops(x)?;
        self.head.forward_t(&self.input.select(&out), false)
    }
}
