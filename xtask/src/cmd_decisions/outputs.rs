//! What a backbone gives every part of the protocol (cached window features), what a
//! candidate makes of them (window distributions), and what the backbone and a decision
//! cost (time per window, fitted parameters).

use super::mix::MIX_RATE;
use super::{Sets, EVAL_HOP_S, MIX_HOP_S};
use crate::progress::Bars;
use anyhow::Result;
use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use model::train::{
    backbone_features, cached_probs, load_features, Clip, ClipFeatures, FeatureBackbone,
    FeatureCache, TransferConfig, WindowFeatures,
};
use model::weights::ModelCard;

/// One backbone's cached outputs for every part of the protocol.
pub struct Outputs {
    pub fit: WindowFeatures,
    pub valid: WindowFeatures,
    pub heldout: WindowFeatures,
    pub cc: WindowFeatures,
    /// The mix's windows, `MIX_HOP_S` apart as near as the backbone's frame rate allows.
    pub mix: WindowFeatures,
    /// Seconds between the mix's windows.
    pub mix_hop_s: f64,
}

#[allow(clippy::too_many_arguments)]
pub fn outputs(
    backbone: &dyn FeatureBackbone,
    card: &ModelCard,
    sets: &Sets,
    mix: &[f32],
    cfg: &TransferConfig,
    cache: &FeatureCache,
    device: &Device,
    bars: &mut Bars,
) -> Result<Outputs> {
    let wf = card.window_frames;
    let part = |clips: &[Clip], hop: f32, levels: &[f32], bars: &mut Bars| -> Result<_> {
        let mels = load_features(clips, &card.front_end, wf, bars)?;
        Ok(backbone_features(
            backbone,
            card,
            &mels,
            hop,
            levels,
            Some(cache),
            device,
            bars,
        )?)
    };
    let fit = part(&sets.fit, cfg.train_hop_s, &cfg.levels_db, bars)?;
    let valid = part(&sets.valid, EVAL_HOP_S, &[], bars)?;
    let heldout = part(&sets.heldout, EVAL_HOP_S, &[], bars)?;
    let cc = part(&sets.cc, EVAL_HOP_S, &[], bars)?;
    let x = model::audio::resample(mix, MIX_RATE, card.front_end.mel.sample_rate)?;
    let mel = model::mel::mel_spectrogram(&card.front_end.mel, &x)?;
    let clip = Clip {
        path: "dj mix".into(),
        genre: 0,
        index: 0,
    };
    let mix = backbone_features(
        backbone,
        card,
        &[ClipFeatures { clip, mel }],
        MIX_HOP_S,
        &[],
        Some(cache),
        device,
        bars,
    )?;
    let hop_frames =
        (MIX_HOP_S * card.front_end.mel.sample_rate as f32 / card.front_end.mel.hop as f32).round();
    Ok(Outputs {
        fit,
        valid,
        heldout,
        cc,
        mix,
        mix_hop_s: hop_frames as f64 * card.front_end.mel.hop as f64
            / card.front_end.mel.sample_rate as f64,
    })
}

/// Per clip distributions of gtzan-mini validation, the held-out half and the CC pieces.
pub type ClipDists = [Vec<Vec<f32>>; 3];
/// `(window start, distribution)` over the mix.
pub type MixTimeline = Vec<(f64, Vec<f32>)>;

/// A candidate's window distributions on every scored part.
pub struct Scored {
    pub valid: Vec<Vec<f32>>,
    pub heldout: Vec<Vec<f32>>,
    pub cc: Vec<Vec<f32>>,
    /// `(window start, distribution)` over the mix.
    pub mix: MixTimeline,
}

pub fn score_all(
    card: &ModelCard,
    varmap: &VarMap,
    out: &Outputs,
    device: &Device,
) -> Result<Scored> {
    let p = |set: &WindowFeatures| cached_probs(card, varmap, set, device);
    Ok(Scored {
        valid: p(&out.valid)?,
        heldout: p(&out.heldout)?,
        cc: p(&out.cc)?,
        mix: p(&out.mix)?
            .into_iter()
            .enumerate()
            .map(|(i, q)| (i as f64 * out.mix_hop_s, q))
            .collect(),
    })
}

/// Median forward time of `backbone` per window, batch 1, on one thread.
pub fn ms_per_window(
    backbone: &dyn FeatureBackbone,
    card: &ModelCard,
    device: &Device,
) -> Result<f64> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let x = Tensor::randn(
        0f32,
        1.0,
        (1, card.front_end.mel.n_mels, card.window_frames),
        device,
    )?;
    pool.install(|| -> Result<f64> {
        backbone.features(&x)?; // warm-up
        let mut t: Vec<f64> = (0..15)
            .map(|_| {
                let t0 = std::time::Instant::now();
                backbone
                    .features(&x)
                    .map(|_| t0.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<model::Result<_>>()?;
        t.sort_by(f64::total_cmp);
        Ok(t[t.len() / 2])
    })
}

/// Trainable parameters of a decision: what `train` fits for it.
pub fn fitted_params(varmap: &VarMap) -> usize {
    let data = varmap.data().lock().expect("varmap poisoned");
    data.iter()
        .filter(|(k, _)| {
            k.starts_with("decision.")
                && !k.ends_with("feature_mean")
                && !k.ends_with("feature_std")
        })
        .map(|(_, v)| v.elem_count())
        .sum()
}

/// The trained parameters of a musicnn model's head.
pub fn head_params(varmap: &VarMap) -> usize {
    let data = varmap.data().lock().expect("varmap poisoned");
    data.iter()
        .filter(|(k, _)| k.starts_with("head.linear"))
        .map(|(_, v)| v.elem_count())
        .sum()
}
