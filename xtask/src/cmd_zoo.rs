//! `cargo xtask zoo`: the seed papers' systems and this project's, trained and scored under
//! one protocol (README, "The seed papers' systems"), written as `zoo.md` (the table),
//! `zoo.json` and `zoo.png` (accuracy with error bars per system, by data set).
//!
//! Each system's results are kept in `<out>/systems/<name>.json` with a fingerprint of
//! everything that decided them (protocol, seed, settings, data): a second run with the
//! same fingerprint reuses them, so an interrupted run resumes and `--systems` can add one
//! system to a table. `--fresh` retrains everything.

mod plot;
pub(crate) mod protocol;
mod systems;
mod table;

use crate::paths::from_root;
use crate::progress::Bars;
use anyhow::{Context, Result};
use model::train::{discover, load_features, split, Clip, ClipFeatures, SplitKind};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
pub use systems::System;

#[derive(clap::Args)]
pub struct Args {
    /// gtzan-mini, or a full GTZAN copy (then also scored on the artist-filtered test split).
    #[arg(long, default_value = "../shared/data/gtzan-mini")]
    data: PathBuf,
    /// The Emotify folder (`<genre>/<file>`), split in halves as `scripts/emotify-halves` does.
    #[arg(long, default_value = "../shared/data/emotify")]
    emotify: PathBuf,
    /// The CC pieces.
    #[arg(long, default_value = "fixtures/cc-music")]
    cc: PathBuf,
    /// Where zoo.md, zoo.json, zoo.png and the per-system results go.
    #[arg(long, default_value = "target/zoo")]
    out: PathBuf,
    /// Print zoo.json on stdout instead of the table.
    #[arg(long)]
    json: bool,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Systems to train (comma-separated) [default: all]; the table shows every system
    /// with results under --out.
    #[arg(long, value_enum, value_delimiter = ',')]
    systems: Vec<System>,
    /// Retrain systems whose results are already under --out.
    #[arg(long)]
    fresh: bool,
}

/// A score over runs: mean and (population) standard deviation over the folds, or one value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Score {
    pub mean: f64,
    pub std: f64,
    pub values: Vec<f64>,
}

impl Score {
    pub fn of(values: Vec<f64>) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        Self { mean, std, values }
    }
}

/// Scores on one set of clips: clip accuracy (mean of window probabilities) and window
/// accuracy, with how many clips.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetScore {
    pub clip: Score,
    pub window: Score,
    pub clips: usize,
}

/// What one CC piece came out as.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Piece {
    pub file: String,
    pub expected: String,
    pub got: String,
    pub probability: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cost {
    pub parameters: usize,
    /// Mean wall time of one training run (all of a run's epochs), seconds.
    pub train_seconds: f64,
    /// One window through the network on one core, batch 1, median of repeats.
    pub ms_per_window: f64,
    pub window_seconds: f32,
}

/// Everything the zoo measured for one system.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SystemResult {
    pub name: String,
    pub fingerprint: String,
    /// Settings the protocol imposed (epoch cap and the like), for the table's notes.
    pub settings: String,
    /// gtzan-mini, 5-fold by clip index (artist-overlapping).
    pub cv: SetScore,
    /// Trained on gtzan-mini (clip 9 of each genre validating) + one Emotify half.
    pub emotify_heldout: SetScore,
    pub cc: Vec<Piece>,
    /// The artist-filtered GTZAN test split, when the data has it.
    pub gtzan_test: Option<SetScore>,
    pub cost: Cost,
    /// Best epochs (or other per-run notes) of the runs, in order.
    pub runs: Vec<String>,
}

/// The chunk-level leak: seed-128chunk trained and scored on the 128 × 128-chunk paper's
/// random split of chunks, and on the same chunks split by clip.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Leak {
    pub fingerprint: String,
    pub settings: String,
    pub chunks: usize,
    pub random_chunks: Score,
    pub by_clip: Score,
}

/// zoo.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Zoo {
    pub command: String,
    pub data: String,
    pub seed: u64,
    pub systems: Vec<SystemResult>,
    /// Systems with no results under --out yet (the table lists them as not run).
    #[serde(default)]
    pub not_run: Vec<String>,
    pub leak: Option<Leak>,
    /// Wall time of this invocation, seconds (systems reused from earlier runs cost none).
    pub seconds: f64,
}

/// What every system's runs share: the clips, their features per front end, the device.
pub struct Lab {
    pub seed: u64,
    pub gtzan: Vec<Clip>,
    pub filtered: Option<model::train::Split>,
    pub emotify_train: Vec<Clip>,
    pub emotify_heldout: Vec<Clip>,
    pub cc: Vec<Clip>,
    pub device: candle_core::Device,
    pub bars: Bars,
    /// Features per (front end, window, clip set), computed once.
    cache: HashMap<String, std::rc::Rc<Vec<ClipFeatures>>>,
}

impl Lab {
    /// The features of `set` ("gtzan", "emotify_train", …) on `card`'s front end.
    pub fn features(
        &mut self,
        card: &model::weights::ModelCard,
        set: &str,
    ) -> Result<std::rc::Rc<Vec<ClipFeatures>>> {
        let key = format!(
            "{set}|{}|{}",
            serde_json::to_string(&card.mel)?,
            card.window_frames
        );
        if let Some(f) = self.cache.get(&key) {
            return Ok(f.clone());
        }
        let clips = match set {
            "gtzan" => &self.gtzan,
            "emotify_train" => &self.emotify_train,
            "emotify_heldout" => &self.emotify_heldout,
            "cc" => &self.cc,
            other => anyhow::bail!("no clip set {other}"),
        };
        let f = load_features(clips, &card.mel, card.window_frames, &mut self.bars)?;
        // Positions must match the clip list (folds index it): a skipped clip would shift them.
        anyhow::ensure!(
            f.len() == clips.len(),
            "{} of the {set} clips could not be read (see the warnings)",
            clips.len() - f.len()
        );
        let f = std::rc::Rc::new(f);
        self.cache.insert(key, f.clone());
        Ok(f)
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let t0 = std::time::Instant::now();
    let data = from_root(&args.data);
    let out = from_root(&args.out);
    let clips = discover(&data)?;
    let filtered = match split(&clips, None) {
        Ok((SplitKind::Filtered, s)) => Some(s),
        _ => None,
    };
    let (emotify_train, emotify_heldout) = protocol::emotify_halves(&from_root(&args.emotify))?;
    let cc = protocol::cc_pieces(&from_root(&args.cc))?;
    let gtzan: Vec<Clip> = clips.into_iter().filter(|c| c.index < 10).collect();
    eprintln!(
        "zoo: {} gtzan clips (index < 10) under {}{}, Emotify {} + {} (train / held-out halves), {} CC pieces",
        gtzan.len(),
        data.display(),
        if filtered.is_some() { ", plus the artist-filtered split" } else { "" },
        emotify_train.len(),
        emotify_heldout.len(),
        cc.len()
    );
    let mut ctx = Lab {
        seed: args.seed,
        gtzan,
        filtered,
        emotify_train,
        emotify_heldout,
        cc,
        device: model::device::best(),
        bars: Bars::new(),
        cache: HashMap::new(),
    };
    let chosen: Vec<System> = if args.systems.is_empty() {
        System::all().to_vec()
    } else {
        args.systems.clone()
    };
    let dir = out.join("systems");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let data_key = format!("{}:{}", data.display(), ctx.gtzan.len());
    for (i, sys) in chosen.iter().enumerate() {
        let fp = sys.fingerprint(args.seed, &data_key);
        let path = dir.join(format!("{}.json", sys.name()));
        if !args.fresh {
            if let Some(r) = read_json::<SystemResult>(&path).filter(|r| r.fingerprint == fp) {
                eprintln!(
                    "[{}/{}] {}: reusing {}",
                    i + 1,
                    chosen.len(),
                    sys.name(),
                    path.display()
                );
                let _ = r;
                continue;
            }
        }
        eprintln!("[{}/{}] {}", i + 1, chosen.len(), sys.name());
        let t = std::time::Instant::now();
        let mut r = sys.run(&mut ctx)?;
        r.fingerprint = fp;
        std::fs::write(&path, serde_json::to_string_pretty(&r)?)?;
        eprintln!("{}: done in {:.0} s", sys.name(), t.elapsed().as_secs_f64());
    }
    let leak_path = dir.join("leak.json");
    if chosen.contains(&System::Arch(crate::cmd_train::ArchArg::Seed128Chunk)) {
        let fp = systems::leak_fingerprint(args.seed, &data_key);
        let fresh = args.fresh || read_json::<Leak>(&leak_path).is_none_or(|l| l.fingerprint != fp);
        if fresh {
            eprintln!("leak: seed-128chunk on random chunks and on chunks by clip");
            let mut l = systems::leak(&mut ctx)?;
            l.fingerprint = fp;
            std::fs::write(&leak_path, serde_json::to_string_pretty(&l)?)?;
        }
    }
    // The table shows every system with results under --out, in the zoo's order.
    let systems: Vec<SystemResult> = System::all()
        .iter()
        .filter_map(|s| read_json(&dir.join(format!("{}.json", s.name()))))
        .collect();
    let not_run = System::all()
        .iter()
        .map(|s| s.name())
        .filter(|n| !systems.iter().any(|r| &r.name == n))
        .collect();
    let zoo = Zoo {
        command: std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        data: data.display().to_string(),
        seed: args.seed,
        systems,
        not_run,
        leak: read_json(&leak_path),
        seconds: t0.elapsed().as_secs_f64(),
    };
    let json = serde_json::to_string_pretty(&zoo)?;
    std::fs::write(out.join("zoo.json"), &json)?;
    let md = table::markdown(&zoo);
    std::fs::write(out.join("zoo.md"), &md)?;
    plot::draw(&zoo, &out.join("zoo.png"))?;
    if args.json {
        println!("{json}");
    } else {
        println!("{md}");
    }
    eprintln!(
        "zoo: {:.0} s; wrote {}/zoo.md, zoo.json, zoo.png",
        zoo.seconds,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}
