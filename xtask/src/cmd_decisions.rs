//! `cargo xtask decisions`: the genre-decision comparison behind the EfficientAT decision
//! table (docs/decisions.md, written with `--out`). Every candidate turns the same cached backbone outputs into genre distributions,
//! so the backbone runs once per window for all of them:
//!
//! - fit on gtzan-mini's training clips (0–6 of each genre) + Emotify's train half, the
//!   model-choice protocol ([`crate::protocol`]), with early stopping on gtzan-mini's
//!   validation clips as `train` does;
//! - scored on gtzan-mini validation (clips 7–9; artist-overlapping, so optimistic), the
//!   held-out Emotify half, the four CC pieces, and a DJ mix of held-out material cut back
//!   to back (windows every 0.5 s, with no smoothing and with the plugin's default);
//! - cost: the backbone's forward time per 3-s window on one thread.
mod mix;
mod msd;
mod outputs;
mod rows;
mod table;

use crate::model_args::DecisionArg;
use crate::paths::from_root;
use crate::progress::Bars;
use crate::protocol::cc_pieces;
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use model::arch::Arch;
use model::dj_mix::Segment;
use model::nets::efficientat::{Decision, Mn, MnConfig};
use model::nets::musicnn::{Backbone, HeadInput};
use model::train::{
    discover, discover_labelled, split, train_head, Clip, EfficientAtFeatures, FeatureCache,
    MusicnnFeatures, SplitKind, TransferConfig,
};
use model::weights::ModelCard;
use outputs::{fitted_params, head_params, ms_per_window, outputs, score_all, Outputs, Scored};
use rows::{ensemble, row, row_name, scored_row, Row};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// gtzan-mini (or a GTZAN copy split by index): fit on clips 0-6, score clips 7-9.
    #[arg(long, default_value = "../shared/data/gtzan-mini")]
    gtzan: PathBuf,
    /// The Emotify halves `cargo xtask emotify-halves` makes: fit on train/, score heldout/.
    #[arg(long, default_value = "target/emotify-halves")]
    emotify_halves: PathBuf,
    /// The CC pieces (file stems and genres as in fixtures/cc-music/README.md).
    #[arg(long, default_value = "fixtures/cc-music")]
    cc: PathBuf,
    /// A musicnn model file (e.g. the model-choice table's MTT row) for the ensemble rows
    /// and a row of its own.
    #[arg(long)]
    musicnn_model: Option<PathBuf>,
    /// Where backbone features are cached between runs [default: target/feature-cache].
    #[arg(long)]
    feature_cache: Option<PathBuf>,
    /// Also write the DJ mix here (WAV, 44.1 kHz), to listen to it or tag it.
    #[arg(long)]
    mix_out: Option<PathBuf>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// At most this many epochs per fitted decision (`train`'s default when omitted; the
    /// heads' best epochs come early, so a cap well above them saves time, not results).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    epochs: Option<u32>,
    /// EfficientAT's window, seconds [default: the card's 3 s, what the plugin keeps];
    /// 10 s is what AudioSet's clips were. Windows still start every 1.5 s (0.5 s in the mix).
    #[arg(long, value_parser = window_seconds)]
    window_s: Option<f32>,
    /// Also (f) musicnn-MSD zero-shot and its means with the EfficientAT zero-shot
    /// decisions run here.
    #[arg(long)]
    msd: bool,
    /// Only these decisions (repeatable) [default: all].
    #[arg(long, value_enum)]
    decision: Vec<DecisionArg>,
    /// The table as JSON on stdout instead of Markdown.
    #[arg(long)]
    json: bool,
    /// Also write the table here (Markdown, e.g. docs/decisions.md) and its JSON beside it
    /// (the same name with .json).
    #[arg(long)]
    out: Option<PathBuf>,
}
/// Seconds between scored windows (what `cargo xtask eval` uses) and between mix windows
/// (a live display's pace).
pub const EVAL_HOP_S: f32 = 1.5;
pub const MIX_HOP_S: f32 = 0.5;
/// A found genre change must hold this long (see [`dj_mix::score`]).
pub const HOLD_S: f64 = 2.0;
/// The clips of each part of the protocol.
struct Sets {
    pub fit: Vec<Clip>,
    pub valid: Vec<Clip>,
    pub heldout: Vec<Clip>,
    pub cc: Vec<Clip>,
}

fn sets(args: &Args) -> Result<Sets> {
    let (_, s) = split(
        &discover(&from_root(&args.gtzan))?,
        Some(SplitKind::ByIndex),
    )?;
    let halves = |h: &str| {
        let dir = from_root(&args.emotify_halves).join(h);
        discover_labelled(&dir).with_context(|| {
            format!(
                "{} (make the Emotify halves with cargo xtask emotify-halves)",
                dir.display()
            )
        })
    };
    let mut fit = s.train.clone();
    fit.extend(halves("train")?);
    let cc = cc_pieces(&from_root(&args.cc))?;
    Ok(Sets {
        fit,
        valid: s.valid.clone(),
        heldout: halves("heldout")?,
        cc,
    })
}

/// What every candidate reads: the protocol's clips, the mix, the training settings and
/// where backbone features are cached.
struct Lab<'a> {
    sets: &'a Sets,
    mix: &'a [f32],
    segments: &'a [Segment],
    cfg: TransferConfig,
    cache_dir: PathBuf,
    device: Device,
}

/// The EfficientAT candidates, scored: their rows, their distributions (for ensembles),
/// the backbone's outputs and cost, and the window length every row is scored with.
struct EfficientAt {
    rows: Vec<Row>,
    scored: Vec<(&'static str, Scored)>,
    out: Outputs,
    ms: f64,
    window_s: f64,
}

/// An EfficientAT card with `decision`, and windows of `window_s` seconds if given.
fn efficientat_card(decision: Decision, window_s: Option<f32>) -> ModelCard {
    let mut card = ModelCard::efficientat(decision);
    if let Some(s) = window_s {
        card.window_frames = card.front_end.mel.frames_for(s);
    }
    card
}

/// A window length the network can take: 1–30 s (it ends in a global pool).
fn window_seconds(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (1.0..=30.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} s is outside [1, 30]"))
    }
}

/// EfficientAT: the backbone's outputs once, then every chosen decision fitted on them
/// (nothing, for the zero-shot ones) and scored.
fn efficientat_rows(args: &Args, lab: &Lab, bars: &mut Bars) -> Result<EfficientAt> {
    let device = &lab.device;
    let tensors = crate::pretrained::efficientat_tensors(
        &crate::pretrained::committed_efficientat(),
        device,
    )?;
    let net = Mn::new(
        &MnConfig::mn04_as(),
        VarBuilder::from_tensors(tensors.clone(), DType::F32, device),
    )?;
    let features = EfficientAtFeatures { net: &net };
    let zs_card = efficientat_card(Decision::zero_shot_gtzan(), args.window_s);
    let cache = FeatureCache::new(&lab.cache_dir, &tensors)?;
    let eat = outputs(
        &features, &zs_card, lab.sets, lab.mix, &lab.cfg, &cache, device, bars,
    )?;
    let ms = ms_per_window(&features, &zs_card, device)?;
    let window_s = zs_card.window_seconds() as f64;

    let all = [
        DecisionArg::ZeroShot,
        DecisionArg::ZeroShotGroups,
        DecisionArg::Calibrated,
        DecisionArg::HeadEmbedding,
        DecisionArg::HeadLogits,
        DecisionArg::HeadBoth,
    ];
    let candidates: Vec<(&str, Decision)> = all
        .into_iter()
        .filter(|d| args.decision.is_empty() || args.decision.contains(d))
        .map(|d| (row_name(d), d.into()))
        .collect();
    let mut rows = Vec::new();
    let mut scored = Vec::new();
    for (name, decision) in candidates {
        let card = efficientat_card(decision, args.window_s);
        eprintln!("fitting {name}");
        let fitted = train_head(
            &card, &tensors, &eat.fit, &eat.valid, &lab.cfg, device, bars,
        )?;
        let varmap = fitted.varmap;
        let s = score_all(&card, &varmap, &eat, device)?;
        let mut r = scored_row(
            name,
            fitted_params(&varmap),
            &s,
            &eat,
            lab.segments,
            window_s,
            ms,
        );
        r.epochs =
            (!fitted.history.is_empty()).then_some((fitted.best_epoch, fitted.history.len()));
        rows.push(r);
        scored.push((name, s));
    }
    Ok(EfficientAt {
        rows,
        scored,
        out: eat,
        ms,
        window_s,
    })
}

/// A trained musicnn model's own row, and the mean of it with (a) and with (b).
fn musicnn_rows(path: &Path, eat: &EfficientAt, lab: &Lab, bars: &mut Bars) -> Result<Vec<Row>> {
    let device = &lab.device;
    let path = from_root(path);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let (card, varmap) = model::weights::load_varmap(&bytes, &path.display().to_string(), device)?;
    let Arch::Musicnn(mcfg) = &card.arch else {
        bail!("{} is not a musicnn model", path.display());
    };
    let vars: HashMap<String, Tensor> = {
        let data = varmap.data().lock().expect("varmap poisoned");
        data.iter()
            .filter(|(k, _)| k.starts_with("backbone."))
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect()
    };
    let backbone =
        Backbone::new(VarBuilder::from_varmap(&varmap, DType::F32, device).pp("backbone"))?;
    let input: HeadInput = mcfg.head.input;
    let mfeat = MusicnnFeatures {
        backbone: &backbone,
        input,
    };
    let mcache = FeatureCache::new(&lab.cache_dir, &vars)?;
    // Nothing is fitted here: the musicnn model comes trained; only scored sets are needed.
    let empty = Sets {
        fit: Vec::new(),
        valid: lab.sets.valid.clone(),
        heldout: lab.sets.heldout.clone(),
        cc: lab.sets.cc.clone(),
    };
    let mout = outputs(
        &mfeat, &card, &empty, lab.mix, &lab.cfg, &mcache, device, bars,
    )?;
    let m_ms = ms_per_window(&mfeat, &card, device)?;
    let ms = score_all(&card, &varmap, &mout, device)?;
    let name = format!("musicnn model {}", path.display());
    let mut rows = vec![scored_row(
        &name,
        head_params(&varmap),
        &ms,
        &mout,
        lab.segments,
        eat.window_s,
        m_ms,
    )];
    let other = Member {
        scored: &ms,
        out: &mout,
        ms: m_ms,
        fitted: head_params(&varmap),
    };
    rows.extend(means_with(
        eat,
        &other,
        lab,
        |n| n.starts_with("(a)") || n.starts_with("(b)"),
        |ename| format!("(d) {} and the musicnn model, mean", &ename[..3]),
    ));
    Ok(rows)
}

/// A candidate from another network, for means with the EfficientAT rows.
struct Member<'a> {
    scored: &'a Scored,
    out: &'a Outputs,
    ms: f64,
    fitted: usize,
}

/// The mean of `other` with each EfficientAT row whose name `pick` accepts, named by `name`.
fn means_with(
    eat: &EfficientAt,
    other: &Member,
    lab: &Lab,
    pick: impl Fn(&str) -> bool,
    name: impl Fn(&str) -> String,
) -> Vec<Row> {
    eat.scored
        .iter()
        .filter(|(n, _)| pick(n))
        .map(|(ename, es)| {
            let (clips, mix) = ensemble(es, &eat.out, other.scored, other.out);
            let fitted = eat
                .rows
                .iter()
                .find(|r| r.name == *ename)
                .map_or(0, |r| r.fitted);
            row(
                &name(ename),
                fitted + other.fitted,
                clips,
                None,
                &mix,
                &eat.out,
                lab.segments,
                eat.window_s,
                eat.ms + other.ms,
            )
        })
        .collect()
}

/// (f) musicnn-MSD zero-shot alone, and the mean of it with each EfficientAT zero-shot
/// decision run ((a), (a'), (b)).
fn msd_rows(eat: &EfficientAt, lab: &Lab, bars: &mut Bars) -> Result<Vec<Row>> {
    let f = msd::msd(lab, bars)?;
    let mut rows = vec![scored_row(
        "(f) musicnn-MSD zero-shot: each genre its Last.fm tags' largest logit (none for \
         classical and reggae)",
        0,
        &f.scored,
        &f.out,
        lab.segments,
        f.window_s,
        f.ms,
    )];
    let other = Member {
        scored: &f.scored,
        out: &f.out,
        ms: f.ms,
        fitted: 0,
    };
    rows.extend(means_with(
        eat,
        &other,
        lab,
        |n| n.starts_with("(a") || n.starts_with("(b)"),
        |ename| {
            format!(
                "{} + (f): mean of the two",
                ename.split(' ').next().unwrap_or(ename)
            )
        },
    ));
    Ok(rows)
}

/// Prints the table (or its JSON), and with `--out` writes both.
fn write_table(args: &Args, rows: &[Row], segments: &[Segment]) -> Result<()> {
    let md = table::markdown(rows, segments);
    let json = serde_json::to_string_pretty(&table::rows_json(rows, segments))?;
    if args.json {
        println!("{json}");
    } else {
        print!("{md}");
    }
    if let Some(out) = &args.out {
        // What the committed table's test reads back must read back now.
        crate::md_table::tables(&md, table::HEADER).map_err(anyhow::Error::msg)?;
        let out = from_root(out);
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&out, &md).with_context(|| format!("writing {}", out.display()))?;
        let json_path = out.with_extension("json");
        std::fs::write(&json_path, json + "\n")
            .with_context(|| format!("writing {}", json_path.display()))?;
        eprintln!("wrote {} and {}", out.display(), json_path.display());
    }
    Ok(())
}

pub fn run(args: Args) -> Result<ExitCode> {
    let t0 = std::time::Instant::now();
    let sets = sets(&args)?;
    let pieces = mix::mix_pieces(&sets);
    let (mix, segments) = mix::build_mix(&pieces)?;
    if let Some(p) = &args.mix_out {
        mix::write_wav(&from_root(p), &mix, mix::MIX_RATE)?;
        eprintln!("DJ mix written to {}", p.display());
    }
    let defaults = TransferConfig::default();
    let lab = Lab {
        sets: &sets,
        mix: &mix,
        segments: &segments,
        cfg: TransferConfig {
            seed: args.seed,
            epochs: args.epochs.map_or(defaults.epochs, |e| e as usize),
            ..defaults
        },
        cache_dir: args
            .feature_cache
            .as_deref()
            .map(from_root)
            .unwrap_or_else(|| crate::paths::target_dir().join("feature-cache")),
        device: Device::Cpu,
    };
    let mut bars = Bars::new();
    let eat = efficientat_rows(&args, &lab, &mut bars)?;
    let musicnn = match &args.musicnn_model {
        Some(path) => musicnn_rows(path, &eat, &lab, &mut bars)?,
        None => Vec::new(),
    };
    let msd = if args.msd {
        msd_rows(&eat, &lab, &mut bars)?
    } else {
        Vec::new()
    };
    let mut rows = eat.rows;
    rows.extend(musicnn);
    rows.extend(msd);
    write_table(&args, &rows, &segments)?;
    eprintln!("{:.0} s", t0.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
