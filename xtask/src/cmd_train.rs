//! `cargo xtask train`: train a model and write it plus a report folder.

use crate::model_args::{cli_name, ArchArg, BackboneArg, DecisionArg, FeaturesArg};
use crate::pretrained::{default_feature_cache, train_transfer_head, TransferInputs};
use crate::progress::Bars;
use crate::report;
use anyhow::{Context, Result};
use model::nets::musicnn::{HeadConfig, Variant};
use model::train::{
    discover, discover_labelled, fit_classic, load_features, split, train, ClassicConfig, Clip,
    ClipFeatures, Split, SplitKind, TrainConfig, TrainOutcome, TransferConfig,
};
use model::weights::{save, ModelCard};
use serde_json::json;
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

/// The flags' values, with the trainers' own defaults where a flag is unset (so the CLI and
/// the library cannot drift).
struct Settings {
    arch: ArchArg,
    features: FeaturesArg,
    decision: DecisionArg,
    train_hop: f32,
    levels: Vec<f32>,
    lr: f64,
    cnn_defaults: TrainConfig,
    head_defaults: TransferConfig,
}

fn settings(args: &Args) -> Result<Settings> {
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
    Ok(Settings {
        arch,
        features,
        decision: args.decision.unwrap_or(DecisionArg::ZeroShot),
        train_hop,
        levels,
        lr,
        cnn_defaults,
        head_defaults,
    })
}

/// The clips: `--data` split, and the training clips with `--extra`'s added.
struct Data {
    clips: usize,
    kind: SplitKind,
    split: Split,
    train: Vec<Clip>,
}

fn data(args: &Args) -> Result<Data> {
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
    let mut train = s.train.clone();
    for dir in &args.extra {
        let extra = discover_labelled(dir)?;
        eprintln!(
            "{} extra training clips under {}",
            extra.len(),
            dir.display()
        );
        train.extend(extra);
    }
    Ok(Data {
        clips: clips.len(),
        kind,
        split: s,
        train,
    })
}

/// The untrained model's card: which network and front end.
fn card(args: &Args, st: &Settings) -> Result<ModelCard> {
    let musicnn = |v| {
        ModelCard::musicnn(
            v,
            HeadConfig {
                input: st.features.into(),
                dropout: 0.5,
            },
        )
    };
    Ok(match args.backbone {
        BackboneArg::Cnn => ModelCard::from_scratch(st.arch.arch())?,
        BackboneArg::MusicnnMsd => musicnn(Variant::Msd),
        BackboneArg::MusicnnMtt => musicnn(Variant::Mtt),
        BackboneArg::Efficientat => ModelCard::efficientat(st.decision.into()),
    })
}

/// Trains (or fits) the model; returns the outcome, the trainer's config as JSON and the
/// epoch cap. A classical fit replaces `card` with the fitted one.
fn fit(
    args: &Args,
    st: &Settings,
    card: &mut ModelCard,
    (train_f, valid_f): (&[ClipFeatures], &[ClipFeatures]),
    device: &candle_core::Device,
    bars: &mut Bars,
) -> Result<(TrainOutcome, serde_json::Value, usize)> {
    let (cnn_defaults, head_defaults) = (st.cnn_defaults.clone(), st.head_defaults.clone());
    Ok(match args.backbone {
        BackboneArg::Cnn if st.arch.is_classic() => {
            let cfg = ClassicConfig {
                seed: args.seed,
                ..ClassicConfig::default()
            };
            let (fitted, outcome) = fit_classic(card, train_f, valid_f, &cfg, device, bars)?;
            *card = fitted;
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
                lr: st.lr,
                early_stop: args.patience,
                ..cnn_defaults
            };
            (
                train(card, train_f, valid_f, &cfg, device, bars)?,
                serde_json::to_value(&cfg)?,
                cfg.epochs,
            )
        }
        _ => {
            let cfg = TransferConfig {
                epochs: args.epochs.map_or(head_defaults.epochs, |e| e as usize),
                seed: args.seed,
                lr: st.lr,
                batch_size: args
                    .batch_size
                    .map_or(head_defaults.batch_size, |b| b as usize),
                train_hop_s: st.train_hop,
                levels_db: st.levels.clone(),
                fine_tune_dense: args.fine_tune_dense,
                early_stop: args.patience.max(head_defaults.early_stop),
                ..head_defaults
            };
            let outcome = train_transfer_head(
                card,
                &transfer_inputs(args),
                train_f,
                valid_f,
                &cfg,
                device,
                bars,
            )?;
            (outcome, serde_json::to_value(&cfg)?, cfg.epochs)
        }
    })
}

/// The card's `trained_on`: what data, how it went, and the command that does it again.
fn trained_on(
    args: &Args,
    st: &Settings,
    d: &Data,
    valid_clips: usize,
    outcome: &TrainOutcome,
    epochs: usize,
) -> String {
    let kind = d.kind;
    let extra_clips = match d.train.len() - d.split.train.len() {
        0 => String::new(),
        n => format!(" + {n} extra training clips"),
    };
    let command = command_line(
        args,
        (st.features, st.decision, st.train_hop, &st.levels[..]),
        epochs,
    );
    if st.arch.is_classic() {
        format!(
            "{} clips of {} ({kind:?} split: {} train, {} valid){extra_clips}, one window summary \
             every {} s, seed {}; `{command}`",
            d.clips,
            args.set.data.display(),
            d.split.train.len(),
            valid_clips,
            ClassicConfig::default().train_hop_s,
            args.seed,
        )
    } else if outcome.history.is_empty() {
        // Nothing was fitted (a zero-shot decision): say so rather than "best epoch 0 of 0".
        format!(
            "nothing fitted (the pretrained network's own outputs); validated on {} clips of {} \
             ({kind:?} split); `{command}`",
            valid_clips,
            args.set.data.display(),
        )
    } else {
        format!(
            "{} clips of {} ({kind:?} split: {} train, {} valid){extra_clips}, seed {}, best \
             epoch {} of {}; `{command}`",
            d.clips,
            args.set.data.display(),
            d.split.train.len(),
            valid_clips,
            args.seed,
            outcome.best_epoch,
            outcome.history.len(),
        )
    }
}

/// The report folder: metrics.json and the pictures drawn from it, as `cargo xtask report`
/// redraws them. Returns the folder.
fn write_report(
    args: &Args,
    card: &ModelCard,
    cfg_json: serde_json::Value,
    outcome: &TrainOutcome,
    bars: &Bars,
    secs: f64,
    device: &candle_core::Device,
) -> Result<PathBuf> {
    let dir = args
        .report
        .clone()
        .unwrap_or_else(|| args.out.with_extension("report"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let metrics = json!({
        "model": args.out.display().to_string(), "card": card, "config": cfg_json,
        "best_epoch": outcome.best_epoch, "best_by": outcome.best_by,
        "history": outcome.history, "valid": outcome.valid, "warnings": bars.warnings, "seconds": secs,
        "device": model::device::name(device),
    });
    let metrics_path = dir.join("metrics.json");
    std::fs::write(&metrics_path, serde_json::to_string_pretty(&metrics)?)?;
    report::draw_folder(&metrics_path, &dir)?;
    Ok(dir)
}

pub fn run(args: Args) -> Result<ExitCode> {
    check_applicable(&args)?;
    let st = settings(&args)?;
    let t0 = std::time::Instant::now();
    let device = args.device.select()?;
    let d = data(&args)?;
    let mut card = card(&args, &st)?;
    let mut bars = Bars::new();
    let train_f = load_features(&d.train, &card.front_end, card.window_frames, &mut bars)?;
    let valid_f = load_features(
        &d.split.valid,
        &card.front_end,
        card.window_frames,
        &mut bars,
    )?;
    let (outcome, cfg_json, epochs) = fit(
        &args,
        &st,
        &mut card,
        (&train_f, &valid_f),
        &device,
        &mut bars,
    )?;
    let secs = t0.elapsed().as_secs_f64();
    let v = &outcome.valid;
    card.trained_on = trained_on(&args, &st, &d, valid_f.len(), &outcome, epochs);
    card.validation = json!({
        "split": format!("{:?}", d.kind), "clips": valid_f.len(),
        "window_accuracy": v.window.accuracy,
        "window_balanced_accuracy": v.window.balanced_accuracy,
        "clip_accuracy": v.clip.accuracy, "clip_balanced_accuracy": v.clip.balanced_accuracy,
        "clip_macro_f1": v.clip.macro_f1,
    });
    save(&args.out, &card, &outcome.varmap)?;
    let dir = write_report(&args, &card, cfg_json, &outcome, &bars, secs, &device)?;

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

/// What `--backbone-weights`, `--feature-cache` and `--no-feature-cache` ask of the
/// pretrained backbone.
fn transfer_inputs(args: &Args) -> TransferInputs {
    TransferInputs {
        backbone_weights: args.backbone_weights.clone(),
        feature_cache: (!args.no_feature_cache).then(|| {
            args.feature_cache
                .clone()
                .unwrap_or_else(default_feature_cache)
        }),
    }
}
