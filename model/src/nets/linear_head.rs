//! The genre head that transfer models put on a frozen network's features: standardise
//! each feature, dropout, one linear layer. Deliberately small: 100 GTZAN clips can teach a
//! linear map from a pretrained network's description of music to genres, not much more
//! (heads that memorise artists generalise worst; see the README's model card).

use crate::nets::SeededDropout;
use candle_core::{Module, Result, Tensor};
use candle_nn::{linear, Init, Linear, VarBuilder};

pub struct LinearHead {
    /// Per-feature mean and standard deviation of the training features, so that one
    /// weight decay suits every feature whatever its scale (set by the trainer; stored
    /// in the model file with the weights).
    feature_mean: Tensor,
    feature_std: Tensor,
    dropout: SeededDropout,
    linear: Linear,
}

impl LinearHead {
    /// A head reading `dim` features, with variables `feature_mean`, `feature_std` and
    /// `linear.*` under `vb`.
    pub fn new(
        dim: usize,
        dropout: f32,
        n_labels: usize,
        vb: VarBuilder,
        seed: u64,
    ) -> Result<Self> {
        Ok(Self {
            feature_mean: vb.get_with_hints(dim, "feature_mean", Init::Const(0.0))?,
            feature_std: vb.get_with_hints(dim, "feature_std", Init::Const(1.0))?,
            dropout: SeededDropout::new(dropout, seed),
            linear: linear(dim, n_labels, vb.pp("linear"))?,
        })
    }

    /// `features`: `[batch, dim]` → genre logits.
    pub fn forward_t(&self, features: &Tensor, train: bool) -> Result<Tensor> {
        let z = features
            .broadcast_sub(&self.feature_mean)?
            .broadcast_div(&self.feature_std)?;
        self.linear.forward(&self.dropout.forward_t(&z, train)?)
    }
}
