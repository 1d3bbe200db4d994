//! The optimisation loop: seeded random crops + augmentation, AdamW, learning-rate decay
//! on plateau, early stopping, and the best-on-validation weights kept.

use super::best_epoch::{BestBy, BestEpoch};
use super::{Augment, ClipFeatures, Observer};
use crate::distribution::argmax;
use crate::metrics::{Confusion, Summary};
use crate::net::GenreNet;
use crate::weights::{build_trainable, ModelCard};
use crate::window::{copy_window, normalize, window_starts};
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Random 3-s crops drawn from each training clip per epoch.
    pub crops_per_clip: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Halve the learning rate after this many epochs without a better validation loss.
    pub lr_patience: usize,
    pub lr_factor: f64,
    /// Stop after this many epochs without a better validation score ([`CNN_BEST_BY`]).
    pub early_stop: usize,
    pub label_smoothing: f32,
    pub seed: u64,
    /// Hop between validation windows, seconds.
    pub eval_hop_s: f32,
    pub augment: Augment,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 60,
            batch_size: 32,
            crops_per_clip: 6,
            lr: 2e-3,
            weight_decay: 1e-2,
            lr_patience: 4,
            lr_factor: 0.5,
            early_stop: 15,
            label_smoothing: 0.05,
            seed: 42,
            eval_hop_s: 1.5,
            augment: Augment::default(),
        }
    }
}

impl TrainConfig {
    /// The defaults for training `arch` from scratch. Networks without batch norm
    /// (seed-2block, seed-128chunk) feed thousands of non-negative activations (ReLU, then
    /// max-pool) into a small dense ReLU layer: Adam's first steps move every weight by
    /// about the learning rate in the same direction, which at 2e-3 (and still at 5e-4)
    /// shifts each dense pre-activation by more than its spread and kills them all within
    /// the first epoch (loss stuck at ln 10). They take 1e-4.
    pub fn for_arch(arch: &crate::arch::Arch) -> Self {
        use crate::arch::Arch;
        let lr = match arch {
            Arch::Seed2Block(_) | Arch::Seed128Chunk(_) => 1e-4,
            _ => Self::default().lr,
        };
        Self {
            lr,
            ..Self::default()
        }
    }
}

/// The CNN trainer keeps the epoch with the highest validation window accuracy, ties
/// broken by the lower loss: accuracy over hundreds of validation windows moves in small
/// steps, and it is what the model is for.
pub const CNN_BEST_BY: BestBy = BestBy::AccuracyThenLoss;

/// One epoch's figures, as the trainers record them and the report draws them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_acc: f64,
    pub valid_loss: f64,
    pub valid_acc: f64,
    pub valid_clip_acc: f64,
    pub lr: f64,
    pub seconds: f64,
}

/// Window- and clip-level figures on one set of clips.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalReport {
    pub window: Summary,
    pub clip: Summary,
    pub window_loss: f64,
}

pub struct TrainOutcome {
    pub varmap: VarMap,
    pub net: Box<dyn GenreNet>,
    pub history: Vec<EpochRecord>,
    /// The epoch whose weights `varmap` holds, chosen by `best_by`.
    pub best_epoch: usize,
    pub best_by: BestBy,
    /// Validation figures of those weights.
    pub valid: EvalReport,
}

/// Validation windows cut once: every `hop` frames from the start of each clip.
struct EvalSet {
    x: Vec<f32>,
    labels: Vec<usize>,
    clip_of: Vec<usize>,
    clip_labels: Vec<usize>,
}

fn eval_set(card: &ModelCard, feats: &[ClipFeatures], hop_s: f32) -> EvalSet {
    let (n_mels, wf) = (card.front_end.mel.n_mels, card.window_frames);
    let hop = card.front_end.mel.hop_frames(hop_s);
    let mut s = EvalSet {
        x: Vec::new(),
        labels: Vec::new(),
        clip_of: Vec::new(),
        clip_labels: Vec::new(),
    };
    let mut w = Vec::new();
    for (ci, f) in feats.iter().enumerate() {
        s.clip_labels.push(f.clip.genre);
        for start in window_starts(f.mel.frames(), wf, hop) {
            copy_window(&f.mel.data, n_mels, start, wf, &mut w);
            normalize(&mut w, card.norm);
            s.x.extend_from_slice(&w);
            s.labels.push(f.clip.genre);
            s.clip_of.push(ci);
        }
    }
    s
}

fn run_eval(
    net: &dyn GenreNet,
    card: &ModelCard,
    set: &EvalSet,
    device: &Device,
) -> Result<EvalReport> {
    let (n_mels, wf) = (card.front_end.mel.n_mels, card.window_frames);
    let per = n_mels * wf;
    let n = set.labels.len();
    let mut logp = Vec::with_capacity(n);
    for start in (0..n).step_by(64) {
        let end = (start + 64).min(n);
        let x = Tensor::from_slice(
            &set.x[start * per..end * per],
            (end - start, n_mels, wf),
            device,
        )?;
        let logits = net.forward_t(&x, false)?;
        logp.extend(
            candle_nn::ops::log_softmax(&logits, 1)?
                .to_device(&Device::Cpu)?
                .to_vec2::<f32>()?,
        );
    }
    Ok(report_from_log_probs(
        &logp,
        &set.labels,
        &set.clip_of,
        &set.clip_labels,
        &card.labels,
    ))
}

/// Window and clip figures from every window's log-probabilities: a window's prediction
/// is its argmax, a clip's the argmax of its windows' mean probability (what the tagger
/// and `eval` show for a file). Clips with no window are left out.
pub(super) fn report_from_log_probs(
    logp: &[Vec<f32>],
    labels: &[usize],
    clip_of: &[usize],
    clip_labels: &[usize],
    names: &[String],
) -> EvalReport {
    let mut window = Confusion::new(names);
    let mut clip_probs = vec![vec![0f64; names.len()]; clip_labels.len()];
    let mut loss_sum = 0.0;
    for (i, lp) in logp.iter().enumerate() {
        let y = labels[i];
        loss_sum -= lp[y] as f64;
        window.add(y, argmax(lp));
        for (c, v) in clip_probs[clip_of[i]].iter_mut().zip(lp) {
            *c += (*v as f64).exp();
        }
    }
    let mut clip = Confusion::new(names);
    for (p, &y) in clip_probs.iter().zip(clip_labels) {
        if p.iter().any(|&v| v > 0.0) {
            let p32: Vec<f32> = p.iter().map(|&v| v as f32).collect();
            clip.add(y, argmax(&p32));
        }
    }
    EvalReport {
        window: window.summary(),
        clip: clip.summary(),
        window_loss: loss_sum / logp.len().max(1) as f64,
    }
}

/// Evaluates a network on cached features (the trainer's validation path).
pub fn evaluate(
    net: &dyn GenreNet,
    card: &ModelCard,
    feats: &[ClipFeatures],
    hop_s: f32,
    device: &Device,
) -> Result<EvalReport> {
    run_eval(net, card, &eval_set(card, feats, hop_s), device)
}

fn snapshot(varmap: &VarMap) -> Result<Vec<(String, Tensor)>> {
    let data = varmap.data().lock().expect("varmap poisoned");
    data.iter()
        .map(|(k, v)| Ok((k.clone(), v.as_tensor().copy()?)))
        .collect()
}

fn restore(varmap: &VarMap, snap: &[(String, Tensor)]) -> Result<()> {
    let data = varmap.data().lock().expect("varmap poisoned");
    for (k, t) in snap {
        data[k].set(t)?;
    }
    Ok(())
}

pub fn train(
    card: &ModelCard,
    train_set: &[ClipFeatures],
    valid_set: &[ClipFeatures],
    cfg: &TrainConfig,
    device: &Device,
    obs: &mut dyn Observer,
) -> Result<TrainOutcome> {
    check_settings(train_set, valid_set, cfg)?;
    let (varmap, net) = build_trainable(card, device, cfg.seed)?;
    let mut opt = AdamW::new(
        trainable_params(&varmap),
        ParamsAdamW {
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            ..Default::default()
        },
    )?;
    let valid = eval_set(card, valid_set, cfg.eval_hop_s);
    let mut rng = crate::rng::seeded(cfg.seed, 0x7EA1);
    let sampler = BalancedSampler::new(train_set, card.labels.len(), cfg.crops_per_clip);
    let steps = Steps {
        card,
        cfg,
        set: train_set,
        device,
    };
    let mut plateau = Plateau::new(cfg);
    let mut history = Vec::new();
    let mut best = BestEpoch::new(CNN_BEST_BY);
    for epoch in 1..=cfg.epochs {
        let t0 = std::time::Instant::now();
        let crops = sampler.crops(train_set, card.window_frames, &mut rng);
        let n_steps = crops.len().div_ceil(cfg.batch_size);
        obs.stage(&format!("epoch {epoch}/{}", cfg.epochs), n_steps);
        let (train_loss, train_acc) =
            steps.epoch(net.as_ref(), &mut opt, &crops, &mut rng, epoch, obs)?;
        obs.stage_done();
        let v = run_eval(net.as_ref(), card, &valid, device)?;
        let rec = EpochRecord {
            epoch,
            train_loss,
            train_acc,
            valid_loss: v.window_loss,
            valid_acc: v.window.accuracy,
            valid_clip_acc: v.clip.accuracy,
            lr: opt.learning_rate(),
            seconds: t0.elapsed().as_secs_f64(),
        };
        obs.epoch_done(&rec);
        best.offer(&rec, || snapshot(&varmap))?;
        history.push(rec);
        plateau.step(v.window_loss, &mut opt);
        if best.epochs_since(epoch) >= cfg.early_stop {
            obs.tick(&format!(
                "early stop: no better validation accuracy for {} epochs",
                cfg.early_stop
            ));
            break;
        }
    }
    let (best_epoch, weights) = best.into_best().expect("at least one epoch ran");
    restore(&varmap, &weights)?;
    let valid = run_eval(net.as_ref(), card, &valid, device)?;
    Ok(TrainOutcome {
        varmap,
        net,
        history,
        best_epoch,
        best_by: CNN_BEST_BY,
        valid,
    })
}

fn check_settings(
    train_set: &[ClipFeatures],
    valid_set: &[ClipFeatures],
    cfg: &TrainConfig,
) -> Result<()> {
    if train_set.is_empty() || valid_set.is_empty() {
        return Err(Error::Data(format!(
            "{} training and {} validation clips: need both",
            train_set.len(),
            valid_set.len()
        )));
    }
    if cfg.batch_size < 2 || cfg.crops_per_clip == 0 || cfg.epochs == 0 {
        return Err(Error::Config(
            "epochs, crops per clip must be >= 1 and batch size >= 2".into(),
        ));
    }
    Ok(())
}

/// Whether a variable is a batch-norm statistic rather than a parameter: candle's and
/// PyTorch's `running_*`, TensorFlow's (musicnn's) `moving_*`.
fn is_norm_statistic(name: &str) -> bool {
    name.contains("running_") || name.contains("moving_")
}

/// The variables the optimiser moves, in a fixed order: all but the batch-norm
/// statistics, which are variables too.
pub fn trainable_params(varmap: &VarMap) -> Vec<Var> {
    let data = varmap.data().lock().expect("varmap poisoned");
    let mut named: Vec<(&String, &Var)> =
        data.iter().filter(|(k, _)| !is_norm_statistic(k)).collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    named.into_iter().map(|(_, v)| v.clone()).collect()
}

/// How many numbers the optimiser moves: the size of [`trainable_params`].
pub fn parameter_count(varmap: &VarMap) -> usize {
    trainable_params(varmap)
        .iter()
        .map(|v| v.elem_count())
        .sum()
}

/// Class-balanced sampling: every genre gets the same number of crops per epoch (crops per
/// clip × the median clips per genre), however many clips it has.
struct BalancedSampler {
    by_genre: Vec<Vec<usize>>,
    per_genre: usize,
}

impl BalancedSampler {
    fn new(set: &[ClipFeatures], n_labels: usize, crops_per_clip: usize) -> Self {
        let mut by_genre: Vec<Vec<usize>> = vec![Vec::new(); n_labels];
        for (i, f) in set.iter().enumerate() {
            by_genre[f.clip.genre].push(i);
        }
        let mut counts: Vec<usize> = by_genre.iter().map(Vec::len).filter(|&n| n > 0).collect();
        counts.sort_unstable();
        Self {
            per_genre: crops_per_clip * counts[counts.len() / 2],
            by_genre,
        }
    }

    /// One epoch's (clip, first frame) crops of `wf` frames, shuffled.
    fn crops(
        &self,
        set: &[ClipFeatures],
        wf: usize,
        rng: &mut rand::rngs::StdRng,
    ) -> Vec<(usize, usize)> {
        balanced_crops(set, &self.by_genre, self.per_genre, wf, rng)
    }
}

/// The learning rate halves (by `lr_factor`) after `lr_patience` epochs without a
/// validation loss lower than the best by 1e-4.
struct Plateau {
    best_loss: f64,
    since: usize,
    patience: usize,
    factor: f64,
}

impl Plateau {
    fn new(cfg: &TrainConfig) -> Self {
        Self {
            best_loss: f64::INFINITY,
            since: 0,
            patience: cfg.lr_patience,
            factor: cfg.lr_factor,
        }
    }

    fn step(&mut self, valid_loss: f64, opt: &mut AdamW) {
        if valid_loss < self.best_loss - 1e-4 {
            self.best_loss = valid_loss;
            self.since = 0;
        } else {
            self.since += 1;
            if self.since >= self.patience {
                opt.set_learning_rate(opt.learning_rate() * self.factor);
                self.since = 0;
            }
        }
    }
}

/// Optimisation steps on augmented crops of the training clips.
struct Steps<'a> {
    card: &'a ModelCard,
    cfg: &'a TrainConfig,
    set: &'a [ClipFeatures],
    device: &'a Device,
}

impl Steps<'_> {
    /// One pass over `crops` in batches; returns the mean training loss and accuracy
    /// (against the mixed, smoothed targets' top genre).
    fn epoch(
        &self,
        net: &dyn GenreNet,
        opt: &mut AdamW,
        crops: &[(usize, usize)],
        rng: &mut rand::rngs::StdRng,
        epoch: usize,
        obs: &mut dyn Observer,
    ) -> Result<(f64, f64)> {
        let (n_mels, wf, n_lab) = (
            self.card.front_end.mel.n_mels,
            self.card.window_frames,
            self.card.labels.len(),
        );
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
        let mut window = Vec::new();
        for batch in crops.chunks(self.cfg.batch_size) {
            let b = batch.len();
            let (x, y) = self.batch(batch, rng, &mut window);
            let xt = Tensor::from_vec(x, (b, n_mels, wf), self.device)?;
            let yt = Tensor::from_slice(&y, (b, n_lab), self.device)?;
            let logits = net.forward_t(&xt, true)?;
            let loss = soft_cross_entropy(&logits, &yt)?;
            opt.backward_step(&loss)?;
            let l = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            if !l.is_finite() {
                return Err(Error::Data(format!(
                    "training diverged at epoch {epoch} (loss {l}); lower the learning rate"
                )));
            }
            loss_sum += l * b as f64;
            let preds = logits.argmax(1)?.to_vec1::<u32>()?;
            for (p, target) in preds.iter().zip(y.chunks_exact(n_lab)) {
                correct += (*p as usize == argmax(target)) as usize;
            }
            seen += b;
            obs.tick(&format!("loss {:.3}", loss_sum / seen as f64));
        }
        Ok((loss_sum / seen as f64, correct as f64 / seen as f64))
    }

    /// A batch of augmented, normalised windows and their label-smoothed (and mixed)
    /// targets. `window` is scratch.
    fn batch(
        &self,
        batch: &[(usize, usize)],
        rng: &mut rand::rngs::StdRng,
        window: &mut Vec<f32>,
    ) -> (Vec<f32>, Vec<f32>) {
        let (cfg, card) = (self.cfg, self.card);
        let (n_mels, wf, n_lab) = (
            card.front_end.mel.n_mels,
            card.window_frames,
            card.labels.len(),
        );
        let mut x = Vec::with_capacity(batch.len() * n_mels * wf);
        let mut y = vec![cfg.label_smoothing / n_lab as f32; batch.len() * n_lab];
        for (i, &(ci, start)) in batch.iter().enumerate() {
            let f = &self.set[ci];
            copy_window(&f.mel.data, n_mels, start, wf, window);
            cfg.augment.equalise(window, n_mels, wf, rng);
            normalize(window, card.norm);
            cfg.augment.mask(window, n_mels, wf, rng);
            x.extend_from_slice(window);
            y[i * n_lab + f.clip.genre] += 1.0 - cfg.label_smoothing;
        }
        if cfg.augment.mixup_alpha > 0.0 {
            let alpha = cfg.augment.mixup_alpha;
            mixup(&mut x, &mut y, n_mels * wf, n_lab, alpha, rng);
        }
        (x, y)
    }
}

/// Cross-entropy against soft targets `y` (`[batch, labels]`, rows summing to 1: label
/// smoothing and mixup make them soft), averaged over the batch.
pub fn soft_cross_entropy(logits: &Tensor, y: &Tensor) -> candle_core::Result<Tensor> {
    candle_nn::ops::log_softmax(logits, 1)?
        .mul(y)?
        .sum(1)?
        .neg()?
        .mean_all()
}

/// `per_genre` random (clip, first frame) crops for every genre present, shuffled.
fn balanced_crops(
    set: &[ClipFeatures],
    by_genre: &[Vec<usize>],
    per_genre: usize,
    wf: usize,
    rng: &mut rand::rngs::StdRng,
) -> Vec<(usize, usize)> {
    let mut items = Vec::new();
    for clips in by_genre.iter().filter(|c| !c.is_empty()) {
        // Whole shuffled passes over the genre's clips, so each is used evenly.
        let mut order = Vec::with_capacity(per_genre + clips.len());
        while order.len() < per_genre {
            let mut pass = clips.clone();
            pass.shuffle(rng);
            order.extend(pass);
        }
        for &ci in &order[..per_genre] {
            items.push((ci, rng.random_range(0..=set[ci].mel.frames() - wf)));
        }
    }
    items.shuffle(rng);
    items
}

/// Mixes each example with a random partner: `x = λ·a + (1−λ)·b`, same for the targets.
fn mixup(
    x: &mut [f32],
    y: &mut [f32],
    per: usize,
    n_lab: usize,
    alpha: f64,
    rng: &mut rand::rngs::StdRng,
) {
    let b = y.len() / n_lab;
    let mut partner: Vec<usize> = (0..b).collect();
    partner.shuffle(rng);
    let (x0, y0) = (x.to_vec(), y.to_vec());
    for i in 0..b {
        let lam = crate::rng::beta_symmetric(rng, alpha);
        let lam = lam.max(1.0 - lam); // keep the original example dominant
        let j = partner[i];
        for k in 0..per {
            x[i * per + k] = lam * x0[i * per + k] + (1.0 - lam) * x0[j * per + k];
        }
        for k in 0..n_lab {
            y[i * n_lab + k] = lam * y0[i * n_lab + k] + (1.0 - lam) * y0[j * n_lab + k];
        }
    }
}
