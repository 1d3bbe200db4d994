//! Transfer learning: a genre head on musicnn's frozen features. The backbone runs once
//! per window (or not at all, for clips already in the on-disk
//! [`FeatureCache`](super::FeatureCache)); the head then trains on those vectors in
//! seconds (many epochs, all in memory), with the CNN trainer's validation figures and
//! early stopping but its own rule for the weights it keeps ([`HEAD_BEST_BY`] says why).
//! With [`TransferConfig::fine_tune_dense`] the backbone's last hidden layer trains under
//! the head, still on cached features (its input).

use super::backbone::FeatureBackbone;
use super::best_epoch::{BestBy, BestEpoch};
use super::feature_cache::{FeatureCache, FeatureRecipe};
use super::trainer::report_from_log_probs;
use super::{ClipFeatures, EpochRecord, EvalReport, Observer, TrainOutcome};
use crate::arch::Arch;
use crate::nets::efficientat::{Decision, DecisionHead, MnOutput};
use crate::nets::musicnn::{Embedding, Head, HeadInput};
use crate::nets::SeededDropout;
use crate::weights::{build_trainable, ModelCard};
use crate::window::{copy_window, normalize};
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A head keeps the epoch with the lowest validation loss, not the CNN trainer's best
/// accuracy ([`CNN_BEST_BY`](super::CNN_BEST_BY)): a linear head on fixed features reaches
/// its accuracy within a few epochs and then wanders between near-equal values for
/// hundreds more, so the highest accuracy is a lucky epoch on a few dozen validation
/// clips; its loss is smooth, and its lowest point is where the head stops improving.
pub const HEAD_BEST_BY: BestBy = BestBy::Loss;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// AdamW decoupled weight decay: the main regulariser (with dropout) of the head.
    pub weight_decay: f64,
    pub label_smoothing: f32,
    /// Stop after this many epochs without a lower validation loss.
    pub early_stop: usize,
    pub seed: u64,
    /// Hop between training windows, seconds (each window is one feature vector).
    pub train_hop_s: f32,
    /// Hop between validation windows, seconds.
    pub eval_hop_s: f32,
    /// Absolute playback levels (RMS dBFS) at which every training window is seen,
    /// whatever its own level; empty: as recorded. The datasets' genres come at different
    /// recording levels (GTZAN's classical clips around −28 dB RMS, its jazz −20, its pop
    /// −15), so a head trained on windows as recorded learns loudness as a genre and
    /// changes its answer when the same music plays quieter. Gains relative to each clip
    /// would keep every genre's own range; absolute levels give every genre the same ones.
    pub levels_db: Vec<f32>,
    /// Also train musicnn's dense layer (1 506 → 200, initialised from the published
    /// weights) under a head that reads the 200-d embedding. The frozen backbone still runs
    /// once per window: the features it caches are the pooled ones, the dense layer's input.
    /// The dense layer learns at a tenth of the head's rate without weight decay, so it
    /// moves from the pretrained weights rather than decaying towards zero.
    #[serde(default)]
    pub fine_tune_dense: bool,
}

impl TransferConfig {
    /// Which backbone output the training features must be: what the head reads, or,
    /// when the dense layer fine-tunes, that layer's input (the pooled features).
    pub fn cached_input(&self, head: HeadInput) -> HeadInput {
        if self.fine_tune_dense {
            HeadInput::Pooled
        } else {
            head
        }
    }
}

impl Default for TransferConfig {
    fn default() -> Self {
        Self {
            epochs: 300,
            // Large: a step on 256 feature vectors costs little more than on 64, and at 64
            // the per-step overhead dominates an epoch.
            batch_size: 256,
            lr: 1e-3,
            weight_decay: 5e-2,
            label_smoothing: 0.1,
            early_stop: 40,
            seed: 42,
            train_hop_s: 1.0,
            eval_hop_s: 1.5,
            levels_db: vec![-36.0, -30.0, -24.0, -18.0, -12.0],
            fine_tune_dense: false,
        }
    }
}

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
        let rows = window_count(f.mel.frames(), wf, hop) * levels_db.len().max(1);
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
        let starts: Vec<usize> = (0..window_count(f.mel.frames(), wf, hop))
            .map(|i| i * hop)
            .collect();
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

/// Windows of `wf` frames every `hop` frames that fit in `frames`.
fn window_count(frames: usize, wf: usize, hop: usize) -> usize {
    if frames < wf {
        0
    } else {
        (frames - wf) / hop + 1
    }
}

/// Trains the head (or decision) of `card` on cached backbone features. `backbone` holds
/// the backbone's tensors under the model file's names, written into the returned model
/// unchanged. A decision with nothing to fit (zero-shot) is only scored on `valid_set`:
/// no epochs, best epoch 0.
pub fn train_head(
    card: &ModelCard,
    backbone: &HashMap<String, Tensor>,
    train_set: &WindowFeatures,
    valid_set: &WindowFeatures,
    cfg: &TransferConfig,
    device: &Device,
    obs: &mut dyn Observer,
) -> Result<TrainOutcome> {
    let d = valid_set.dim;
    let (varmap, net) = build_trainable(card, device, cfg.seed)?;
    load_backbone(&varmap, backbone, device)?;
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
    let net_view = Trainee::new(card, &vb, cfg, d)?;
    // Training windows are needed only when something is fitted.
    check_features(train_set, valid_set, !net_view.params.is_empty())?;
    let x_train = Tensor::from_slice(&train_set.x, (train_set.len(), d), device)?;
    let x_valid = Tensor::from_slice(&valid_set.x, (valid_set.len(), d), device)?;
    set_standardisation(&net_view, &varmap, train_set, &x_train, device)?;
    let mut opt = HeadOptimisers::new(&varmap, &net_view, cfg)?;
    let class_w = class_weights(&train_set.labels, card.labels.len());
    let steps = HeadEpoch {
        net: &net_view,
        x: &x_train,
        labels: &train_set.labels,
        class_w: &class_w,
        cfg,
        device,
    };

    let mut rng = crate::rng::seeded(cfg.seed, 0x7EA2);
    let mut order: Vec<usize> = (0..train_set.len()).collect();
    let mut history = Vec::new();
    let mut best = BestEpoch::new(HEAD_BEST_BY);
    // Zero-shot: nothing moves, so no epochs; the model is scored as it is.
    let epochs = if net_view.params.is_empty() {
        0
    } else {
        cfg.epochs
    };
    obs.stage("training head", epochs);
    for epoch in 1..=epochs {
        let t0 = std::time::Instant::now();
        order.shuffle(&mut rng);
        let (train_loss, train_acc) = steps.run(&order, &mut opt, epoch)?;
        let valid = eval_features(&net_view, &x_valid, valid_set, &card.labels)?;
        let rec = EpochRecord {
            epoch,
            train_loss,
            train_acc,
            valid_loss: valid.window_loss,
            valid_acc: valid.window.accuracy,
            valid_clip_acc: valid.clip.accuracy,
            lr: cfg.lr,
            seconds: t0.elapsed().as_secs_f64(),
        };
        obs.epoch_done(&rec);
        obs.tick(&format!(
            "epoch {epoch}: valid loss {:.3}, clip acc {:.3}",
            rec.valid_loss, rec.valid_clip_acc
        ));
        best.offer(&rec, || opt.snapshot())?;
        history.push(rec);
        if best.epochs_since(epoch) >= cfg.early_stop {
            break;
        }
    }
    obs.stage_done();
    let (best_epoch, weights) = best.into_best().unwrap_or_default();
    opt.restore(&weights)?;
    let valid = eval_features(&net_view, &x_valid, valid_set, &card.labels)?;
    Ok(TrainOutcome {
        varmap,
        net,
        history,
        best_epoch,
        best_by: HEAD_BEST_BY,
        valid,
    })
}

/// Both sets have windows (training windows only when something is fitted), of one width,
/// and every feature is finite: a NaN feature would poison the standardisation statistics
/// and every weight after the first step, and the run would end "successfully" with a
/// useless head.
fn check_features(
    train_set: &WindowFeatures,
    valid_set: &WindowFeatures,
    fits: bool,
) -> Result<()> {
    if valid_set.is_empty() || (fits && train_set.is_empty()) {
        return Err(Error::Data(format!(
            "{} training and {} validation windows: need both",
            train_set.len(),
            valid_set.len()
        )));
    }
    let d = valid_set.dim;
    if !train_set.is_empty() && train_set.dim != d {
        return Err(Error::Data(format!(
            "{}-d training but {d}-d validation features",
            train_set.dim
        )));
    }
    for (name, set) in [("training", train_set), ("validation", valid_set)] {
        if let Some(i) = set.x.iter().position(|v| !v.is_finite()) {
            return Err(Error::Data(format!(
                "{name} feature {} of window {} is not finite",
                i % d,
                i / d
            )));
        }
    }
    Ok(())
}

/// Writes the converted backbone tensors into the network's variables.
fn load_backbone(
    varmap: &VarMap,
    backbone: &HashMap<String, Tensor>,
    device: &Device,
) -> Result<()> {
    let vars = varmap.data().lock().expect("varmap poisoned");
    for (name, t) in backbone {
        let var = vars.get(name).ok_or_else(|| {
            Error::WeightsMismatch(format!("backbone tensor '{name}' is not in the network"))
        })?;
        var.set(&t.to_device(device)?)?;
    }
    Ok(())
}

/// Sets the head's standardisation statistics from what it reads: the cached features
/// themselves (no tensor round trip for them: 110 MB for a musicnn run), or what the layers
/// under the head make of them with their initial weights.
fn set_standardisation(
    net: &Trainee,
    varmap: &VarMap,
    train_set: &WindowFeatures,
    x_train: &Tensor,
    device: &Device,
) -> Result<()> {
    let Some(prefix) = net.standardised else {
        return Ok(());
    };
    let (mean, std) = if net.reads_cached_features() {
        feature_stats(&train_set.x, train_set.dim)
    } else {
        let head_in = net.head_input(x_train, false)?;
        let width = head_in.dim(1)?;
        let head_in = head_in
            .to_device(&Device::Cpu)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        feature_stats(&head_in, width)
    };
    let vars = varmap.data().lock().expect("varmap poisoned");
    vars[&format!("{prefix}.feature_mean")].set(&Tensor::new(mean, device)?)?;
    vars[&format!("{prefix}.feature_std")].set(&Tensor::new(std, device)?)?;
    Ok(())
}

/// Class weights: each genre contributes equally to the loss however many windows it has.
fn class_weights(labels: &[usize], n_labels: usize) -> Vec<f32> {
    let mut counts = vec![0usize; n_labels];
    for &y in labels {
        counts[y] += 1;
    }
    let present = counts.iter().filter(|&&c| c > 0).count().max(1);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                labels.len() as f32 / (present * c) as f32
            }
        })
        .collect()
}

/// The head's optimiser and, when pretrained layers fine-tune under it, theirs: a tenth of
/// the rate and no weight decay, so they move from their published values rather than
/// decaying towards zero.
struct HeadOptimisers {
    /// Every trained variable, the head's first (what the best epoch keeps).
    params: Vec<Var>,
    head: AdamW,
    slow: Option<AdamW>,
}

impl HeadOptimisers {
    fn new(varmap: &VarMap, net: &Trainee, cfg: &TransferConfig) -> Result<Self> {
        let (head_params, slow_params): (Vec<Var>, Vec<Var>) = {
            let vars = varmap.data().lock().expect("varmap poisoned");
            let pick = |names: &[String]| names.iter().map(|n| vars[n].clone()).collect();
            (pick(&net.params), pick(&net.slow_params))
        };
        let params = head_params.iter().chain(&slow_params).cloned().collect();
        let head = AdamW::new(
            head_params,
            ParamsAdamW {
                lr: cfg.lr,
                weight_decay: cfg.weight_decay,
                ..Default::default()
            },
        )?;
        let slow = if slow_params.is_empty() {
            None
        } else {
            Some(AdamW::new(
                slow_params,
                ParamsAdamW {
                    lr: cfg.lr / 10.0,
                    weight_decay: 0.0,
                    ..Default::default()
                },
            )?)
        };
        Ok(Self { params, head, slow })
    }

    fn step(&mut self, grads: &candle_core::backprop::GradStore) -> Result<()> {
        self.head.step(grads)?;
        if let Some(o) = self.slow.as_mut() {
            o.step(grads)?;
        }
        Ok(())
    }

    fn snapshot(&self) -> Result<Vec<Tensor>> {
        self.params
            .iter()
            .map(|p| Ok(p.as_tensor().copy()?))
            .collect()
    }

    fn restore(&self, weights: &[Tensor]) -> Result<()> {
        for (p, w) in self.params.iter().zip(weights) {
            p.set(w)?;
        }
        Ok(())
    }
}

/// One pass over the cached training features in shuffled batches.
struct HeadEpoch<'a> {
    net: &'a Trainee,
    x: &'a Tensor,
    labels: &'a [usize],
    class_w: &'a [f32],
    cfg: &'a TransferConfig,
    device: &'a Device,
}

impl HeadEpoch<'_> {
    /// Steps over `order` in batches; returns the mean training loss and accuracy.
    fn run(&self, order: &[usize], opt: &mut HeadOptimisers, epoch: usize) -> Result<(f64, f64)> {
        let (mut loss_sum, mut correct, mut seen) = (0f64, 0usize, 0usize);
        for chunk in order.chunks(self.cfg.batch_size) {
            let idx = Tensor::from_vec(
                chunk.iter().map(|&i| i as u32).collect::<Vec<_>>(),
                chunk.len(),
                self.device,
            )?;
            let x = self.x.index_select(&idx, 0)?;
            let labels: Vec<usize> = chunk.iter().map(|&i| self.labels[i]).collect();
            let logits = self.net.logits(&x, true)?;
            let loss =
                weighted_smoothed_ce(&logits, &labels, self.class_w, self.cfg.label_smoothing)?;
            opt.step(&loss.backward()?)?;
            let l = loss.to_scalar::<f32>()? as f64;
            if !l.is_finite() {
                return Err(Error::Data(format!(
                    "head training diverged at epoch {epoch} (loss {l}); lower the learning rate"
                )));
            }
            loss_sum += l * chunk.len() as f64;
            let preds = logits.argmax(1)?.to_vec1::<u32>()?;
            correct += preds
                .iter()
                .zip(&labels)
                .filter(|(p, y)| **p as usize == **y)
                .count();
            seen += chunk.len();
        }
        Ok((loss_sum / seen as f64, correct as f64 / seen as f64))
    }
}

/// The genre distribution per window of `set` that the model in `varmap` (made for
/// `card`, trained or not) gives from cached backbone features — what the full network
/// would give on those windows, without running the backbone again. For comparing
/// decisions on features computed once.
pub fn cached_probs(
    card: &ModelCard,
    varmap: &candle_nn::VarMap,
    set: &WindowFeatures,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let vb = VarBuilder::from_varmap(varmap, DType::F32, device);
    let view = Trainee::new(card, &vb, &TransferConfig::default(), set.dim)?;
    let mut out = Vec::with_capacity(set.len());
    // In blocks: a whole Emotify half at once would be a 100 MB tensor for nothing.
    for rows in set.x.chunks(4096 * set.dim) {
        let x = Tensor::from_slice(rows, (rows.len() / set.dim, set.dim), device)?;
        let p = candle_nn::ops::softmax_last_dim(&view.logits(&x, false)?)?;
        out.extend(p.to_device(&Device::Cpu)?.to_vec2::<f32>()?);
    }
    Ok(out)
}

/// Mean over the batch of class-weighted cross-entropy against label-smoothed targets.
fn weighted_smoothed_ce(
    logits: &Tensor,
    labels: &[usize],
    class_w: &[f32],
    smoothing: f32,
) -> Result<Tensor> {
    let (n, k) = logits.dims2()?;
    let mut target = vec![smoothing / k as f32; n * k];
    let mut w = vec![0f32; n];
    for (i, &y) in labels.iter().enumerate() {
        target[i * k + y] += 1.0 - smoothing;
        w[i] = class_w[y];
    }
    let dev = logits.device();
    let target = Tensor::from_vec(target, (n, k), dev)?;
    let w = Tensor::from_vec(w, n, dev)?;
    let ce = (candle_nn::ops::log_softmax(logits, 1)? * target)?
        .sum(1)?
        .neg()?;
    Ok(((ce * &w)?.sum_all()? / w.sum_all()?.to_scalar::<f32>()? as f64)?)
}

/// What trains on the cached features, as a view of the model's own variables (the
/// same `Var`s, so training it trains the model).
struct Trainee {
    layers: TraineeLayers,
    /// Variables the optimiser moves at the configured rate and weight decay.
    params: Vec<String>,
    /// Variables moved at a tenth of the rate without decay (pretrained layers being
    /// fine-tuned, which should move from their published values, not decay to zero).
    slow_params: Vec<String>,
    /// Prefix of the `feature_mean`/`feature_std` to set from the training features, for
    /// a head that standardises its input.
    standardised: Option<&'static str>,
}

enum TraineeLayers {
    /// musicnn's head, with its dense layer (and musicnn's own dropout 0.5 on that
    /// layer's input) under it when fine-tuning.
    Musicnn {
        // Boxed: musicnn's layers are several times the size of the other variant.
        embedding: Option<Box<(Embedding, SeededDropout)>>,
        head: Box<Head>,
    },
    /// EfficientAT's decision, on cached `[logits | embedding]` rows
    /// ([`EfficientAtFeatures`](super::EfficientAtFeatures)).
    EfficientAt {
        decision: DecisionHead,
        n_classes: usize,
    },
}

impl Trainee {
    /// The trainable part of `card`'s network, reading `dim`-d cached features.
    fn new(card: &ModelCard, vb: &VarBuilder, cfg: &TransferConfig, dim: usize) -> Result<Self> {
        let n_lab = card.labels.len();
        match &card.arch {
            Arch::Musicnn(mcfg) => {
                if cfg.fine_tune_dense
                    && (mcfg.head.input != HeadInput::Penultimate
                        || dim != cfg.cached_input(mcfg.head.input).dim())
                {
                    return Err(Error::Config(format!(
                        "fine-tuning the dense layer needs a head on the penultimate layer and \
                         pooled training features; got a {:?} head and {dim}-d features",
                        mcfg.head.input
                    )));
                }
                let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
                Ok(Self {
                    layers: TraineeLayers::Musicnn {
                        embedding: if cfg.fine_tune_dense {
                            Some(Box::new((
                                Embedding::new(&vb.pp("backbone"))?,
                                SeededDropout::new(0.5, cfg.seed ^ 0xF1E),
                            )))
                        } else {
                            None
                        },
                        head: Box::new(mcfg.head.build(n_lab, vb.pp("head"), cfg.seed)?),
                    },
                    params: names(&["head.linear.weight", "head.linear.bias"]),
                    slow_params: if cfg.fine_tune_dense {
                        names(&["backbone.dense.weight", "backbone.dense.bias"])
                    } else {
                        Vec::new()
                    },
                    standardised: Some("head"),
                })
            }
            Arch::EfficientAt(ecfg) => {
                let want = ecfg.net.num_classes + ecfg.net.embedding_dim();
                if cfg.fine_tune_dense || dim != want {
                    return Err(Error::Config(format!(
                        "an EfficientAT decision trains on cached {want}-d logits + embedding, without fine-tuning; got {dim}-d features{}",
                        if cfg.fine_tune_dense { " and fine-tuning" } else { "" }
                    )));
                }
                let decision = &ecfg.decision;
                Ok(Self {
                    layers: TraineeLayers::EfficientAt {
                        decision: decision.build(n_lab, &ecfg.net, vb.pp("decision"), cfg.seed)?,
                        n_classes: ecfg.net.num_classes,
                    },
                    params: decision
                        .fitted_variables()
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    slow_params: Vec::new(),
                    standardised: matches!(decision, Decision::Head { .. }).then_some("decision"),
                })
            }
            other => Err(Error::Config(format!(
                "a {} model has no head to train on cached features",
                arch_name(other)
            ))),
        }
    }

    /// Cached EfficientAT rows as the network's outputs.
    fn mn_output(x: &Tensor, n_classes: usize) -> Result<MnOutput> {
        let d = x.dim(1)?;
        Ok(MnOutput {
            logits: x.narrow(1, 0, n_classes)?.contiguous()?,
            embedding: x.narrow(1, n_classes, d - n_classes)?.contiguous()?,
        })
    }

    /// Whether the head reads the cached features as they are.
    fn reads_cached_features(&self) -> bool {
        matches!(
            self.layers,
            TraineeLayers::Musicnn {
                embedding: None,
                ..
            }
        )
    }

    /// The cached features → what the (standardised) head reads.
    fn head_input(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Ok(match &self.layers {
            TraineeLayers::Musicnn {
                embedding: Some(layer),
                ..
            } => {
                let (e, dropout) = &**layer;
                e.forward(&dropout.forward_t(x, train)?)?
            }
            TraineeLayers::Musicnn {
                embedding: None, ..
            } => x.clone(),
            TraineeLayers::EfficientAt {
                decision,
                n_classes,
            } => decision
                .head_input(&Self::mn_output(x, *n_classes)?)?
                .unwrap_or_else(|| x.clone()),
        })
    }

    fn logits(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Ok(match &self.layers {
            TraineeLayers::Musicnn { head, .. } => {
                head.forward_t(&self.head_input(x, train)?, train)?
            }
            TraineeLayers::EfficientAt {
                decision,
                n_classes,
            } => decision.forward(&Self::mn_output(x, *n_classes)?, train)?,
        })
    }
}

fn arch_name(arch: &Arch) -> String {
    serde_json::to_value(arch)
        .ok()
        .and_then(|v| v["name"].as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Per-feature mean and standard deviation of `x` (`[rows, d]`); a feature that never
/// varies — a dead filter — gets std 1 so it stays at 0.
fn feature_stats(x: &[f32], d: usize) -> (Vec<f32>, Vec<f32>) {
    let n = (x.len() / d) as f64;
    let mut mean = vec![0f64; d];
    let mut var = vec![0f64; d];
    for row in x.chunks_exact(d) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64 / n;
        }
    }
    for row in x.chunks_exact(d) {
        for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
            *s += (v as f64 - m).powi(2) / n;
        }
    }
    (
        mean.iter().map(|&m| m as f32).collect(),
        var.iter()
            .map(|&v| if v > 1e-12 { v.sqrt() as f32 } else { 1.0 })
            .collect(),
    )
}

/// Window and clip figures on cached validation features.
fn eval_features(
    net: &Trainee,
    x: &Tensor,
    set: &WindowFeatures,
    labels: &[String],
) -> Result<EvalReport> {
    let logp = candle_nn::ops::log_softmax(&net.logits(x, false)?, 1)?
        .to_device(&Device::Cpu)?
        .to_vec2::<f32>()?;
    Ok(report_from_log_probs(
        &logp,
        &set.labels,
        &set.clip_of,
        &set.clip_labels,
        labels,
    ))
}
