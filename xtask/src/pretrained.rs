//! The pretrained backbones (musicnn, EfficientAT): where their committed weights are, and
//! how a genre head or decision is trained on their frozen outputs. `train`, `zoo` and
//! `decisions` all read them through here.

use crate::progress::Bars;
use anyhow::{Context, Result};
use model::arch::Arch;
use model::nets::efficientat::Mn;
use model::nets::musicnn::{read_tf_file, Backbone, Variant};
use model::train::{
    backbone_features, train_head, ClipFeatures, EfficientAtFeatures, FeatureBackbone,
    FeatureCache, MusicnnFeatures, TrainOutcome, TransferConfig, WindowFeatures,
};
use model::weights::ModelCard;
use std::collections::HashMap;
use std::path::PathBuf;

/// Where backbone features are cached between runs unless told otherwise.
pub fn default_feature_cache() -> PathBuf {
    crate::paths::target_dir().join("feature-cache")
}

/// The committed copy of musicnn's published weights.
pub fn committed_musicnn(variant: Variant) -> PathBuf {
    crate::paths::workspace_root()
        .join("model/weights/musicnn")
        .join(format!("{}.safetensors", variant.name()))
}

/// The committed copy of EfficientAT's published `mn04_as` checkpoint.
pub fn committed_efficientat() -> PathBuf {
    crate::paths::workspace_root().join("model/weights/efficientat/mn04_as.safetensors")
}

/// EfficientAT's checkpoint tensors, under the names a model file keeps them.
pub fn efficientat_tensors(
    path: &std::path::Path,
    device: &candle_core::Device,
) -> Result<HashMap<String, candle_core::Tensor>> {
    candle_core::safetensors::load(path, device)
        .with_context(|| format!("reading EfficientAT weights {}", path.display()))
}

/// What a transfer head's training reads besides its clips: the backbone's weights
/// (`None`: the committed copy) and where its features are cached (`None`: not cached).
pub struct TransferInputs {
    pub backbone_weights: Option<PathBuf>,
    pub feature_cache: Option<PathBuf>,
}

/// A head on a pretrained network: load its published weights, run it (frozen) once over
/// every window (training at `--train-hop` and `--levels`, validation at the evaluator's
/// 1.5 s), then fit the head or decision on those features.
pub fn train_transfer_head(
    card: &ModelCard,
    inputs: &TransferInputs,
    train_f: &[ClipFeatures],
    valid_f: &[ClipFeatures],
    cfg: &TransferConfig,
    device: &candle_core::Device,
    bars: &mut Bars,
) -> Result<TrainOutcome> {
    let fit = |backbone: &dyn FeatureBackbone,
               cache_key: &HashMap<String, candle_core::Tensor>,
               model_tensors: &HashMap<String, candle_core::Tensor>,
               bars: &mut Bars| {
        let cache = match &inputs.feature_cache {
            None => None,
            Some(dir) => Some(FeatureCache::new(dir.clone(), cache_key)?),
        };
        let features = |clips: &[ClipFeatures], hop: f32, levels: &[f32], bars: &mut Bars| {
            backbone_features(
                backbone,
                card,
                clips,
                hop,
                levels,
                cache.as_ref(),
                device,
                bars,
            )
        };
        // A decision with nothing to fit (zero-shot) needs no training windows.
        let fits =
            !matches!(&card.arch, Arch::EfficientAt(e) if e.decision.fitted_variables().is_empty());
        let train_w = if fits {
            features(train_f, cfg.train_hop_s, &cfg.levels_db, bars)?
        } else {
            WindowFeatures {
                dim: backbone.dim(),
                x: Vec::new(),
                labels: Vec::new(),
                clip_of: Vec::new(),
                clip_labels: Vec::new(),
            }
        };
        let valid_w = features(valid_f, cfg.eval_hop_s, &[], bars)?;
        if let Some(c) = &cache {
            eprintln!(
                "feature cache {}: {} clips found, {} computed",
                c.dir().display(),
                c.hits(),
                c.misses()
            );
        }
        eprintln!(
            "{} training / {} validation windows of {}-d features ({})",
            train_w.len(),
            valid_w.len(),
            train_w.dim,
            backbone.describe()
        );
        anyhow::Ok(train_head(
            card,
            model_tensors,
            &train_w,
            &valid_w,
            cfg,
            device,
            bars,
        )?)
    };
    match &card.arch {
        Arch::Musicnn(mcfg) => {
            let variant = mcfg.variant;
            let path = inputs
                .backbone_weights
                .clone()
                .unwrap_or_else(|| committed_musicnn(variant));
            let (found, tensors) = read_tf_file(&path, "", device)?;
            if found != variant {
                anyhow::bail!(
                    "{} holds {}, but --backbone asks for {}",
                    path.display(),
                    found.name(),
                    variant.name()
                );
            }
            let backbone = Backbone::new(candle_nn::VarBuilder::from_tensors(
                tensors.clone(),
                candle_core::DType::F32,
                device,
            ))?;
            let features = MusicnnFeatures {
                backbone: &backbone,
                input: cfg.cached_input(mcfg.head.input),
            };
            let prefixed = tensors
                .iter()
                .map(|(k, v)| (format!("backbone.{k}"), v.clone()))
                .collect();
            fit(&features, &tensors, &prefixed, bars)
        }
        Arch::EfficientAt(ecfg) => {
            let path = inputs
                .backbone_weights
                .clone()
                .unwrap_or_else(committed_efficientat);
            let tensors = efficientat_tensors(&path, device)?;
            let net = Mn::new(
                &ecfg.net,
                candle_nn::VarBuilder::from_tensors(
                    tensors.clone(),
                    candle_core::DType::F32,
                    device,
                ),
            )?;
            fit(&EfficientAtFeatures { net: &net }, &tensors, &tensors, bars)
        }
        other => anyhow::bail!("no pretrained backbone in a {other:?} card"),
    }
}
