//! Fitting a classical system on window summaries: the scaler, then the classifier.

use super::{forest, knn, logistic, svm, Classifier, HandFeaturesConfig};
use crate::features::SUMMARY_LEN;
use crate::{Error, Result};

/// A fitted system: its card entry (with the shapes of what was fitted) and its tensors,
/// `(name, shape, values)`, under the names [`super::HandFeatures::new`] reads.
pub struct Fitted {
    pub config: HandFeaturesConfig,
    pub tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
}

/// One classifier's part of [`Fitted`].
pub(super) struct FitOutput {
    pub classifier: Classifier,
    pub tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
}

pub(super) fn failed(e: smartcore::error::Failed) -> Error {
    Error::Fit(e.to_string())
}

/// Reads a fitted smartcore model through its serde form (how the classifiers that keep
/// their fitted state private hand it over).
pub(super) fn read_fitted<T: serde::de::DeserializeOwned>(
    fitted: &impl serde::Serialize,
) -> Result<T> {
    serde_json::to_value(fitted)
        .and_then(serde_json::from_value)
        .map_err(|e| Error::Fit(format!("reading what smartcore fitted: {e}")))
}

/// Fits `cfg`'s classifier on window summaries `x` (each [`SUMMARY_LEN`] long) of genres
/// `y` (indices below `n_labels`), behind a standardising scaler.
pub fn fit(
    cfg: &HandFeaturesConfig,
    x: &[Vec<f32>],
    y: &[usize],
    n_labels: usize,
    seed: u64,
) -> Result<Fitted> {
    if x.len() != y.len() || x.is_empty() {
        return Err(Error::Config(format!(
            "fitting needs as many genres as windows, and some: {} windows, {} genres",
            x.len(),
            y.len()
        )));
    }
    if let Some(bad) = x.iter().find(|r| r.len() != SUMMARY_LEN) {
        return Err(Error::Config(format!(
            "a window summary has {} values, not {SUMMARY_LEN}",
            bad.len()
        )));
    }
    if let Some(bad) = y.iter().find(|&&g| g >= n_labels) {
        return Err(Error::Config(format!(
            "genre {bad} is not below {n_labels}"
        )));
    }
    if x.iter().flatten().any(|v| !v.is_finite()) {
        return Err(Error::Config("a window summary is not finite".into()));
    }
    let n = x.len() as f64;
    let mean: Vec<f64> = (0..SUMMARY_LEN)
        .map(|j| x.iter().map(|r| r[j] as f64).sum::<f64>() / n)
        .collect();
    // A feature constant over the training windows gets scale 1: it carries nothing, and
    // dividing by ~0 would turn rounding noise into huge values.
    let std: Vec<f64> = (0..SUMMARY_LEN)
        .map(|j| {
            let v = x
                .iter()
                .map(|r| (r[j] as f64 - mean[j]).powi(2))
                .sum::<f64>()
                / n;
            if v > 1e-12 {
                v.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    let (mean32, std32): (Vec<f32>, Vec<f32>) = (
        mean.iter().map(|&v| v as f32).collect(),
        std.iter().map(|&v| v as f32).collect(),
    );
    // Standardised exactly as inference will (in f32), then widened for smartcore.
    let xs: Vec<Vec<f64>> = x
        .iter()
        .map(|r| {
            let mut r = r.clone();
            super::standardise(&mut r, &mean32, &std32);
            r.into_iter().map(f64::from).collect()
        })
        .collect();
    let ys: Vec<i32> = y.iter().map(|&g| g as i32).collect();
    let out = match &cfg.classifier {
        Classifier::Svm(c) => svm::fit(c, &xs, &ys, seed)?,
        Classifier::Logistic(c) => logistic::fit(c, &xs, &ys, n_labels)?,
        Classifier::Knn(c) => knn::fit(c, &xs, &ys)?,
        Classifier::Forest(c) => forest::fit(c, &xs, &ys, seed)?,
    };
    let mut tensors = vec![
        ("scaler.mean".to_string(), vec![SUMMARY_LEN], mean32),
        ("scaler.std".to_string(), vec![SUMMARY_LEN], std32),
    ];
    tensors.extend(out.tensors);
    Ok(Fitted {
        config: HandFeaturesConfig {
            classifier: out.classifier,
        },
        tensors,
    })
}
