//! `cargo xtask eval`: window- and clip-level figures for a model on GTZAN clips, through
//! the same Tagger the plugin uses (decode → resample → streaming mel → windows).

use crate::progress::Bars;
use anyhow::{bail, Result};
use model::distribution::argmax;
use model::metrics::Confusion;
use model::tagger::{tag_audio, TaggerOptions};
use model::train::{discover, discover_labelled, split, Observer, Subset};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SubsetArg {
    Train,
    Valid,
    Test,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    set: crate::DataArgs,
    /// Which part to score: test for the filtered split, valid otherwise, when omitted.
    #[arg(long, value_enum)]
    subset: Option<SubsetArg>,
    /// Model file; the embedded default when omitted.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Seconds between windows.
    #[arg(long, default_value_t = 1.5, value_parser = crate::cmd_tag::hop_seconds)]
    hop: f32,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// `--data` is a folder of other labelled music, `<genre>/<file>` (like train's
    /// `--extra`), scored whole: held-out music from other artists than GTZAN's.
    #[arg(long, conflicts_with_all = ["subset", "split"])]
    labelled: bool,
    #[command(flatten)]
    device: crate::DeviceArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let device = args.device.select()?;
    let m = Arc::new(model::weights::load_or_default(
        args.model.as_deref(),
        &device,
    )?);
    let labelled;
    let split_clips;
    let part: String;
    let clips: &[model::train::Clip] = if args.labelled {
        labelled = discover_labelled(&args.set.data)?;
        if labelled.is_empty() {
            bail!("no <genre>/<file> audio under {}", args.set.data.display());
        }
        part = "labelled/all".into();
        &labelled
    } else {
        let all = discover(&args.set.data)?;
        let (kind, s) = split(&all, args.set.split.map(Into::into))?;
        let subset = match args.subset {
            Some(SubsetArg::Train) => Subset::Train,
            Some(SubsetArg::Valid) => Subset::Valid,
            Some(SubsetArg::Test) => Subset::Test,
            None if kind == model::train::SplitKind::Filtered => Subset::Test,
            None => Subset::Valid,
        };
        split_clips = s.subset(subset).to_vec();
        part = format!("{kind:?}/{subset:?}");
        if split_clips.is_empty() {
            bail!(
                "the {kind:?} split has no {subset:?} clips in {}",
                args.set.data.display()
            );
        }
        &split_clips
    };
    let opts = TaggerOptions {
        hop_s: args.hop,
        ..Default::default()
    };
    let labels = &m.card.labels;
    let (mut window, mut clip) = (Confusion::new(labels), Confusion::new(labels));
    let mut skipped = Vec::new();
    let mut bars = Bars::new();
    bars.stage("evaluating", clips.len());
    let t0 = std::time::Instant::now();
    let mut audio_s = 0.0;
    for c in clips {
        match model::audio::decode_file(&c.path).and_then(|a| {
            audio_s += a.duration_s() as f64;
            tag_audio(m.clone(), &a, opts)
        }) {
            Ok(t) => {
                for w in t.windows.iter().filter(|w| !w.silent) {
                    window.add(c.genre, argmax(&w.probs));
                }
                clip.add(c.genre, t.top);
            }
            Err(e) => {
                bars.warn(&format!("skipping {}: {e}", c.path.display()));
                skipped.push(c.path.display().to_string());
            }
        }
        bars.tick(&c.key());
    }
    bars.stage_done();
    let secs = t0.elapsed().as_secs_f64();
    if clip.total() == 0 {
        bail!("no clip could be evaluated");
    }
    if args.json {
        let doc = json!({
            "model": m.source, "data": args.set.data.display().to_string(), "split": part,
            "hop_s": args.hop, "clips": clip.total(), "skipped": skipped,
            "window": window.summary(), "clip": clip.summary(),
            "seconds": secs, "x_real_time": audio_s / secs,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!(
            "model: {}  data: {}  split: {part}  clips: {}  hop: {} s",
            m.source,
            args.set.data.display(),
            clip.total(),
            args.hop
        );
        println!(
            "\n== window level ({} windows) ==\n{}",
            window.total(),
            window.table()
        );
        println!(
            "\n== clip level (mean of window probabilities, {} clips) ==\n{}",
            clip.total(),
            clip.table()
        );
        println!(
            "\n{:.1} s of audio in {secs:.1} s ({:.0}x real time)",
            audio_s,
            audio_s / secs
        );
        if !skipped.is_empty() {
            println!("skipped {} unreadable clip(s)", skipped.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}
