//! The fifth seed paper's classical systems: a window's hand-made feature summary
//! ([`crate::features`]), standardised, then an SVM (RBF), logistic regression, k-NN or a
//! random forest. The solvers are smartcore's ([`fit`]); what they fitted is kept as plain
//! tensors with their shapes in the card, like any network's weights, so a model file
//! loads, is checked and runs through the same code as the CNNs — in `tag`, `eval` and the
//! plugin. Each classifier's file says how its tensors are read.
//!
//! Every classifier gives a distribution over genres per window (SVM: the one-vs-one vote
//! shares; logistic regression: its softmax; k-NN: the neighbours' shares; forest: the
//! trees' vote shares), which [`HandFeatures`] hands on as log-probabilities, so the
//! Tagger's softmax gives it back.

mod fit;
mod forest;
mod knn;
mod logistic;
mod svm;
#[cfg(test)]
mod tests;

use fit::FitOutput;
pub use fit::{fit, Fitted};

use crate::features::{summarize, FRAME_ROWS, SUMMARY_LEN};
use crate::net::GenreNet;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

/// Which classifier, with its hyper-parameters and the shapes of what it fitted (empty
/// before fitting).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Classifier {
    Svm(svm::SvmConfig),
    Logistic(logistic::LogisticConfig),
    Knn(knn::KnnConfig),
    Forest(forest::ForestConfig),
}

impl Classifier {
    /// scikit-learn's defaults, which the seed paper used: C = 1 and γ = 1/d (its "scale"
    /// on standardised features).
    pub fn svm() -> Self {
        Classifier::Svm(svm::SvmConfig {
            c: 1.0,
            gamma: 1.0 / SUMMARY_LEN as f64,
            pairs: Vec::new(),
        })
    }
    /// L2 penalty 1 (scikit-learn's C = 1).
    pub fn logistic() -> Self {
        Classifier::Logistic(logistic::LogisticConfig { alpha: 1.0 })
    }
    /// Five neighbours, Euclidean (scikit-learn's defaults).
    pub fn knn() -> Self {
        Classifier::Knn(knn::KnnConfig { k: 5, rows: 0 })
    }
    /// 100 trees of √d features per split (scikit-learn's defaults).
    pub fn forest() -> Self {
        Classifier::Forest(forest::ForestConfig {
            trees: 100,
            nodes: Vec::new(),
        })
    }
}

/// The card's description of a classical system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandFeaturesConfig {
    pub classifier: Classifier,
}

/// What a fitted classifier does with standardised summaries.
///
/// Classifiers hold their parameters as the tensors the model file filled (loading sets
/// them after the network is built, as for every network) and read them out per batch.
trait Predict: Send + Sync {
    /// A distribution over the `n_labels` genres for each summary.
    fn probs(&self, xs: &[Vec<f32>], n_labels: usize) -> Result<Vec<Vec<f32>>>;
}

/// A window of per-frame features in, genre log-probabilities out.
pub struct HandFeatures {
    mean: Tensor,
    std: Tensor,
    classifier: Box<dyn Predict>,
    n_labels: usize,
}

impl HandFeatures {
    pub fn new(cfg: &HandFeaturesConfig, n_labels: usize, vb: VarBuilder) -> Result<Self> {
        let d = SUMMARY_LEN;
        let mean = vb.get(d, "scaler.mean")?;
        let std = vb.get(d, "scaler.std")?;
        let classifier: Box<dyn Predict> = match &cfg.classifier {
            Classifier::Svm(c) => Box::new(svm::Svm::new(c, vb.pp("svm"))?),
            Classifier::Logistic(_) => {
                Box::new(logistic::Logistic::new(n_labels, vb.pp("logistic"))?)
            }
            Classifier::Knn(c) => Box::new(knn::Knn::new(c, vb.pp("knn"))?),
            Classifier::Forest(c) => Box::new(forest::Forest::new(c, vb.pp("forest"))?),
        };
        Ok(Self {
            mean,
            std,
            classifier,
            n_labels,
        })
    }
}

/// A stored index (a float, exact below 2²⁴) as an index below `limit`, or an error naming
/// `what` — a corrupted file is refused, not indexed out of bounds.
fn label_index(v: f32, limit: usize, what: &str) -> Result<usize> {
    if v.fract() == 0.0 && v >= 0.0 && (v as usize) < limit {
        Ok(v as usize)
    } else {
        candle_core::bail!("{what} {v} is outside 0..{limit}")
    }
}

/// `(x − mean) / std`: the scaler every classifier is fitted behind (an RBF kernel and
/// k-NN measure distances, so a feature in Hz must not outweigh one in [0, 1]).
pub fn standardise(x: &mut [f32], mean: &[f32], std: &[f32]) {
    for ((v, m), s) in x.iter_mut().zip(mean).zip(std) {
        *v = (*v - m) / s;
    }
}

impl GenreNet for HandFeatures {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let (batch, rows, frames) = x.dims3()?;
        if rows != FRAME_ROWS {
            candle_core::bail!("hand-made features need {FRAME_ROWS} rows per frame, got {rows}");
        }
        let (mean, std) = (self.mean.to_vec1::<f32>()?, self.std.to_vec1::<f32>()?);
        let data = x.flatten_all()?.to_vec1::<f32>()?;
        let summaries: Vec<Vec<f32>> = data
            .chunks(rows * frames)
            .map(|w| {
                let mut s = vec![0.0f32; SUMMARY_LEN];
                summarize(w, frames, &mut s);
                standardise(&mut s, &mean, &std);
                s
            })
            .collect();
        let logits: Vec<f32> = self
            .classifier
            .probs(&summaries, self.n_labels)?
            .iter()
            .flatten()
            .map(|&q| q.max(1e-7).ln())
            .collect();
        Tensor::from_vec(logits, (batch, self.n_labels), x.device())
    }
}
