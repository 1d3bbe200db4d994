//! `cargo xtask train`: train a model and write it plus a report folder.

use crate::progress::Bars;
use crate::report;
use anyhow::{Context, Result};
use model::arch::Arch;
use model::nets::efficientat::{Decision, HeadFeatures, Mn};
use model::nets::musicnn::{read_tf_file, Backbone, HeadConfig, HeadInput, Variant};
use model::train::{
    backbone_features, discover, discover_labelled, fit_classic, load_features, split, train,
    train_head, ClassicConfig, ClipFeatures, EfficientAtFeatures, FeatureBackbone, FeatureCache,
    MusicnnFeatures, TrainConfig, TrainOutcome, TransferConfig, WindowFeatures,
};
use model::weights::{save, ModelCard};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    set: crate::DataArgs,
    /// What to train: the from-scratch CNN, or a genre head (decision) on a pretrained,
    /// frozen network.
    #[arg(long, value_enum, default_value_t = BackboneArg::Cnn)]
    backbone: BackboneArg,
    /// efficientat only: how its AudioSet outputs become genres [default: zero-shot].
    #[arg(long, value_enum)]
    decision: Option<DecisionArg>,
    /// With `--backbone cnn`: which network to train from scratch [default: seed-cnn].
    #[arg(long, value_enum)]
    arch: Option<ArchArg>,
    /// Epochs; default 60 for the CNN, 300 for a musicnn head (seconds each).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    epochs: Option<u32>,
    /// musicnn only: which backbone output the head reads [default: pooled].
    #[arg(long, value_enum)]
    features: Option<FeaturesArg>,
    /// musicnn only: also train musicnn's dense layer (1 506 → 200, from the published
    /// weights) under a head on its 200-d output; implies `--features penultimate`.
    #[arg(long)]
    fine_tune_dense: bool,
    /// Pretrained backbones: seconds between training windows (one backbone pass each) [default: 1].
    #[arg(long, value_parser = crate::cmd_tag::hop_seconds)]
    train_hop: Option<f32>,
    /// Pretrained backbones: absolute levels (RMS dBFS, comma-separated) at which every training
    /// window is seen, so the head cannot learn the datasets' recording levels; `none`
    /// trains on windows as recorded [default: -36,-30,-24,-18,-12].
    #[arg(long, value_parser = parse_levels, allow_hyphen_values = true)]
    levels: Option<Levels>,
    /// Pretrained backbones: the published weights (musicnn's in TF layout, EfficientAT's
    /// checkpoint); the copy committed under model/weights/ when omitted.
    #[arg(long)]
    backbone_weights: Option<PathBuf>,
    /// Pretrained backbones: where backbone features are cached between runs, keyed by content
    /// (backbone, audio, settings) [default: feature-cache in cargo's target folder].
    #[arg(long, conflicts_with = "no_feature_cache")]
    feature_cache: Option<PathBuf>,
    /// Pretrained backbones: compute every feature afresh and cache nothing.
    #[arg(long)]
    no_feature_cache: bool,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where to write the model.
    #[arg(long, default_value = "trained.safetensors")]
    out: PathBuf,
    /// Report folder (metrics.json, confusion.png, curves.png); next to --out when omitted.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Windows per optimiser step [default: 32 for the CNN, 256 for a musicnn head].
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=4096))]
    batch_size: Option<u32>,
    /// CNN only: random 3-s crops per clip per epoch [default: 6].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    crops: Option<u32>,
    /// Learning rate; default 2e-3 for the CNN, 1e-3 for a musicnn head.
    #[arg(long)]
    lr: Option<f64>,
    /// Stop after this many epochs without a better validation score.
    #[arg(long, default_value_t = 15)]
    patience: usize,
    /// Extra labelled training music, `<genre>/<file>` (repeatable), e.g. other artists'
    /// recordings of some genres. Training samples genres evenly, so a large extra set
    /// does not drown the rest. Never used for validation.
    #[arg(long)]
    extra: Vec<PathBuf>,
    #[command(flatten)]
    device: crate::DeviceArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, clap::ValueEnum)]
pub enum BackboneArg {
    /// The seed-style CNN, trained from scratch.
    Cnn,
    /// musicnn trained on the Million Song Dataset (frozen) + a genre head.
    MusicnnMsd,
    /// musicnn trained on MagnaTagATune (frozen) + a genre head.
    MusicnnMtt,
    /// EfficientAT mn04 trained on AudioSet (frozen) + a genre decision (`--decision`).
    Efficientat,
}

/// `--decision`: see [`Decision`].
#[derive(Clone, Copy, Debug, PartialEq, clap::ValueEnum)]
pub enum DecisionArg {
    /// The ten GTZAN-named AudioSet logits, nothing fitted.
    ZeroShot,
    /// Each genre's largest logit over its AudioSet class and the class's ontology
    /// children, nothing fitted.
    ZeroShotGroups,
    /// Those logits with a fitted per-genre bias and temperature (11 parameters).
    Calibrated,
    /// A linear head on the 384-d embedding.
    HeadEmbedding,
    /// A linear head on the 527 AudioSet logits.
    HeadLogits,
    /// A linear head on both.
    HeadBoth,
}

impl From<DecisionArg> for Decision {
    fn from(d: DecisionArg) -> Self {
        match d {
            DecisionArg::ZeroShot => Decision::zero_shot_gtzan(),
            DecisionArg::ZeroShotGroups => Decision::zero_shot_groups_gtzan(),
            DecisionArg::Calibrated => Decision::calibrated_gtzan(),
            DecisionArg::HeadEmbedding => Decision::head(HeadFeatures::Embedding),
            DecisionArg::HeadLogits => Decision::head(HeadFeatures::Logits),
            DecisionArg::HeadBoth => Decision::head(HeadFeatures::Both),
        }
    }
}

/// The systems trained from scratch, by the names the README's zoo table uses, in its
/// order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchArg {
    /// The first seed paper's two conv blocks on 64 mels, 3-s segments.
    #[value(name = "seed-2block")]
    Seed2Block,
    /// The small CNN on 128 × 128 chunks.
    #[value(name = "seed-128chunk")]
    Seed128Chunk,
    /// Four conv blocks 32/64/128/256 + dense 512, on 5-s segments.
    #[value(name = "seed-4block")]
    Seed4Block,
    /// Conv blocks, then a GRU over time (after Choi et al. 2017).
    Crnn,
    /// The fifth seed paper's hand-made features (MFCC, chroma, spectral centroid,
    /// contrast, roll-off, ZCR: mean/std/skew; tempo) per 3-s window, and an RBF SVM.
    #[value(name = "features-svm")]
    FeaturesSvm,
    /// The same features, logistic regression.
    #[value(name = "features-logistic")]
    FeaturesLogistic,
    /// The same features, k nearest neighbours.
    #[value(name = "features-knn")]
    FeaturesKnn,
    /// The same features, a random forest.
    #[value(name = "features-forest")]
    FeaturesForest,
    /// This project's CNN (4 × conv3×3/BN/ReLU/pool, avg+max pooling; 3-s windows).
    SeedCnn,
}

impl ArchArg {
    pub fn arch(self) -> model::arch::Arch {
        use model::arch::Arch;
        use model::classic::{Classifier, HandFeaturesConfig};
        let classic = |classifier| Arch::HandFeatures(HandFeaturesConfig { classifier });
        match self {
            ArchArg::SeedCnn => Arch::SeedCnn(Default::default()),
            ArchArg::Seed2Block => Arch::Seed2Block(Default::default()),
            ArchArg::Seed128Chunk => Arch::Seed128Chunk(Default::default()),
            ArchArg::Seed4Block => Arch::Seed4Block(Default::default()),
            ArchArg::Crnn => Arch::Crnn(Default::default()),
            ArchArg::FeaturesSvm => classic(Classifier::svm()),
            ArchArg::FeaturesLogistic => classic(Classifier::logistic()),
            ArchArg::FeaturesKnn => classic(Classifier::knn()),
            ArchArg::FeaturesForest => classic(Classifier::forest()),
        }
    }

    /// A classical system (hand-made features and a classifier): fitted once, no epochs.
    pub fn is_classic(self) -> bool {
        matches!(self.arch(), model::arch::Arch::HandFeatures(_))
    }

    /// The name on the command line.
    pub fn name(self) -> String {
        cli_name(self)
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum FeaturesArg {
    Pooled,
    Penultimate,
    Tags,
}

impl From<FeaturesArg> for HeadInput {
    fn from(f: FeaturesArg) -> Self {
        match f {
            FeaturesArg::Pooled => HeadInput::Pooled,
            FeaturesArg::Penultimate => HeadInput::Penultimate,
            FeaturesArg::Tags => HeadInput::Tags,
        }
    }
}

/// How a value is spelt on the command line (for the command recorded in the card).
pub fn cli_name(v: impl clap::ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// `--levels`: dBFS values in [-80, 0], or `none`.
#[derive(Clone, Debug)]
pub struct Levels(Vec<f32>);

fn parse_levels(s: &str) -> Result<Levels, String> {
    if s.trim() == "none" {
        return Ok(Levels(Vec::new()));
    }
    s.split(',')
        .map(|v| match v.trim().parse::<f32>() {
            Ok(x) if (-80.0..=0.0).contains(&x) => Ok(x),
            Ok(x) => Err(format!("level {x} dBFS is outside [-80, 0]")),
            Err(_) => Err(format!("'{v}' is not a level in dBFS")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Levels)
}

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

/// Flags that mean nothing for the chosen backbone are refused rather than ignored: a user
/// who passes `--train-hop` to the CNN believes it changed something.
fn check_applicable(args: &Args) -> Result<()> {
    let given = |set: bool, name: &str| set.then(|| name.to_string());
    let mut wrong: Vec<String> = if args.backbone == BackboneArg::Cnn {
        [
            given(args.features.is_some(), "--features"),
            given(args.fine_tune_dense, "--fine-tune-dense"),
            given(args.train_hop.is_some(), "--train-hop"),
            given(args.levels.is_some(), "--levels"),
            given(args.backbone_weights.is_some(), "--backbone-weights"),
            given(args.feature_cache.is_some(), "--feature-cache"),
            given(args.no_feature_cache, "--no-feature-cache"),
        ]
        .into_iter()
        .flatten()
        .collect()
    } else {
        [
            given(args.crops.is_some(), "--crops"),
            given(args.arch.is_some(), "--arch"),
        ]
        .into_iter()
        .flatten()
        .collect()
    };
    if let Some(arch) = args.arch.filter(|a| a.is_classic()) {
        let unfit: Vec<String> = [
            given(args.epochs.is_some(), "--epochs"),
            given(args.batch_size.is_some(), "--batch-size"),
            given(args.crops.is_some(), "--crops"),
            given(args.lr.is_some(), "--lr"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !unfit.is_empty() {
            anyhow::bail!(
                "{} {} not apply to --arch {}: it is fitted in one pass, without epochs",
                unfit.join(", "),
                if unfit.len() == 1 { "does" } else { "do" },
                arch.name()
            );
        }
    }
    if args.backbone == BackboneArg::Efficientat {
        wrong.extend(given(args.features.is_some(), "--features"));
        wrong.extend(given(args.fine_tune_dense, "--fine-tune-dense"));
    } else {
        wrong.extend(given(args.decision.is_some(), "--decision"));
    }
    if args.fine_tune_dense
        && args
            .features
            .is_some_and(|f| !matches!(f, FeaturesArg::Penultimate))
    {
        anyhow::bail!(
            "--fine-tune-dense trains the layer that makes the penultimate features, so the head \
             reads those: drop --features or give --features penultimate"
        );
    }
    if !wrong.is_empty() {
        anyhow::bail!(
            "{} {} not apply to --backbone {}",
            wrong.join(", "),
            if wrong.len() == 1 { "does" } else { "do" },
            cli_name(args.backbone)
        );
    }
    Ok(())
}

pub fn run(args: Args) -> Result<ExitCode> {
    check_applicable(&args)?;
    // Unset flags take the trainers' own defaults, so the CLI and the library cannot drift.
    let arch = args.arch.unwrap_or(ArchArg::SeedCnn);
    let (cnn_defaults, head_defaults) = (
        TrainConfig::for_arch(&arch.arch()),
        TransferConfig::default(),
    );
    let features = args.features.unwrap_or(if args.fine_tune_dense {
        FeaturesArg::Penultimate
    } else {
        FeaturesArg::Pooled
    });
    let train_hop = args.train_hop.unwrap_or(head_defaults.train_hop_s);
    let levels = args
        .levels
        .clone()
        .map_or_else(|| head_defaults.levels_db.clone(), |l| l.0);
    let lr = args.lr.unwrap_or(if args.backbone == BackboneArg::Cnn {
        cnn_defaults.lr
    } else {
        head_defaults.lr
    });
    if !(lr.is_finite() && lr > 0.0 && lr < 1.0) {
        anyhow::bail!("--lr must be in (0, 1), got {lr}");
    }
    let decision = args.decision.unwrap_or(DecisionArg::ZeroShot);
    let t0 = std::time::Instant::now();
    let device = args.device.select()?;
    let clips = discover(&args.set.data)?;
    let (kind, s) = split(&clips, args.set.split.map(Into::into))?;
    eprintln!(
        "{} clips under {}: {kind:?} split, {} train / {} valid / {} test (test is never \
         touched here)",
        clips.len(),
        args.set.data.display(),
        s.train.len(),
        s.valid.len(),
        s.test.len()
    );
    let musicnn = |v| {
        ModelCard::musicnn(
            v,
            HeadConfig {
                input: features.into(),
                dropout: 0.5,
            },
        )
    };
    let mut card = match args.backbone {
        BackboneArg::Cnn => ModelCard::from_scratch(arch.arch())?,
        BackboneArg::MusicnnMsd => musicnn(Variant::Msd),
        BackboneArg::MusicnnMtt => musicnn(Variant::Mtt),
        BackboneArg::Efficientat => ModelCard::efficientat(decision.into()),
    };
    let mut bars = Bars::new();
    let mut train_clips = s.train.clone();
    for dir in &args.extra {
        let extra = discover_labelled(dir)?;
        eprintln!(
            "{} extra training clips under {}",
            extra.len(),
            dir.display()
        );
        train_clips.extend(extra);
    }
    let train_f = load_features(&train_clips, &card.front_end, card.window_frames, &mut bars)?;
    let valid_f = load_features(&s.valid, &card.front_end, card.window_frames, &mut bars)?;
    let (outcome, cfg_json, epochs) = match args.backbone {
        BackboneArg::Cnn if arch.is_classic() => {
            let cfg = ClassicConfig {
                seed: args.seed,
                ..ClassicConfig::default()
            };
            let (fitted, outcome) =
                fit_classic(&card, &train_f, &valid_f, &cfg, &device, &mut bars)?;
            card = fitted;
            (outcome, serde_json::to_value(&cfg)?, 0)
        }
        BackboneArg::Cnn => {
            let cfg = TrainConfig {
                epochs: args.epochs.map_or(cnn_defaults.epochs, |e| e as usize),
                seed: args.seed,
                batch_size: args
                    .batch_size
                    .map_or(cnn_defaults.batch_size, |b| b as usize),
                crops_per_clip: args
                    .crops
                    .map_or(cnn_defaults.crops_per_clip, |c| c as usize),
                lr,
                early_stop: args.patience,
                ..cnn_defaults
            };
            (
                train(&card, &train_f, &valid_f, &cfg, &device, &mut bars)?,
                serde_json::to_value(&cfg)?,
                cfg.epochs,
            )
        }
        _ => {
            let cfg = TransferConfig {
                epochs: args.epochs.map_or(head_defaults.epochs, |e| e as usize),
                seed: args.seed,
                lr,
                batch_size: args
                    .batch_size
                    .map_or(head_defaults.batch_size, |b| b as usize),
                train_hop_s: train_hop,
                levels_db: levels.clone(),
                fine_tune_dense: args.fine_tune_dense,
                early_stop: args.patience.max(head_defaults.early_stop),
                ..head_defaults
            };
            let outcome = train_transfer_head(
                &card,
                &TransferInputs::of(&args),
                &train_f,
                &valid_f,
                &cfg,
                &device,
                &mut bars,
            )?;
            (outcome, serde_json::to_value(&cfg)?, cfg.epochs)
        }
    };
    let secs = t0.elapsed().as_secs_f64();
    let v = &outcome.valid;
    let extra_clips = match train_clips.len() - s.train.len() {
        0 => String::new(),
        n => format!(" + {n} extra training clips"),
    };
    let command = command_line(&args, (features, decision, train_hop, &levels[..]), epochs);
    card.trained_on = if arch.is_classic() {
        format!(
            "{} clips of {} ({kind:?} split: {} train, {} valid){extra_clips}, one window summary \
             every {} s, seed {}; `{command}`",
            clips.len(),
            args.set.data.display(),
            s.train.len(),
            valid_f.len(),
            ClassicConfig::default().train_hop_s,
            args.seed,
        )
    } else if outcome.history.is_empty() {
        // Nothing was fitted (a zero-shot decision): say so rather than "best epoch 0 of 0".
        format!(
            "nothing fitted (the pretrained network's own outputs); validated on {} clips of {} \
             ({kind:?} split); `{command}`",
            valid_f.len(),
            args.set.data.display(),
        )
    } else {
        format!(
            "{} clips of {} ({kind:?} split: {} train, {} valid){extra_clips}, seed {}, best \
             epoch {} of {}; `{command}`",
            clips.len(),
            args.set.data.display(),
            s.train.len(),
            valid_f.len(),
            args.seed,
            outcome.best_epoch,
            outcome.history.len(),
        )
    };
    card.validation = json!({
        "split": format!("{kind:?}"), "clips": valid_f.len(),
        "window_accuracy": v.window.accuracy,
        "window_balanced_accuracy": v.window.balanced_accuracy,
        "clip_accuracy": v.clip.accuracy, "clip_balanced_accuracy": v.clip.balanced_accuracy,
        "clip_macro_f1": v.clip.macro_f1,
    });
    save(&args.out, &card, &outcome.varmap)?;

    let dir = args
        .report
        .clone()
        .unwrap_or_else(|| args.out.with_extension("report"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let metrics = json!({
        "model": args.out.display().to_string(), "card": card, "config": cfg_json,
        "best_epoch": outcome.best_epoch, "best_by": outcome.best_by,
        "history": outcome.history, "valid": v, "warnings": bars.warnings, "seconds": secs,
        "device": model::device::name(&device),
    });
    let metrics_path = dir.join("metrics.json");
    std::fs::write(&metrics_path, serde_json::to_string_pretty(&metrics)?)?;
    // Drawn from the file just written, as `cargo xtask report` redraws it.
    report::draw_folder(&metrics_path, &dir)?;

    println!(
        "validation ({} clips), best epoch {}:",
        valid_f.len(),
        outcome.best_epoch
    );
    println!(
        "  window accuracy {:.3} (balanced {:.3}), clip accuracy {:.3} (balanced {:.3})",
        v.window.accuracy, v.window.balanced_accuracy, v.clip.accuracy, v.clip.balanced_accuracy
    );
    println!("{}", v.clip.confusion.table());
    println!(
        "model: {}\nreport: {}\ntime: {secs:.0} s",
        args.out.display(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The command that trains this model again, as clap spells it, for the card. `head`: the
/// musicnn head's features or EfficientAT's decision, the training hop and the levels
/// (used for the pretrained backbones only).
fn command_line(
    args: &Args,
    head: (FeaturesArg, DecisionArg, f32, &[f32]),
    epochs: usize,
) -> String {
    let (features, decision, train_hop, levels) = head;
    let mut cmd = format!("cargo xtask train --data {}", args.set.data.display());
    for d in &args.extra {
        cmd += &format!(" --extra {}", d.display());
    }
    if args.backbone != BackboneArg::Cnn {
        let levels = if levels.is_empty() {
            "none".to_string()
        } else {
            levels
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let head = if args.backbone == BackboneArg::Efficientat {
            format!("--decision {}", cli_name(decision))
        } else {
            format!(
                "--features {}{}",
                cli_name(features),
                if args.fine_tune_dense {
                    " --fine-tune-dense"
                } else {
                    ""
                }
            )
        };
        cmd += &format!(
            " --backbone {} {head} --train-hop {train_hop} --levels={levels}",
            cli_name(args.backbone),
        );
    } else {
        cmd += &format!(" --arch {}", args.arch.unwrap_or(ArchArg::SeedCnn).name());
    }
    if args.arch.is_some_and(ArchArg::is_classic) {
        return cmd + &format!(" --seed {}", args.seed);
    }
    cmd + &format!(" --epochs {epochs} --seed {}", args.seed)
}

/// What a transfer head's training reads besides its clips: the backbone's weights
/// (`None`: the committed copy) and where its features are cached (`None`: not cached).
pub struct TransferInputs {
    pub backbone_weights: Option<PathBuf>,
    pub feature_cache: Option<PathBuf>,
}

impl TransferInputs {
    fn of(args: &Args) -> Self {
        Self {
            backbone_weights: args.backbone_weights.clone(),
            feature_cache: (!args.no_feature_cache).then(|| {
                args.feature_cache
                    .clone()
                    .unwrap_or_else(default_feature_cache)
            }),
        }
    }
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
