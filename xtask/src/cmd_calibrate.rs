//! `cargo xtask calibrate`: a temperature for a model's genre logits, fitted on held-out
//! music, so that the confidence it shows is about how often its top genre is right; with
//! the reliability of that confidence before and after (a table and a picture).
//!
//! The rule, written before the first run: the temperature is fitted on the protocol's
//! fit part (gtzan-mini clips 0–6 and Emotify's train half — music the zero-shot default
//! was never fitted on) by the mean negative log-likelihood of its windows' genres, and
//! scored on the scored parts (gtzan-mini clips 7–9, Emotify's held-out half) by the
//! expected calibration error (15 equal-width confidence bins). `--out` gets the model
//! with the temperature only when it lowers that error on both scored parts; otherwise
//! the command says why and writes nothing. The top genre never changes, so accuracy
//! cannot.

mod plot;

use crate::paths::from_root;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use model::tagger::{tag_audio, TaggerOptions};
use model::train::{discover, discover_labelled, split, Clip, SplitKind};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// The model to calibrate [default: the embedded default].
    #[arg(long)]
    model: Option<PathBuf>,
    /// gtzan-mini (or a GTZAN copy split by index).
    #[arg(long, default_value = "../shared/data/gtzan-mini")]
    gtzan: PathBuf,
    /// The Emotify halves (`cargo xtask emotify-halves`).
    #[arg(long, default_value = "target/emotify-halves")]
    emotify_halves: PathBuf,
    /// Write the calibrated model here (only if the rule adopts it).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the table here (Markdown) and the reliability picture beside it (.png).
    #[arg(long)]
    table: Option<PathBuf>,
}

/// What the written page says above the table.
const PAGE_HEAD: &str = "# Does the confidence mean something?

Made by `cargo run -p xtask -- calibrate --table docs/calibration.md` (the embedded
default; `--model F` for another, `--out F` to write it calibrated). Windows every 1.5 s;
the confidence is the top genre's probability.

The rule, written before the first run: a temperature is fitted on the fit part (music the
zero-shot default was never fitted on) by the windows' negative log-likelihood and adopted
only if it lowers the expected calibration error on both scored parts.
";

/// Seconds between windows, as `eval` scores them.
const HOP_S: f32 = 1.5;
/// Confidence bins of the calibration error.
pub const BINS: usize = 15;

/// One window: the log-probabilities at temperature 1 and the clip's genre.
struct Window {
    log_p: Vec<f32>,
    label: usize,
}

/// The distribution at temperature `t` from log-probabilities at 1.
fn tempered(log_p: &[f32], t: f64) -> Vec<f64> {
    let z: Vec<f64> = log_p.iter().map(|&l| l as f64 / t).collect();
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

/// Mean negative log-likelihood of the windows' genres at temperature `t`.
fn nll(windows: &[Window], t: f64) -> f64 {
    windows
        .iter()
        .map(|w| -tempered(&w.log_p, t)[w.label].max(1e-300).ln())
        .sum::<f64>()
        / windows.len() as f64
}

/// The temperature of least [`nll`], by golden-section search on its logarithm over
/// [1/20, 20] (the likelihood is unimodal in it).
fn fit_temperature(windows: &[Window]) -> f64 {
    let f = |u: f64| nll(windows, u.exp());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = ((0.05f64).ln(), 20f64.ln());
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    for _ in 0..80 {
        if f(c) < f(d) {
            b = d;
        } else {
            a = c;
        }
        c = b - g * (b - a);
        d = a + g * (b - a);
    }
    ((a + b) / 2.0).exp()
}

/// Per confidence bin: (windows, mean confidence, share right), and the expected
/// calibration error.
pub struct Reliability {
    pub bins: Vec<(usize, f64, f64)>,
    pub ece: f64,
    pub accuracy: f64,
    pub mean_confidence: f64,
}

fn reliability(windows: &[Window], t: f64) -> Reliability {
    let mut bins = vec![(0usize, 0f64, 0f64); BINS];
    let (mut right_all, mut conf_all) = (0usize, 0f64);
    for w in windows {
        let p = tempered(&w.log_p, t);
        let top = (0..p.len())
            .max_by(|&a, &b| p[a].total_cmp(&p[b]))
            .unwrap_or(0);
        let conf = p[top];
        let b = ((conf * BINS as f64) as usize).min(BINS - 1);
        let right = usize::from(top == w.label);
        bins[b].0 += 1;
        bins[b].1 += conf;
        bins[b].2 += right as f64;
        right_all += right;
        conf_all += conf;
    }
    let n = windows.len().max(1) as f64;
    let ece = bins
        .iter()
        .filter(|b| b.0 > 0)
        .map(|&(k, c, r)| k as f64 / n * (r / k as f64 - c / k as f64).abs())
        .sum();
    Reliability {
        bins: bins
            .into_iter()
            .map(|(k, c, r)| (k, c / k.max(1) as f64, r / k.max(1) as f64))
            .collect(),
        ece,
        accuracy: right_all as f64 / n,
        mean_confidence: conf_all / n,
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let device = candle_core::Device::Cpu;
    let (source, bytes) = match &args.model {
        Some(p) => {
            let p = from_root(p);
            (
                p.display().to_string(),
                std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
            )
        }
        None => (
            "embedded default model".to_string(),
            model::DEFAULT_MODEL.to_vec(),
        ),
    };
    let mut loaded = model::weights::load_bytes(&bytes, &source, &device)?;
    let was = loaded.card.temperature;
    loaded.card.temperature = 1.0;
    let m = Arc::new(loaded);

    let (_, s) = split(
        &discover(&from_root(&args.gtzan))?,
        Some(SplitKind::ByIndex),
    )?;
    let half = |h: &str| -> Result<Vec<Clip>> {
        let dir = from_root(&args.emotify_halves).join(h);
        discover_labelled(&dir).with_context(|| {
            format!(
                "{} (make them with cargo xtask emotify-halves)",
                dir.display()
            )
        })
    };
    let mut fit_clips = s.train.clone();
    fit_clips.extend(half("train")?);
    let parts = [
        ("fit: gtzan-mini 0–6 + Emotify train half", fit_clips),
        ("gtzan-mini 7–9", s.valid.clone()),
        ("Emotify held-out half", half("heldout")?),
    ];
    let total: usize = parts.iter().map(|p| p.1.len()).sum();
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix("calibrate");
    let opts = TaggerOptions {
        hop_s: HOP_S,
        ..Default::default()
    };
    let mut windows: Vec<Vec<Window>> = Vec::new();
    for (_, clips) in &parts {
        let mut ws = Vec::new();
        for clip in clips {
            bar.set_message(clip.path.display().to_string());
            let audio = model::audio::decode_file(&clip.path)?;
            let tags = tag_audio(m.clone(), &audio, opts)?;
            for w in tags.windows.iter().filter(|w| !w.silent) {
                ws.push(Window {
                    log_p: w.probs.iter().map(|p| p.max(1e-12).ln()).collect(),
                    label: clip.genre,
                });
            }
            bar.inc(1);
        }
        windows.push(ws);
    }
    bar.finish();
    if windows.iter().any(Vec::is_empty) {
        bail!("a part of the protocol has no window to calibrate on");
    }

    let t = fit_temperature(&windows[0]);
    let mut md = String::new();
    writeln!(
        md,
        "Temperature fitted on the fit part ({} windows): **{t:.3}** (the model had {was}).\n",
        windows[0].len()
    )?;
    writeln!(
        md,
        "| part | windows | accuracy | mean confidence, T = 1 → T = {t:.2} | calibration error (ECE, {BINS} bins), T = 1 → T = {t:.2} | NLL, T = 1 → T = {t:.2} |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    let mut better_everywhere = true;
    let mut curves = Vec::new();
    for ((name, _), ws) in parts.iter().zip(&windows) {
        let (r1, rt) = (reliability(ws, 1.0), reliability(ws, t));
        writeln!(
            md,
            "| {name} | {} | {:.1} % | {:.1} % → {:.1} % | {:.3} → {:.3} | {:.3} → {:.3} |",
            ws.len(),
            100.0 * r1.accuracy,
            100.0 * r1.mean_confidence,
            100.0 * rt.mean_confidence,
            r1.ece,
            rt.ece,
            nll(ws, 1.0),
            nll(ws, t)
        )?;
        if !name.starts_with("fit") {
            better_everywhere &= rt.ece < r1.ece;
            curves.push((name.to_string(), r1, rt));
        }
    }
    let verdict = if better_everywhere {
        format!("The temperature lowers the calibration error on both scored parts: adopted (T = {t:.3}).")
    } else {
        "The temperature does not lower the calibration error on both scored parts: not adopted."
            .to_string()
    };
    writeln!(md, "\n{verdict}")?;
    print!("{md}");
    if let Some(table) = &args.table {
        let table = from_root(table);
        let page = format!(
            "{PAGE_HEAD}\n{md}\n![reliability]({})\n",
            table
                .with_extension("png")
                .file_name()
                .map_or(String::new(), |f| f.to_string_lossy().into_owned())
        );
        std::fs::write(&table, page).with_context(|| format!("writing {}", table.display()))?;
        let png = table.with_extension("png");
        plot::plot(&png, &curves, t)?;
        eprintln!("wrote {} and {}", table.display(), png.display());
    }
    if let Some(out) = &args.out {
        if !better_everywhere {
            eprintln!("not writing {}: {verdict}", out.display());
            return Ok(ExitCode::FAILURE);
        }
        let (mut card, varmap) = model::weights::load_varmap(&bytes, &source, &device)?;
        card.temperature = t as f32;
        let written = model::weights::to_bytes(&card, &varmap).map_err(anyhow::Error::msg)?;
        let out = from_root(out);
        std::fs::write(&out, written).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(p: &[f32], label: usize) -> Window {
        Window {
            log_p: p.iter().map(|v| v.ln()).collect(),
            label,
        }
    }

    #[test]
    fn an_overconfident_model_gets_a_temperature_above_one_that_lowers_its_error() {
        // Always 90 % sure, right 60 % of the time.
        let ws: Vec<Window> = (0..100)
            .map(|i| window(&[0.9, 0.05, 0.05], usize::from(i % 10 >= 6)))
            .collect();
        let t = fit_temperature(&ws);
        assert!(t > 1.0, "{t}");
        let (before, after) = (reliability(&ws, 1.0), reliability(&ws, t));
        assert!((before.ece - 0.3).abs() < 1e-9, "{}", before.ece);
        assert!(after.ece < 0.05, "{}", after.ece);
        assert_eq!(
            before.accuracy, after.accuracy,
            "the top genre never changes"
        );
        assert!(nll(&ws, t) < nll(&ws, 1.0));
    }
}
