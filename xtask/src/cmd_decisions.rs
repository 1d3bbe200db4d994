//! `cargo xtask decisions`: the genre-decision comparison behind the README's EfficientAT
//! table. Every candidate turns the same cached backbone outputs into genre distributions,
//! so the backbone runs once per window for all of them:
//!
//! - fit on gtzan-mini's training clips (0–6 of each genre) + Emotify's train half, the
//!   model-choice protocol (`scripts/emotify-halves`), with early stopping on gtzan-mini's
//!   validation clips as `train` does;
//! - scored on gtzan-mini validation (clips 7–9; artist-overlapping, so optimistic), the
//!   held-out Emotify half, the four CC pieces, and a DJ mix of held-out material cut back
//!   to back (windows every 0.5 s, with no smoothing and with the plugin's default);
//! - cost: the backbone's forward time per 3-s window on one thread.

use crate::cmd_train::DecisionArg;
use crate::paths::from_root;
use crate::progress::Bars;
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use model::arch::Arch;
use model::distribution::argmax;
use model::dj_mix::{self, MixScore, Segment};
use model::nets::efficientat::{Decision, Mn, MnConfig};
use model::nets::musicnn::{Backbone, HeadInput};
use model::tagger::{smooth, TaggerOptions};
use model::train::{
    backbone_features, cached_probs, discover, discover_labelled, load_features, split, train_head,
    Clip, ClipFeatures, EfficientAtFeatures, FeatureBackbone, FeatureCache, MusicnnFeatures,
    SplitKind, TransferConfig, WindowFeatures,
};
use model::weights::ModelCard;
use model::GENRES;
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// gtzan-mini (or a GTZAN copy split by index): fit on clips 0-6, score clips 7-9.
    #[arg(long, default_value = "../shared/data/gtzan-mini")]
    gtzan: PathBuf,
    /// The Emotify halves `scripts/emotify-halves` makes: fit on train/, score heldout/.
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
    /// Only these decisions (repeatable) [default: all].
    #[arg(long, value_enum)]
    decision: Vec<DecisionArg>,
    /// The table as JSON on stdout instead of Markdown.
    #[arg(long)]
    json: bool,
}

/// The CC pieces and their genres (fixtures/cc-music/README.md).
const CC_PIECES: [(&str, &str); 4] = [
    ("brahms_hungarian_dance_5", "classical"),
    ("tchaikovsky_sugar_plum_fairy", "classical"),
    ("vibe_ace", "jazz"),
    ("lets_go_fishin", "country"),
];

/// Seconds between scored windows (what `cargo xtask eval` uses) and between mix windows
/// (a live display's pace).
const EVAL_HOP_S: f32 = 1.5;
const MIX_HOP_S: f32 = 0.5;
/// A found genre change must hold this long (see [`dj_mix::score`]).
const HOLD_S: f64 = 2.0;

/// The clips of each part of the protocol.
struct Sets {
    fit: Vec<Clip>,
    valid: Vec<Clip>,
    heldout: Vec<Clip>,
    cc: Vec<Clip>,
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
                "{} (make the Emotify halves with scripts/emotify-halves)",
                dir.display()
            )
        })
    };
    let mut fit = s.train.clone();
    fit.extend(halves("train")?);
    let cc = CC_PIECES
        .iter()
        .enumerate()
        .map(|(i, (stem, genre))| {
            let path = from_root(&args.cc).join(format!("{stem}.ogg"));
            if !path.is_file() {
                bail!("{} is missing", path.display());
            }
            Ok(Clip {
                path,
                genre: genre_index(genre),
                index: i as u32,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Sets {
        fit,
        valid: s.valid.clone(),
        heldout: halves("heldout")?,
        cc,
    })
}

fn genre_index(name: &str) -> usize {
    GENRES
        .iter()
        .position(|g| *g == name)
        .expect("a GTZAN genre")
}

/// The mix: held-out pieces of alternating genres, 30 s of each, cut back to back at one
/// level. Which pieces is fixed here (the first held-out Emotify files of each genre, in
/// file order, and the four CC pieces), not chosen by how any model does on them.
fn mix_pieces(sets: &Sets) -> Vec<(String, usize, PathBuf)> {
    let emotify = |genre: &str, nth: usize| {
        sets.heldout
            .iter()
            .filter(|c| GENRES[c.genre] == genre)
            .nth(nth)
            .map(|c| c.path.clone())
    };
    let cc = |stem: &str| {
        sets.cc
            .iter()
            .find(|c| c.path.ends_with(format!("{stem}.ogg")))
    };
    let order: [(&str, Option<PathBuf>); 9] = [
        (
            "classical",
            cc("brahms_hungarian_dance_5").map(|c| c.path.clone()),
        ),
        ("pop", emotify("pop", 0)),
        ("jazz", cc("vibe_ace").map(|c| c.path.clone())),
        ("rock", emotify("rock", 0)),
        ("country", cc("lets_go_fishin").map(|c| c.path.clone())),
        ("classical", emotify("classical", 0)),
        ("pop", emotify("pop", 1)),
        (
            "classical",
            cc("tchaikovsky_sugar_plum_fairy").map(|c| c.path.clone()),
        ),
        ("rock", emotify("rock", 1)),
    ];
    order
        .into_iter()
        .filter_map(|(genre, path)| {
            let path = path?;
            let name = path.file_stem()?.to_string_lossy().into_owned();
            Some((name, genre_index(genre), path))
        })
        .collect()
}

/// Seconds of each piece in the mix, and where in the piece they start (past any intro).
const PIECE_S: f64 = 30.0;
const PIECE_OFFSET_S: f64 = 15.0;
const MIX_RATE: u32 = 44_100;

fn build_mix(pieces: &[(String, usize, PathBuf)]) -> Result<(Vec<f32>, Vec<Segment>)> {
    let mut cut = Vec::new();
    for (name, label, path) in pieces {
        let audio = model::audio::decode_file(path)?;
        let x = model::audio::resample(&audio.samples, audio.sample_rate, MIX_RATE)?;
        let len = (PIECE_S * MIX_RATE as f64) as usize;
        let start = ((PIECE_OFFSET_S * MIX_RATE as f64) as usize).min(x.len().saturating_sub(len));
        cut.push((
            name.clone(),
            *label,
            x[start..(start + len).min(x.len())].to_vec(),
        ));
    }
    Ok(dj_mix::cut_back_to_back(&cut, MIX_RATE, -20.0))
}

fn write_wav(path: &Path, x: &[f32], rate: u32) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut w = hound::WavWriter::create(path, spec)?;
    for &s in x {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
    }
    w.finalize()?;
    Ok(())
}

/// One backbone's cached outputs for every part of the protocol.
struct Outputs {
    fit: WindowFeatures,
    valid: WindowFeatures,
    heldout: WindowFeatures,
    cc: WindowFeatures,
    /// The mix's windows, `MIX_HOP_S` apart as near as the backbone's frame rate allows.
    mix: WindowFeatures,
    /// Seconds between the mix's windows.
    mix_hop_s: f64,
}

#[allow(clippy::too_many_arguments)]
fn outputs(
    backbone: &dyn FeatureBackbone,
    card: &ModelCard,
    sets: &Sets,
    mix: &[f32],
    cfg: &TransferConfig,
    cache: &FeatureCache,
    device: &Device,
    bars: &mut Bars,
) -> Result<Outputs> {
    let wf = card.window_frames;
    let part = |clips: &[Clip], hop: f32, levels: &[f32], bars: &mut Bars| -> Result<_> {
        let mels = load_features(clips, &card.front_end, wf, bars)?;
        Ok(backbone_features(
            backbone,
            card,
            &mels,
            hop,
            levels,
            Some(cache),
            device,
            bars,
        )?)
    };
    let fit = part(&sets.fit, cfg.train_hop_s, &cfg.levels_db, bars)?;
    let valid = part(&sets.valid, EVAL_HOP_S, &[], bars)?;
    let heldout = part(&sets.heldout, EVAL_HOP_S, &[], bars)?;
    let cc = part(&sets.cc, EVAL_HOP_S, &[], bars)?;
    let x = model::audio::resample(mix, MIX_RATE, card.front_end.mel.sample_rate)?;
    let mel = model::mel::mel_spectrogram(&card.front_end.mel, &x)?;
    let clip = Clip {
        path: "dj mix".into(),
        genre: 0,
        index: 0,
    };
    let mix = backbone_features(
        backbone,
        card,
        &[ClipFeatures { clip, mel }],
        MIX_HOP_S,
        &[],
        Some(cache),
        device,
        bars,
    )?;
    let hop_frames =
        (MIX_HOP_S * card.front_end.mel.sample_rate as f32 / card.front_end.mel.hop as f32).round();
    Ok(Outputs {
        fit,
        valid,
        heldout,
        cc,
        mix,
        mix_hop_s: hop_frames as f64 * card.front_end.mel.hop as f64
            / card.front_end.mel.sample_rate as f64,
    })
}

/// Per clip distributions of gtzan-mini validation, the held-out half and the CC pieces.
type ClipDists = [Vec<Vec<f32>>; 3];
/// `(window start, distribution)` over the mix.
type MixTimeline = Vec<(f64, Vec<f32>)>;

/// A candidate's window distributions on every scored part.
struct Scored {
    valid: Vec<Vec<f32>>,
    heldout: Vec<Vec<f32>>,
    cc: Vec<Vec<f32>>,
    /// `(window start, distribution)` over the mix.
    mix: MixTimeline,
}

fn score_all(card: &ModelCard, varmap: &VarMap, out: &Outputs, device: &Device) -> Result<Scored> {
    let p = |set: &WindowFeatures| cached_probs(card, varmap, set, device);
    Ok(Scored {
        valid: p(&out.valid)?,
        heldout: p(&out.heldout)?,
        cc: p(&out.cc)?,
        mix: p(&out.mix)?
            .into_iter()
            .enumerate()
            .map(|(i, q)| (i as f64 * out.mix_hop_s, q))
            .collect(),
    })
}

/// The average of two candidates' distributions: per clip the mean of their clip means,
/// per mix window the mean with the other's window nearest in time.
fn ensemble(a: &Scored, a_out: &Outputs, b: &Scored, b_out: &Outputs) -> (ClipDists, MixTimeline) {
    let avg = |x: &[f32], y: &[f32]| -> Vec<f32> {
        x.iter().zip(y).map(|(p, q)| (p + q) / 2.0).collect()
    };
    let both = |pa: &[Vec<f32>], sa: &WindowFeatures, pb: &[Vec<f32>], sb: &WindowFeatures| {
        assert_eq!(
            sa.clip_labels, sb.clip_labels,
            "both members scored the same clips"
        );
        clip_means(pa, sa)
            .iter()
            .zip(clip_means(pb, sb))
            .map(|(x, y)| avg(x, &y))
            .collect::<Vec<_>>()
    };
    let clips = [
        both(&a.valid, &a_out.valid, &b.valid, &b_out.valid),
        both(&a.heldout, &a_out.heldout, &b.heldout, &b_out.heldout),
        both(&a.cc, &a_out.cc, &b.cc, &b_out.cc),
    ];
    let mix = a
        .mix
        .iter()
        .map(|(t, p)| {
            let j = ((t / b_out.mix_hop_s).round() as usize).min(b.mix.len() - 1);
            (*t, avg(p, &b.mix[j].1))
        })
        .collect();
    (clips, mix)
}

/// Mean distribution of each clip's windows.
fn clip_means(p: &[Vec<f32>], set: &WindowFeatures) -> Vec<Vec<f32>> {
    let n = set.clip_labels.len();
    let k = p.first().map_or(0, Vec::len);
    let mut sum = vec![vec![0f32; k]; n];
    let mut count = vec![0usize; n];
    for (row, &c) in p.iter().zip(&set.clip_of) {
        sum[c].iter_mut().zip(row).for_each(|(s, v)| *s += v);
        count[c] += 1;
    }
    for (s, &c) in sum.iter_mut().zip(&count) {
        s.iter_mut().for_each(|v| *v /= c.max(1) as f32);
    }
    sum
}

fn row_name(d: DecisionArg) -> &'static str {
    match d {
        DecisionArg::ZeroShot => "(a) zero-shot: softmax over the ten GTZAN-named logits",
        DecisionArg::ZeroShotGroups => {
            "(a') zero-shot over ontology groups: each genre's largest logit of its class and \
             the class's children"
        }
        DecisionArg::Calibrated => "(b) zero-shot + per-genre bias + temperature",
        DecisionArg::HeadEmbedding => "(c) head on the 384-d embedding",
        DecisionArg::HeadLogits => "(c) head on the 527 logits",
        DecisionArg::HeadBoth => "(c) head on embedding + logits",
    }
}

/// One row of the table.
struct Row {
    name: String,
    fitted: usize,
    /// The epoch kept and the epochs run, for fitted decisions.
    epochs: Option<(usize, usize)>,
    valid_clip: f64,
    valid_window: Option<f64>,
    heldout_clip: f64,
    /// Correct of each held-out genre, in the order classical, pop, rock.
    heldout_per_genre: Vec<(String, usize, usize)>,
    cc: Vec<(String, String, f32, bool)>,
    mix_raw: MixScore,
    mix_smoothed: MixScore,
    ms_per_window: f64,
}

fn accuracy(clip_p: &[Vec<f32>], labels: &[usize]) -> f64 {
    let right = clip_p
        .iter()
        .zip(labels)
        .filter(|(p, &y)| argmax(p) == y)
        .count();
    right as f64 / labels.len().max(1) as f64
}

#[allow(clippy::too_many_arguments)]
fn row(
    name: &str,
    fitted: usize,
    clips: ClipDists,
    window_valid: Option<f64>,
    mix: &[(f64, Vec<f32>)],
    out: &Outputs,
    segments: &[Segment],
    window_s: f64,
    ms_per_window: f64,
) -> Row {
    let [valid, heldout, cc] = clips;
    let per_genre = ["classical", "pop", "rock"]
        .iter()
        .map(|g| {
            let gi = genre_index(g);
            let of: Vec<usize> = (0..heldout.len())
                .filter(|&c| out.heldout.clip_labels[c] == gi)
                .collect();
            let right = of.iter().filter(|&&c| argmax(&heldout[c]) == gi).count();
            (g.to_string(), right, of.len())
        })
        .collect();
    let cc_answers = cc
        .iter()
        .zip(&out.cc.clip_labels)
        .zip(CC_PIECES)
        .map(|((p, &y), (stem, _))| {
            let top = argmax(p);
            (stem.to_string(), GENRES[top].to_string(), p[top], top == y)
        })
        .collect();
    let timeline = |smoothing_s: f32| {
        let opts = TaggerOptions {
            hop_s: out.mix_hop_s as f32,
            smoothing_s,
            ..Default::default()
        };
        let alpha = opts.smoothing_alpha();
        let mut state = None;
        mix.iter()
            .map(|(t, p)| {
                smooth(&mut state, p, alpha);
                (*t, argmax(state.as_ref().expect("set by smooth")))
            })
            .collect::<Vec<_>>()
    };
    Row {
        name: name.to_string(),
        fitted,
        epochs: None,
        valid_clip: accuracy(&valid, &out.valid.clip_labels),
        valid_window: window_valid,
        heldout_clip: accuracy(&heldout, &out.heldout.clip_labels),
        heldout_per_genre: per_genre,
        cc: cc_answers,
        mix_raw: dj_mix::score(segments, &timeline(0.0), window_s, HOLD_S),
        mix_smoothed: dj_mix::score(
            segments,
            &timeline(TaggerOptions::default().smoothing_s),
            window_s,
            HOLD_S,
        ),
        ms_per_window,
    }
}

/// A candidate's rows from its distributions.
fn scored_row(
    name: &str,
    fitted: usize,
    s: &Scored,
    out: &Outputs,
    segments: &[Segment],
    window_s: f64,
    ms: f64,
) -> Row {
    let clips = [
        clip_means(&s.valid, &out.valid),
        clip_means(&s.heldout, &out.heldout),
        clip_means(&s.cc, &out.cc),
    ];
    let wv = accuracy(&s.valid, &out.valid.labels);
    row(
        name,
        fitted,
        clips,
        Some(wv),
        &s.mix,
        out,
        segments,
        window_s,
        ms,
    )
}

/// Median forward time of `backbone` per window, batch 1, on one thread.
fn ms_per_window(backbone: &dyn FeatureBackbone, card: &ModelCard, device: &Device) -> Result<f64> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let x = Tensor::randn(
        0f32,
        1.0,
        (1, card.front_end.mel.n_mels, card.window_frames),
        device,
    )?;
    pool.install(|| -> Result<f64> {
        backbone.features(&x)?; // warm-up
        let mut t: Vec<f64> = (0..15)
            .map(|_| {
                let t0 = std::time::Instant::now();
                backbone
                    .features(&x)
                    .map(|_| t0.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<model::Result<_>>()?;
        t.sort_by(f64::total_cmp);
        Ok(t[t.len() / 2])
    })
}

/// Trainable parameters of a decision: what `train` fits for it.
fn fitted_params(varmap: &VarMap) -> usize {
    let data = varmap.data().lock().expect("varmap poisoned");
    data.iter()
        .filter(|(k, _)| {
            k.starts_with("decision.")
                && !k.ends_with("feature_mean")
                && !k.ends_with("feature_std")
        })
        .map(|(_, v)| v.elem_count())
        .sum()
}

pub fn run(args: Args) -> Result<ExitCode> {
    let t0 = std::time::Instant::now();
    let device = Device::Cpu;
    let sets = sets(&args)?;
    let pieces = mix_pieces(&sets);
    let (mix, segments) = build_mix(&pieces)?;
    if let Some(p) = &args.mix_out {
        write_wav(&from_root(p), &mix, MIX_RATE)?;
        eprintln!("DJ mix written to {}", p.display());
    }
    let cache_dir = args
        .feature_cache
        .as_deref()
        .map(from_root)
        .unwrap_or_else(|| crate::paths::target_dir().join("feature-cache"));
    let mut bars = Bars::new();
    let defaults = TransferConfig::default();
    let cfg = TransferConfig {
        seed: args.seed,
        epochs: args.epochs.map_or(defaults.epochs, |e| e as usize),
        ..defaults
    };

    // EfficientAT: the outputs once, then every decision on them.
    let tensors =
        crate::cmd_train::efficientat_tensors(&crate::cmd_train::committed_efficientat(), &device)?;
    let net = Mn::new(
        &MnConfig::mn04_as(),
        VarBuilder::from_tensors(tensors.clone(), DType::F32, &device),
    )?;
    let features = EfficientAtFeatures { net: &net };
    let zs_card = ModelCard::efficientat(Decision::zero_shot_gtzan());
    let cache = FeatureCache::new(&cache_dir, &tensors)?;
    let eat = outputs(
        &features, &zs_card, &sets, &mix, &cfg, &cache, &device, &mut bars,
    )?;
    let eat_ms = ms_per_window(&features, &zs_card, &device)?;
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
        let card = ModelCard::efficientat(decision);
        eprintln!("fitting {name}");
        let fitted = train_head(
            &card, &tensors, &eat.fit, &eat.valid, &cfg, &device, &mut bars,
        )?;
        let varmap = fitted.varmap;
        let s = score_all(&card, &varmap, &eat, &device)?;
        let mut r = scored_row(
            name,
            fitted_params(&varmap),
            &s,
            &eat,
            &segments,
            window_s,
            eat_ms,
        );
        r.epochs =
            (!fitted.history.is_empty()).then_some((fitted.best_epoch, fitted.history.len()));
        rows.push(r);
        scored.push((name, s));
    }

    if let Some(path) = &args.musicnn_model {
        let path = from_root(path);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let (card, varmap) =
            model::weights::load_varmap(&bytes, &path.display().to_string(), &device)?;
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
            Backbone::new(VarBuilder::from_varmap(&varmap, DType::F32, &device).pp("backbone"))?;
        let input: HeadInput = mcfg.head.input;
        let mfeat = MusicnnFeatures {
            backbone: &backbone,
            input,
        };
        let mcache = FeatureCache::new(&cache_dir, &vars)?;
        // Nothing is fitted here: the musicnn model comes trained; only scored sets are needed.
        let empty = Sets {
            fit: Vec::new(),
            valid: sets.valid.clone(),
            heldout: sets.heldout.clone(),
            cc: sets.cc.clone(),
        };
        let mout = outputs(
            &mfeat, &card, &empty, &mix, &cfg, &mcache, &device, &mut bars,
        )?;
        let m_ms = ms_per_window(&mfeat, &card, &device)?;
        let ms = score_all(&card, &varmap, &mout, &device)?;
        let name = format!("musicnn model {}", path.display());
        rows.push(scored_row(
            &name,
            head_params(&varmap),
            &ms,
            &mout,
            &segments,
            window_s,
            m_ms,
        ));
        for (ename, es) in scored
            .iter()
            .filter(|(n, _)| n.starts_with("(a)") || n.starts_with("(b)"))
        {
            let (clips, mix) = ensemble(es, &eat, &ms, &mout);
            let label = format!("(d) {} and the musicnn model, mean", &ename[..3]);
            let fitted = rows
                .iter()
                .find(|r| r.name == *ename)
                .map_or(0, |r| r.fitted)
                + head_params(&varmap);
            rows.push(row(
                &label,
                fitted,
                clips,
                None,
                &mix,
                &eat,
                &segments,
                window_s,
                eat_ms + m_ms,
            ));
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows_json(&rows, &segments))?
        );
    } else {
        print_table(&rows, &segments);
    }
    eprintln!("{:.0} s", t0.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// The trained parameters of a musicnn model's head.
fn head_params(varmap: &VarMap) -> usize {
    let data = varmap.data().lock().expect("varmap poisoned");
    data.iter()
        .filter(|(k, _)| k.starts_with("head.linear"))
        .map(|(_, v)| v.elem_count())
        .sum()
}

fn pct(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

fn mix_cell(m: &MixScore) -> String {
    format!(
        "{}, {}/{}, {}",
        pct(m.accuracy()),
        m.found(),
        m.changes,
        m.median_delay_s()
            .map_or("–".into(), |d| format!("{d:.1} s"))
    )
}

fn print_table(rows: &[Row], segments: &[Segment]) {
    println!(
        "| decision | fitted parameters | gtzan-mini valid, clip (window) | Emotify held-out half, clip (classical/pop/rock of 35) | Brahms (classical) | Tchaikovsky (classical) | Vibe Ace (jazz) | Let's Go Fishin' (country) | DJ mix, no smoothing: windows right, changes found, median delay | DJ mix, smoothing 4 s | cost per 3-s window, one thread |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let cc: Vec<String> =
            r.cc.iter()
                .map(|(_, g, p, ok)| {
                    let cell = format!("{g} {:.0} %", p * 100.0);
                    if *ok {
                        format!("**{cell}**")
                    } else {
                        cell
                    }
                })
                .collect();
        println!(
            "| {} | {}{} | {:.3}{} | {:.3} ({}) | {} | {} | {} | {:.1} ms |",
            r.name,
            r.fitted,
            r.epochs
                .map_or(String::new(), |(b, n)| format!(" (epoch {b} of {n})")),
            r.valid_clip,
            r.valid_window
                .map_or(String::new(), |w| format!(" ({w:.3})")),
            r.heldout_clip,
            r.heldout_per_genre
                .iter()
                .map(|(_, right, _)| right.to_string())
                .collect::<Vec<_>>()
                .join("/"),
            cc.join(" | "),
            mix_cell(&r.mix_raw),
            mix_cell(&r.mix_smoothed),
            r.ms_per_window
        );
    }
    println!(
        "\nDJ mix: {}",
        segments
            .iter()
            .map(|s| format!(
                "{} ({}, {:.0}–{:.0} s)",
                s.name, GENRES[s.label], s.start_s, s.end_s
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn rows_json(rows: &[Row], segments: &[Segment]) -> serde_json::Value {
    let mix = |m: &MixScore| {
        json!({ "windows": m.windows, "right": m.right, "accuracy": m.accuracy(), "changes": m.changes,
                "found": m.found(), "delays_s": m.delays_s, "median_delay_s": m.median_delay_s() })
    };
    json!({
        "rows": rows.iter().map(|r| json!({
            "decision": r.name, "fitted_parameters": r.fitted,
            "best_epoch": r.epochs.map(|e| e.0), "epochs_run": r.epochs.map(|e| e.1),
            "gtzan_valid_clip": r.valid_clip, "gtzan_valid_window": r.valid_window,
            "emotify_heldout_clip": r.heldout_clip,
            "emotify_heldout_per_genre": r.heldout_per_genre.iter().map(|(g, k, n)| json!({"genre": g, "right": k, "of": n})).collect::<Vec<_>>(),
            "cc": r.cc.iter().map(|(f, g, p, ok)| json!({"piece": f, "genre": g, "probability": p, "right": ok})).collect::<Vec<_>>(),
            "mix_no_smoothing": mix(&r.mix_raw), "mix_smoothed": mix(&r.mix_smoothed),
            "ms_per_window": r.ms_per_window,
        })).collect::<Vec<_>>(),
        "mix": segments.iter().map(|s| json!({"piece": s.name, "genre": GENRES[s.label], "start_s": s.start_s, "end_s": s.end_s})).collect::<Vec<_>>(),
    })
}
