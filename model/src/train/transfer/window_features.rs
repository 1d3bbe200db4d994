//! The backbone's features for every window of every clip, computed once: what the head
//! trains on. A clip already in the on-disk [`FeatureCache`] is read, not recomputed.

use crate::train::backbone::FeatureBackbone;
use crate::train::feature_cache::{FeatureCache, FeatureRecipe};
use crate::train::{ClipFeatures, Observer};
use crate::weights::ModelCard;
use crate::window::{copy_window, normalize, window_starts};
use crate::Result;
use candle_core::{Device, Tensor};

/// One feature vector per window, with its clip and label.
pub struct WindowFeatures {
    pub dim: usize,
    /// `[windows, dim]`, row-major.
    pub x: Vec<f32>,
    pub labels: Vec<usize>,
    pub clip_of: Vec<usize>,
    pub clip_labels: Vec<usize>,
}

impl WindowFeatures {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Runs the backbone over every `hop_s` window of every clip (mels made with the card's
/// front end), once per level in `levels_db` (see [`TransferConfig::levels_db`]; empty
/// for the windows as recorded), and keeps its features. With a `cache`, a clip whose
/// features are already there skips the backbone, and new ones are added.
// Each argument is a separate input of the one pass (what runs, on which clips, how they
// are cut, where results are kept, progress): a struct would only rename the list.
#[allow(clippy::too_many_arguments)]
pub fn backbone_features(
    backbone: &dyn FeatureBackbone,
    card: &ModelCard,
    clips: &[ClipFeatures],
    hop_s: f32,
    levels_db: &[f32],
    cache: Option<&FeatureCache>,
    device: &Device,
    obs: &mut dyn Observer,
) -> Result<WindowFeatures> {
    let (n_mels, wf) = (card.front_end.mel.n_mels, card.window_frames);
    let hop = card.front_end.mel.hop_frames(hop_s);
    let dim = backbone.dim();
    let mut out = WindowFeatures {
        dim,
        x: Vec::new(),
        labels: Vec::new(),
        clip_of: Vec::new(),
        clip_labels: Vec::new(),
    };
    let recipe = FeatureRecipe {
        card,
        features: backbone.describe(),
        hop_frames: hop,
        levels_db,
    };
    obs.stage("backbone features", clips.len());
    let (mut w, mut batch) = (Vec::new(), Vec::new());
    for (ci, f) in clips.iter().enumerate() {
        obs.tick(&f.clip.key());
        out.clip_labels.push(f.clip.genre);
        let starts: Vec<usize> = window_starts(f.mel.frames(), wf, hop).collect();
        let rows = starts.len() * levels_db.len().max(1);
        let entry = cache.map(|c| c.entry(&f.mel, &recipe));
        if let (Some(c), Some(path)) = (cache, &entry) {
            match c.load(path, rows, dim) {
                Ok(Some(x)) => {
                    out.x.extend_from_slice(&x);
                    out.labels.extend(std::iter::repeat_n(f.clip.genre, rows));
                    out.clip_of.extend(std::iter::repeat_n(ci, rows));
                    continue;
                }
                Ok(None) => {}
                Err(e) => obs.warn(&format!(
                    "feature cache entry for {} is unusable, recomputing: {e}",
                    f.clip.path.display()
                )),
            }
        }
        let first_row = out.len();
        // (start, gain): the gain that brings the window to each target level.
        let jobs: Vec<(usize, f32)> = if levels_db.is_empty() {
            starts.iter().map(|&s| (s, 0.0)).collect()
        } else {
            levels_db
                .iter()
                .flat_map(|&target| starts.iter().map(move |&s| (s, target)))
                .map(|(s, target)| {
                    let e = &f.mel.energy[s..s + wf];
                    let mean = e.iter().map(|&v| v as f64).sum::<f64>() / wf as f64;
                    // A silent window has no level to move: leave it as it is.
                    let gain = if mean > 1e-12 {
                        target - 10.0 * mean.log10() as f32
                    } else {
                        0.0
                    };
                    (s, gain)
                })
                .collect()
        };
        for chunk in jobs.chunks(8) {
            batch.clear();
            for &(s, g) in chunk {
                copy_window(&f.mel.data, n_mels, s, wf, &mut w);
                if g != 0.0 {
                    card.front_end.mel.scale.apply_gain(&mut w, g);
                }
                normalize(&mut w, card.norm);
                batch.extend_from_slice(&w);
            }
            let x = Tensor::from_slice(&batch, (chunk.len(), n_mels, wf), device)?;
            let feats = backbone
                .features(&x)?
                .to_device(&Device::Cpu)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            out.x.extend_from_slice(&feats);
            out.labels
                .extend(std::iter::repeat_n(f.clip.genre, chunk.len()));
            out.clip_of.extend(std::iter::repeat_n(ci, chunk.len()));
        }
        debug_assert_eq!(out.len() - first_row, rows);
        if let (Some(c), Some(path)) = (cache, &entry) {
            // A cache that cannot be written costs the next run time, not this one its result.
            if let Err(e) = c.store(path, &out.x[first_row * dim..], rows, dim) {
                obs.warn(&format!(
                    "could not write the feature cache entry {}: {e}",
                    path.display()
                ));
            }
        }
    }
    obs.stage_done();
    Ok(out)
}
