//! Multinomial logistic regression with an L2 penalty, fitted by smartcore (L-BFGS).
//! Inference is the softmax of `W·x + b`, so the stored form is two tensors: `weight`
//! `[genres, d]` and `bias` `[genres]` (every genre row, zeros for a genre the training
//! data lacked, which the softmax then all but never picks).

use super::{FitOutput, Predict};
use crate::features::SUMMARY_LEN;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticConfig {
    /// L2 penalty.
    pub alpha: f64,
}

pub(super) struct Logistic {
    weight: Tensor,
    bias: Tensor,
}

impl Logistic {
    pub fn new(n_labels: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb.get((n_labels, SUMMARY_LEN), "weight")?,
            bias: vb.get(n_labels, "bias")?,
        })
    }
}

impl Predict for Logistic {
    fn probs(&self, xs: &[Vec<f32>], _n_labels: usize) -> Result<Vec<Vec<f32>>> {
        let weight = self.weight.flatten_all()?.to_vec1::<f32>()?;
        let bias = self.bias.to_vec1::<f32>()?;
        Ok(xs
            .iter()
            .map(|x| {
                let z: Vec<f32> = weight
                    .chunks(SUMMARY_LEN)
                    .zip(&bias)
                    .map(|(w, b)| b + w.iter().zip(x).map(|(w, x)| w * x).sum::<f32>())
                    .collect();
                crate::distribution::softmax(&z)
            })
            .collect())
    }
}

pub(super) fn fit(
    cfg: &LogisticConfig,
    x: &[Vec<f64>],
    y: &[i32],
    n_labels: usize,
) -> crate::Result<FitOutput> {
    let xm = DenseMatrix::from_2d_vec(&x.to_vec()).map_err(super::fit::failed)?;
    let params = LogisticRegressionParameters::default().with_alpha(cfg.alpha);
    let lr = LogisticRegression::fit(&xm, &y.to_vec(), params).map_err(super::fit::failed)?;
    let classes = lr.classes().clone();
    if classes.len() < 3 {
        return Err(crate::Error::Config(format!(
            "logistic regression needs at least three genres in its training data, got {}",
            classes.len()
        )));
    }
    // Fitted rows are the genres present, in `classes` order; absent genres stay zero
    // with a bias far below any fitted one.
    let (coef, icpt) = (lr.coefficients(), lr.intercept());
    let mut weight = vec![0.0f32; n_labels * SUMMARY_LEN];
    let mut bias = vec![-1e4f32; n_labels];
    for (row, &g) in classes.iter().enumerate() {
        let g = g as usize;
        for j in 0..SUMMARY_LEN {
            weight[g * SUMMARY_LEN + j] = *coef.get((row, j)) as f32;
        }
        bias[g] = *icpt.get((row, 0)) as f32;
    }
    Ok(FitOutput {
        classifier: super::Classifier::Logistic(cfg.clone()),
        tensors: vec![
            (
                "logistic.weight".into(),
                vec![n_labels, SUMMARY_LEN],
                weight,
            ),
            ("logistic.bias".into(), vec![n_labels], bias),
        ],
    })
}
