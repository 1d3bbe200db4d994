//! `cargo xtask train`: train a model and write it plus a report folder.

use crate::progress::Bars;
use crate::report;
use anyhow::{Context, Result};
use model::train::{discover, discover_labelled, load_features, split, train, TrainConfig};
use model::weights::{save, ModelCard};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    set: crate::DataArgs,
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    epochs: u32,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where to write the model.
    #[arg(long, default_value = "trained.safetensors")]
    out: PathBuf,
    /// Report folder (metrics.json, confusion.png, curves.png); next to --out when omitted.
    #[arg(long)]
    report: Option<PathBuf>,
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(2..=4096))]
    batch_size: u32,
    /// Random 3-s crops per clip per epoch.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=1000))]
    crops: u32,
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Stop after this many epochs without a better validation score.
    #[arg(long, default_value_t = 15)]
    patience: usize,
    /// Extra labelled training music, `<genre>/<file>` (repeatable), e.g. other artists'
    /// recordings of some genres. Training samples genres evenly, so a large extra set
    /// does not drown the rest. Never used for validation.
    #[arg(long)]
    extra: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if !(args.lr.is_finite() && args.lr > 0.0 && args.lr < 1.0) {
        anyhow::bail!("--lr must be in (0, 1), got {}", args.lr);
    }
    let t0 = std::time::Instant::now();
    let device = model::device::best();
    let clips = discover(&args.set.data)?;
    let (kind, s) = split(&clips, args.set.split.map(Into::into))?;
    eprintln!(
        "{} clips under {}: {kind:?} split, {} train / {} valid / {} test (test is never touched here)",
        clips.len(), args.set.data.display(), s.train.len(), s.valid.len(), s.test.len()
    );
    let mut card = ModelCard::seed_cnn_default();
    let mut bars = Bars::new();
    let mut train_clips = s.train.clone();
    for dir in &args.extra {
        let extra = discover_labelled(dir)?;
        eprintln!("{} extra training clips under {}", extra.len(), dir.display());
        train_clips.extend(extra);
    }
    let train_f = load_features(&train_clips, &card.mel, card.window_frames, &mut bars)?;
    let valid_f = load_features(&s.valid, &card.mel, card.window_frames, &mut bars)?;
    let cfg = TrainConfig {
        epochs: args.epochs as usize,
        seed: args.seed,
        batch_size: args.batch_size as usize,
        crops_per_clip: args.crops as usize,
        lr: args.lr,
        early_stop: args.patience,
        ..Default::default()
    };
    let outcome = train(&card, &train_f, &valid_f, &cfg, &device, &mut bars)?;
    let secs = t0.elapsed().as_secs_f64();
    let v = &outcome.valid;
    let extra: String = args.extra.iter().map(|d| format!(" --extra {}", d.display())).collect();
    card.trained_on = format!(
        "{} clips of {} ({kind:?} split: {} train, {} valid){}, seed {}, best epoch {} of {}; `cargo xtask train --data {}{extra} --epochs {} --seed {}`",
        clips.len(), args.set.data.display(), s.train.len(), valid_f.len(),
        if args.extra.is_empty() { String::new() } else { format!(" + {} extra training clips", train_clips.len() - s.train.len()) },
        args.seed, outcome.best_epoch, outcome.history.len(), args.set.data.display(), args.epochs, args.seed
    );
    card.validation = json!({
        "split": format!("{kind:?}"), "clips": valid_f.len(),
        "window_accuracy": v.window.accuracy, "window_balanced_accuracy": v.window.balanced_accuracy,
        "clip_accuracy": v.clip.accuracy, "clip_balanced_accuracy": v.clip.balanced_accuracy,
        "clip_macro_f1": v.clip.macro_f1,
    });
    save(&args.out, &card, &outcome.varmap)?;

    let dir = args.report.clone().unwrap_or_else(|| args.out.with_extension("report"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let metrics = json!({
        "model": args.out.display().to_string(), "card": card, "config": cfg,
        "best_epoch": outcome.best_epoch, "history": outcome.history,
        "valid": v, "warnings": bars.warnings, "seconds": secs,
    });
    std::fs::write(dir.join("metrics.json"), serde_json::to_string_pretty(&metrics)?)?;
    report::plot_confusion(&v.clip.confusion, "validation, clip level", &dir.join("confusion.png"))?;
    report::plot_confusion(&v.window.confusion, "validation, window level", &dir.join("confusion_windows.png"))?;
    let points: Vec<report::EpochPoint> = outcome
        .history
        .iter()
        .map(|r| report::EpochPoint { epoch: r.epoch, train_loss: r.train_loss, train_acc: r.train_acc, valid_loss: r.valid_loss, valid_acc: r.valid_acc, lr: r.lr })
        .collect();
    report::plot_curves(&points, &dir.join("curves.png"))?;

    println!("validation ({} clips), best epoch {}:", valid_f.len(), outcome.best_epoch);
    println!("  window accuracy {:.3} (balanced {:.3}), clip accuracy {:.3} (balanced {:.3})",
        v.window.accuracy, v.window.balanced_accuracy, v.clip.accuracy, v.clip.balanced_accuracy);
    println!("{}", v.clip.confusion.table());
    println!("model: {}\nreport: {}\ntime: {secs:.0} s", args.out.display(), dir.display());
    Ok(ExitCode::SUCCESS)
}
