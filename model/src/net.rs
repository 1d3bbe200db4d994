//! What the tagger and the trainer need from a model, whatever its kind: the
//! [`GenreNet`] trait every kind implements (the networks in `nets`, the classical systems
//! in `classic`) and what one inference pass returns.

use candle_core::{Result, Tensor};

/// One inference pass: what the tagger reads.
#[derive(Debug, Clone)]
pub struct NetOutput {
    /// `[batch, labels]`: softmaxed into the genre distribution (one genre per window).
    pub genre_logits: Tensor,
    /// `[batch, card.styles.len()]` for a model with a style vocabulary, else `None`.
    /// Styles are multi-label (a window can be both "Funk" and "Soul music"), so each is
    /// read through its own sigmoid, not a softmax.
    pub style_logits: Option<Tensor>,
    /// `[batch, width]`: what a taught decision learns from (`teach`), for a network that
    /// can be taught (EfficientAT: its AudioSet logits, then its embedding); else `None`.
    pub teach_features: Option<Tensor>,
}

/// What the tagger and the trainer need from a network.
pub trait GenreNet: Send + Sync {
    /// `x`: `[batch, n_mels, frames]`; returns logits `[batch, labels]`. `train` turns on
    /// dropout and batch statistics.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor>;

    /// Inference: the genre logits and, for a network with a style vocabulary, its style
    /// logits from the same pass. Networks without styles keep this default.
    fn infer(&self, x: &Tensor) -> Result<NetOutput> {
        Ok(NetOutput {
            genre_logits: self.forward_t(x, false)?,
            style_logits: None,
            teach_features: None,
        })
    }

    /// Inference genre logits through candle's own ops alone (the differentiable path, and
    /// the one a GPU runs for networks without a folded path of their own). On the CPU,
    /// `forward_t(x, false)` may take hand-fused kernels instead; this lets the two be
    /// compared on one machine (`gpu_check`). Networks without fused kernels keep this
    /// default.
    fn forward_candle_ops(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_t(x, false)
    }
}
