//! k nearest neighbours (Euclidean) on the standardised summaries. k-NN fits nothing: the
//! model is its training rows (`rows` `[n, d]`) and their genres (`genres` `[n]`, genre
//! indices as floats), searched exhaustively at inference — what smartcore's linear search
//! does, written out here so that the stored form is plain tensors like every other model
//! (a few thousand rows of ~130 values: microseconds per window).

use super::{FitOutput, Predict};
use crate::features::SUMMARY_LEN;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnnConfig {
    pub k: usize,
    /// Training rows kept.
    pub rows: usize,
}

pub(super) struct Knn {
    k: usize,
    rows: Tensor,
    genres: Tensor,
}

impl Knn {
    pub fn new(cfg: &KnnConfig, vb: VarBuilder) -> Result<Self> {
        if cfg.k == 0 || cfg.k > cfg.rows {
            candle_core::bail!(
                "k-NN needs 1 ≤ k ≤ {} rows, card says k = {}",
                cfg.rows,
                cfg.k
            );
        }
        Ok(Self {
            k: cfg.k,
            rows: vb.get((cfg.rows, SUMMARY_LEN), "rows")?,
            genres: vb.get(cfg.rows, "genres")?,
        })
    }
}

impl Predict for Knn {
    fn probs(&self, xs: &[Vec<f32>], n_labels: usize) -> Result<Vec<Vec<f32>>> {
        let rows = self.rows.flatten_all()?.to_vec1::<f32>()?;
        let genres = self
            .genres
            .to_vec1::<f32>()?
            .into_iter()
            .map(|g| super::label_index(g, n_labels, "k-NN genre"))
            .collect::<Result<Vec<usize>>>()?;
        Ok(xs
            .iter()
            .map(|x| {
                let mut dist: Vec<(f32, usize)> = rows
                    .chunks(SUMMARY_LEN)
                    .zip(&genres)
                    .map(|(r, &g)| (r.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum(), g))
                    .collect();
                dist.select_nth_unstable_by(self.k - 1, |a, b| a.0.total_cmp(&b.0));
                let mut p = vec![0.0f32; n_labels];
                for &(_, g) in &dist[..self.k] {
                    p[g] += 1.0 / self.k as f32;
                }
                p
            })
            .collect())
    }
}

pub(super) fn fit(cfg: &KnnConfig, x: &[Vec<f64>], y: &[i32]) -> crate::Result<FitOutput> {
    if x.len() < cfg.k {
        return Err(crate::Error::Config(format!(
            "k-NN with k = {} needs at least that many training windows, got {}",
            cfg.k,
            x.len()
        )));
    }
    Ok(FitOutput {
        classifier: super::Classifier::Knn(KnnConfig {
            rows: x.len(),
            ..cfg.clone()
        }),
        tensors: vec![
            (
                "knn.rows".into(),
                vec![x.len(), SUMMARY_LEN],
                x.iter().flatten().map(|&v| v as f32).collect(),
            ),
            (
                "knn.genres".into(),
                vec![y.len()],
                y.iter().map(|&g| g as f32).collect(),
            ),
        ],
    })
}
