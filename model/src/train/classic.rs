//! Fitting a classical system (hand-made features + a classifier, [`crate::classic`]) on
//! clips: the summary of every window, cut as the Tagger and the evaluator cut them, then
//! one fit — no epochs, so [`TrainOutcome::history`] stays empty.

use super::{evaluate, ClipFeatures, Observer, TrainOutcome, CNN_BEST_BY};
use crate::arch::Arch;
use crate::classic::Fitted;
use crate::features::{summarize, SUMMARY_LEN};
use crate::net::GenreNet;
use crate::weights::{build_trainable, ModelCard};
use crate::window::{copy_window, window_starts};
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassicConfig {
    /// Seconds between training windows (each one summary row).
    pub train_hop_s: f32,
    /// Seconds between validation windows.
    pub eval_hop_s: f32,
    pub seed: u64,
}

impl Default for ClassicConfig {
    fn default() -> Self {
        Self {
            train_hop_s: 1.5,
            eval_hop_s: 1.5,
            seed: 42,
        }
    }
}

/// The summary of every window of `clips`, every `hop_s`, with its clip's genre.
pub fn window_summaries(
    card: &ModelCard,
    clips: &[ClipFeatures],
    hop_s: f32,
) -> (Vec<Vec<f32>>, Vec<usize>) {
    let (rows, wf) = (card.front_end.mel.n_mels, card.window_frames);
    let hop = card.front_end.mel.hop_frames(hop_s);
    let per_clip: Vec<Vec<(Vec<f32>, usize)>> = clips
        .par_iter()
        .map(|c| {
            let mut w = Vec::new();
            window_starts(c.mel.frames(), wf, hop)
                .map(|start| {
                    copy_window(&c.mel.data, rows, start, wf, &mut w);
                    let mut s = vec![0.0f32; SUMMARY_LEN];
                    summarize(&w, wf, &mut s);
                    (s, c.clip.genre)
                })
                .collect()
        })
        .collect();
    per_clip.into_iter().flatten().unzip()
}

/// A fitted classical system as a model: `card` with what was fitted recorded in its
/// architecture, and its variables set to the fitted tensors (a shape that disagrees is an
/// error). Save it with [`crate::weights::save`].
pub fn build_fitted(
    card: &ModelCard,
    fitted: Fitted,
    device: &Device,
) -> Result<(ModelCard, VarMap, Box<dyn GenreNet>)> {
    let card = ModelCard {
        arch: Arch::HandFeatures(fitted.config),
        ..card.clone()
    };
    let (varmap, net) = build_trainable(&card, device, 0)?;
    {
        let vars = varmap.data().lock().expect("varmap poisoned");
        for (name, shape, values) in fitted.tensors {
            let var = vars.get(&name).ok_or_else(|| {
                Error::WeightsMismatch(format!("fitted tensor '{name}' has no variable"))
            })?;
            var.set(&Tensor::from_vec(values, shape, device)?)?;
        }
    }
    Ok((card, varmap, net))
}

/// Fits `card`'s classifier on `train_set` and validates it on `valid_set`. Returns the
/// card with what was fitted recorded in its architecture (the shapes its tensors need)
/// and the outcome, whose network is ready to tag.
pub fn fit_classic(
    card: &ModelCard,
    train_set: &[ClipFeatures],
    valid_set: &[ClipFeatures],
    cfg: &ClassicConfig,
    device: &Device,
    obs: &mut dyn Observer,
) -> Result<(ModelCard, TrainOutcome)> {
    let Arch::HandFeatures(hf) = &card.arch else {
        return Err(Error::Config(format!(
            "{:?} is not a classical system",
            card.arch
        )));
    };
    obs.stage("window summaries", 1);
    let (x, y) = window_summaries(card, train_set, cfg.train_hop_s);
    obs.stage_done();
    if x.is_empty() {
        return Err(Error::Data("no training window to fit on".into()));
    }
    obs.stage(&format!("fitting on {} windows", x.len()), 1);
    let fitted = crate::classic::fit(hf, &x, &y, card.labels.len(), cfg.seed)?;
    obs.stage_done();
    let (card, varmap, net) = build_fitted(card, fitted, device)?;
    let valid = evaluate(net.as_ref(), &card, valid_set, cfg.eval_hop_s, device)?;
    Ok((
        card,
        TrainOutcome {
            varmap,
            net,
            history: Vec::new(),
            best_epoch: 0,
            best_by: CNN_BEST_BY,
            valid,
        },
    ))
}
