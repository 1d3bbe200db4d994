//! Support vector machine with an RBF kernel, one-vs-one over the genres (libsvm's and
//! scikit-learn's scheme for more than two classes).
//!
//! Fitting is smartcore's SMO, one binary `SVC` per pair of genres. Inference is written
//! out here because a fitted smartcore `SVC` borrows its kernel from the parameters it was
//! fitted with and does not serialise it, so it cannot be loaded back from a file; what
//! it does serialise — each pair's support vectors, their weights and the bias — is all
//! its decision function needs: `f(x) = b + Σᵢ wᵢ·exp(−γ‖x − svᵢ‖²)`, the pair's second
//! genre when `f > 0`. `tests` checks this against smartcore's own `predict`.
//!
//! Tensors: `support` `[Σ n_support, d]`, `weight` `[Σ n_support]`, `bias` `[pairs]`;
//! the card lists the pairs and their support counts.

use super::{FitOutput, Predict};
use crate::features::SUMMARY_LEN;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::svm::svc::{SVCParameters, SVC};
use smartcore::svm::Kernels;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SvmConfig {
    pub c: f64,
    pub gamma: f64,
    /// `(first genre, second genre, support vectors)` of each fitted pair.
    pub pairs: Vec<(usize, usize, usize)>,
}

pub(super) struct Svm {
    gamma: f64,
    pairs: Vec<(usize, usize, usize)>,
    support: Tensor,
    weight: Tensor,
    bias: Tensor,
}

impl Svm {
    pub fn new(cfg: &SvmConfig, vb: VarBuilder) -> Result<Self> {
        let n: usize = cfg.pairs.iter().map(|p| p.2).sum();
        Ok(Self {
            gamma: cfg.gamma,
            pairs: cfg.pairs.clone(),
            support: vb.get((n, SUMMARY_LEN), "support")?,
            weight: vb.get(n, "weight")?,
            bias: vb.get(cfg.pairs.len(), "bias")?,
        })
    }
}

impl Predict for Svm {
    fn probs(&self, xs: &[Vec<f32>], n_labels: usize) -> Result<Vec<Vec<f32>>> {
        let support = self.support.flatten_all()?.to_vec1::<f32>()?;
        let (weight, bias) = (self.weight.to_vec1::<f32>()?, self.bias.to_vec1::<f32>()?);
        if let Some(&(a, b, _)) = self.pairs.iter().find(|p| p.0.max(p.1) >= n_labels) {
            candle_core::bail!("SVM pair ({a}, {b}) is not among the card's {n_labels} labels");
        }
        let votes = self.pairs.len().max(1) as f32;
        Ok(xs
            .iter()
            .map(|x| {
                let mut p = vec![0.0f32; n_labels];
                let mut sv = support.chunks(SUMMARY_LEN).zip(&weight);
                for (&(a, b, n), &bias) in self.pairs.iter().zip(&bias) {
                    let f = decision(sv.by_ref().take(n), bias, self.gamma, x);
                    p[if f > 0.0 { b } else { a }] += 1.0 / votes;
                }
                p
            })
            .collect())
    }
}

/// One pair's `f(x) = b + Σᵢ wᵢ·exp(−γ‖x − svᵢ‖²)`, summed in f64 as smartcore does.
pub(super) fn decision<'a>(
    support: impl Iterator<Item = (&'a [f32], &'a f32)>,
    bias: f32,
    gamma: f64,
    x: &[f32],
) -> f64 {
    bias as f64
        + support
            .map(|(s, &w)| {
                let d2: f64 = s
                    .iter()
                    .zip(x)
                    .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                    .sum();
                w as f64 * (-gamma * d2).exp()
            })
            .sum::<f64>()
}

/// smartcore's SVC settings for `cfg`; SMO visits the rows in a shuffled order, seeded
/// so that a fit can be repeated.
pub(super) fn parameters(
    cfg: &SvmConfig,
    seed: u64,
) -> SVCParameters<f64, i32, DenseMatrix<f64>, Vec<i32>> {
    SVCParameters::default()
        .with_c(cfg.c)
        .with_kernel(Kernels::rbf().with_gamma(cfg.gamma))
        .with_seed(Some(seed))
}

/// One binary SVC on the rows of genres `a` and `b`, checked.
fn fit_pair(
    params: &SVCParameters<f64, i32, DenseMatrix<f64>, Vec<i32>>,
    x: &[Vec<f64>],
    y: &[i32],
    a: i32,
    b: i32,
) -> crate::Result<FittedPair> {
    let rows: Vec<usize> = (0..y.len()).filter(|&r| y[r] == a || y[r] == b).collect();
    // smartcore's SMO copies at most as many values of a row as there are rows, so with
    // fewer rows than features its support vectors come out cut short.
    if rows.len() < SUMMARY_LEN {
        return Err(crate::Error::Fit(format!(
            "the SVM needs at least {SUMMARY_LEN} windows of every pair of genres, genres {a} \
             and {b} have {}",
            rows.len()
        )));
    }
    let xs: Vec<Vec<f64>> = rows.iter().map(|&r| x[r].clone()).collect();
    let ys: Vec<i32> = rows.iter().map(|&r| y[r]).collect();
    let xm = DenseMatrix::from_2d_vec(&xs).map_err(super::fit::failed)?;
    let svc = SVC::fit(&xm, &ys, params).map_err(super::fit::failed)?;
    let p: FittedPair = super::fit::read_fitted(&svc)?;
    if p.classes != (a, b)
        || p.w.len() != p.instances.len()
        || p.instances.iter().any(|v| v.len() != SUMMARY_LEN)
    {
        return Err(crate::Error::Fit(format!(
            "smartcore fitted the pair {:?} for genres ({a}, {b}) with {} weights for {} support \
             vectors",
            p.classes,
            p.w.len(),
            p.instances.len()
        )));
    }
    Ok(p)
}

/// What smartcore serialises of a fitted binary `SVC` (see the module doc).
#[derive(Deserialize)]
struct FittedPair {
    classes: (i32, i32),
    instances: Vec<Vec<f64>>,
    w: Vec<f64>,
    b: f64,
}

pub(super) fn fit(
    cfg: &SvmConfig,
    x: &[Vec<f64>],
    y: &[i32],
    seed: u64,
) -> crate::Result<FitOutput> {
    let mut genres: Vec<i32> = y.to_vec();
    genres.sort_unstable();
    genres.dedup();
    let pairs: Vec<(i32, i32)> = genres
        .iter()
        .enumerate()
        .flat_map(|(i, &a)| genres[i + 1..].iter().map(move |&b| (a, b)))
        .collect();
    // The pairs are independent fits: one per core (each with its own parameters: the
    // kernel in them cannot be shared between threads).
    let fitted: Vec<FittedPair> = pairs
        .par_iter()
        .map(|&(a, b)| fit_pair(&parameters(cfg, seed), x, y, a, b))
        .collect::<crate::Result<_>>()?;
    let (mut support, mut weight, mut bias) = (vec![], vec![], vec![]);
    for p in &fitted {
        support.extend(p.instances.iter().flatten().map(|&v| v as f32));
        weight.extend(p.w.iter().map(|&v| v as f32));
        bias.push(p.b as f32);
    }
    let pairs = pairs
        .iter()
        .zip(&fitted)
        .map(|(&(a, b), p)| (a as usize, b as usize, p.instances.len()))
        .collect();
    let n = weight.len();
    Ok(FitOutput {
        classifier: super::Classifier::Svm(SvmConfig {
            pairs,
            ..cfg.clone()
        }),
        tensors: vec![
            ("svm.support".into(), vec![n, SUMMARY_LEN], support),
            ("svm.weight".into(), vec![n], weight),
            ("svm.bias".into(), vec![bias.len()], bias),
        ],
    })
}
