//! (f): musicnn's MSD model, zero-shot — a second opinion from another network trained on
//! other labels (the Million Song Dataset's 50 most frequent Last.fm tags).
//!
//! Seven of the ten genres have a tag of their own (pop, country, blues, jazz, metal with
//! "heavy metal", Hip-Hop, rock) and disco takes "70s" and "funk", as in the AudioSet
//! findings (`../shared/notes/audioset-findings.md`). Classical and reggae have no tag:
//! (f) never names them, which is why it is measured alone and as a mean with the
//! EfficientAT zero-shot decisions, not as a default of its own.

use super::outputs::{ms_per_window, outputs, Outputs, Scored};
use super::{Lab, Sets};
use crate::pretrained::committed_musicnn;
use crate::progress::Bars;
use anyhow::{ensure, Result};
use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use model::nets::musicnn::{read_tf_file, Backbone, HeadConfig, HeadInput, Variant, MSD_TAGS};
use model::train::{FeatureCache, MusicnnFeatures, WindowFeatures};
use model::weights::ModelCard;
use std::collections::HashMap;

/// The MSD tags that stand for each genre, in `model::GENRES` order.
pub const GENRE_TAGS: [&[&str]; 10] = [
    &["blues"],
    &[],
    &["country"],
    &["70s", "funk"],
    &["Hip-Hop"],
    &["jazz"],
    &["metal", "heavy metal"],
    &["pop"],
    &[],
    &["rock"],
];

/// A window's genre distribution from its 50 tag logits: each genre's largest logit among
/// its tags, softmaxed over the genres that have tags; the others get 0.
pub fn distribution(tag_logits: &[f32]) -> Vec<f32> {
    let logit = |tags: &[&str]| {
        tags.iter()
            .filter_map(|t| MSD_TAGS.iter().position(|m| m == t))
            .map(|i| tag_logits[i])
            .fold(f32::NEG_INFINITY, f32::max)
    };
    let z: Vec<f32> = GENRE_TAGS.iter().map(|tags| logit(tags)).collect();
    // A genre without tags has logit −∞: probability 0.
    model::distribution::softmax(&z)
}

/// (f) over every scored part of the protocol: its cached outputs (tag logits), its window
/// distributions, and the network's time per window.
pub struct Msd {
    pub out: Outputs,
    pub scored: Scored,
    pub ms: f64,
    pub window_s: f64,
}

pub fn msd(lab: &Lab, bars: &mut Bars) -> Result<Msd> {
    let device = &lab.device;
    let (variant, tensors) = read_tf_file(&committed_musicnn(Variant::Msd), "backbone.", device)?;
    ensure!(
        variant == Variant::Msd,
        "the committed MSD weights say {variant:?}"
    );
    let vars: HashMap<String, Tensor> = tensors.clone();
    let backbone =
        Backbone::new(VarBuilder::from_tensors(tensors, DType::F32, device).pp("backbone"))?;
    let features = MusicnnFeatures {
        backbone: &backbone,
        input: HeadInput::Tags,
    };
    let card = ModelCard::musicnn(Variant::Msd, HeadConfig::default());
    let cache = FeatureCache::new(&lab.cache_dir, &vars)?;
    // Nothing is fitted: only the scored parts are needed.
    let scored_only = Sets {
        fit: Vec::new(),
        valid: lab.sets.valid.clone(),
        heldout: lab.sets.heldout.clone(),
        cc: lab.sets.cc.clone(),
    };
    let out = outputs(
        &features,
        &card,
        &scored_only,
        lab.mix,
        &lab.cfg,
        &cache,
        device,
        bars,
    )?;
    let p = |set: &WindowFeatures| -> Vec<Vec<f32>> {
        set.x.chunks(set.dim).map(distribution).collect()
    };
    let scored = Scored {
        valid: p(&out.valid),
        heldout: p(&out.heldout),
        cc: p(&out.cc),
        mix: p(&out.mix)
            .into_iter()
            .enumerate()
            .map(|(i, q)| (i as f64 * out.mix_hop_s, q))
            .collect(),
    };
    Ok(Msd {
        ms: ms_per_window(&features, &card, device)?,
        window_s: card.window_seconds() as f64,
        out,
        scored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::GENRES;

    fn logits(high: &[(&str, f32)]) -> Vec<f32> {
        let mut z = vec![-5.0f32; MSD_TAGS.len()];
        for (tag, v) in high {
            z[MSD_TAGS.iter().position(|t| t == tag).unwrap()] = *v;
        }
        z
    }

    #[test]
    fn each_genre_takes_its_strongest_tag_and_untagged_genres_get_nothing() {
        let p = distribution(&logits(&[("heavy metal", 3.0), ("rock", 1.0)]));
        let genre = |g: &str| p[GENRES.iter().position(|x| *x == g).unwrap()];
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(
            model::distribution::argmax(&p),
            6,
            "metal, by heavy metal: {p:?}"
        );
        assert!(genre("metal") > genre("rock") && genre("rock") > genre("pop"));
        assert_eq!((genre("classical"), genre("reggae")), (0.0, 0.0));
        let p = distribution(&logits(&[("funk", 2.0)]));
        assert_eq!(model::distribution::argmax(&p), 3, "disco, by funk");
        for tags in GENRE_TAGS {
            for t in tags {
                assert!(MSD_TAGS.contains(t), "{t} is an MSD tag");
            }
        }
    }
}
