//! Training a head (or decision) on cached backbone features, and scoring one on them.

use super::trainee::Trainee;
use super::window_features::WindowFeatures;
use super::{TransferConfig, HEAD_BEST_BY};
use crate::train::best_epoch::BestEpoch;
use crate::train::trainer::report_from_log_probs;
use crate::train::{EpochRecord, EvalReport, Observer, TrainOutcome};
use crate::weights::{build_trainable, ModelCard};
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::seq::SliceRandom;
use std::collections::HashMap;

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
        let p = card.genre_probs(&view.logits(&x, false)?)?;
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
