//! The trainable part of a pretrained model, as a view over cached backbone features:
//! musicnn's head (with its dense layer when fine-tuning) or EfficientAT's decision.

use super::TransferConfig;
use crate::arch::Arch;
use crate::nets::efficientat::{Decision, DecisionHead, MnOutput};
use crate::nets::musicnn::{Embedding, Head, HeadInput};
use crate::nets::SeededDropout;
use crate::weights::ModelCard;
use crate::{Error, Result};
use candle_core::Tensor;
use candle_nn::VarBuilder;

/// What trains on the cached features, as a view of the model's own variables (the
/// same `Var`s, so training it trains the model).
pub(super) struct Trainee {
    layers: TraineeLayers,
    /// Variables the optimiser moves at the configured rate and weight decay.
    pub(super) params: Vec<String>,
    /// Variables moved at a tenth of the rate without decay (pretrained layers being
    /// fine-tuned, which should move from their published values, not decay to zero).
    pub(super) slow_params: Vec<String>,
    /// Prefix of the `feature_mean`/`feature_std` to set from the training features, for
    /// a head that standardises its input.
    pub(super) standardised: Option<&'static str>,
}

enum TraineeLayers {
    /// musicnn's head, with its dense layer (and musicnn's own dropout 0.5 on that
    /// layer's input) under it when fine-tuning.
    Musicnn {
        // Boxed: musicnn's layers are several times the size of the other variant.
        embedding: Option<Box<(Embedding, SeededDropout)>>,
        head: Box<Head>,
    },
    /// EfficientAT's decision, on cached `[logits | embedding]` rows
    /// ([`EfficientAtFeatures`](super::EfficientAtFeatures)).
    EfficientAt {
        decision: DecisionHead,
        n_classes: usize,
    },
}

impl Trainee {
    /// The trainable part of `card`'s network, reading `dim`-d cached features.
    pub(super) fn new(
        card: &ModelCard,
        vb: &VarBuilder,
        cfg: &TransferConfig,
        dim: usize,
    ) -> Result<Self> {
        let n_lab = card.labels.len();
        match &card.arch {
            Arch::Musicnn(mcfg) => {
                if cfg.fine_tune_dense
                    && (mcfg.head.input != HeadInput::Penultimate
                        || dim != cfg.cached_input(mcfg.head.input).dim())
                {
                    return Err(Error::Config(format!(
                        "fine-tuning the dense layer needs a head on the penultimate layer and \
                         pooled training features; got a {:?} head and {dim}-d features",
                        mcfg.head.input
                    )));
                }
                let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
                Ok(Self {
                    layers: TraineeLayers::Musicnn {
                        embedding: if cfg.fine_tune_dense {
                            Some(Box::new((
                                Embedding::new(&vb.pp("backbone"))?,
                                SeededDropout::new(0.5, cfg.seed ^ 0xF1E),
                            )))
                        } else {
                            None
                        },
                        head: Box::new(mcfg.head.build(n_lab, vb.pp("head"), cfg.seed)?),
                    },
                    params: names(&["head.linear.weight", "head.linear.bias"]),
                    slow_params: if cfg.fine_tune_dense {
                        names(&["backbone.dense.weight", "backbone.dense.bias"])
                    } else {
                        Vec::new()
                    },
                    standardised: Some("head"),
                })
            }
            Arch::EfficientAt(ecfg) => {
                let want = ecfg.net.num_classes + ecfg.net.embedding_dim();
                if cfg.fine_tune_dense || dim != want {
                    return Err(Error::Config(format!(
                        "an EfficientAT decision trains on cached {want}-d logits + embedding, without fine-tuning; got {dim}-d features{}",
                        if cfg.fine_tune_dense { " and fine-tuning" } else { "" }
                    )));
                }
                let decision = &ecfg.decision;
                Ok(Self {
                    layers: TraineeLayers::EfficientAt {
                        decision: decision.build(n_lab, &ecfg.net, vb.pp("decision"), cfg.seed)?,
                        n_classes: ecfg.net.num_classes,
                    },
                    params: decision
                        .fitted_variables()
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    slow_params: Vec::new(),
                    standardised: matches!(decision, Decision::Head { .. }).then_some("decision"),
                })
            }
            other => Err(Error::Config(format!(
                "a {} model has no head to train on cached features",
                arch_name(other)
            ))),
        }
    }

    /// Cached EfficientAT rows as the network's outputs.
    fn mn_output(x: &Tensor, n_classes: usize) -> Result<MnOutput> {
        let d = x.dim(1)?;
        Ok(MnOutput {
            logits: x.narrow(1, 0, n_classes)?.contiguous()?,
            embedding: x.narrow(1, n_classes, d - n_classes)?.contiguous()?,
        })
    }

    /// Whether the head reads the cached features as they are.
    pub(super) fn reads_cached_features(&self) -> bool {
        matches!(
            self.layers,
            TraineeLayers::Musicnn {
                embedding: None,
                ..
            }
        )
    }

    /// The cached features → what the (standardised) head reads.
    pub(super) fn head_input(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Ok(match &self.layers {
            TraineeLayers::Musicnn {
                embedding: Some(layer),
                ..
            } => {
                let (e, dropout) = &**layer;
                e.forward(&dropout.forward_t(x, train)?)?
            }
            TraineeLayers::Musicnn {
                embedding: None, ..
            } => x.clone(),
            TraineeLayers::EfficientAt {
                decision,
                n_classes,
            } => decision
                .head_input(&Self::mn_output(x, *n_classes)?)?
                .unwrap_or_else(|| x.clone()),
        })
    }

    pub(super) fn logits(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Ok(match &self.layers {
            TraineeLayers::Musicnn { head, .. } => {
                head.forward_t(&self.head_input(x, train)?, train)?
            }
            TraineeLayers::EfficientAt {
                decision,
                n_classes,
            } => decision.forward(&Self::mn_output(x, *n_classes)?, train)?,
        })
    }
}

fn arch_name(arch: &Arch) -> String {
    serde_json::to_value(arch)
        .ok()
        .and_then(|v| v["name"].as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}
