//! `cargo xtask tag FILE…`: what the plugin would show, for files.

use anyhow::Result;
use model::rhythm::{Key, Tempo};
use model::tag_report::{self, top_styles, TOP_STYLES};
use model::tag_report::{analyse_audio, FileReport};
use model::tagger::TaggerOptions;
use model::weights::ModelCard;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// Audio files (wav, flac, mp3, ogg, au).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Model file; the embedded default when omitted.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Seconds between analysis windows.
    #[arg(long, default_value_t = 1.0, value_parser = hop_seconds)]
    hop: f32,
    /// One JSON document on stdout instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: crate::DeviceArgs,
}

/// A hop between analysis windows, in the range the Tagger accepts.
pub fn hop_seconds(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if TaggerOptions::hop_in_range(v) {
        Ok(v)
    } else {
        Err(format!(
            "{v} s is outside [{}, {}]",
            TaggerOptions::MIN_HOP_S,
            TaggerOptions::MAX_HOP_S
        ))
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let device = args.device.select()?;
    let m = Arc::new(model::weights::load_or_default(
        args.model.as_deref(),
        &device,
    )?);
    let opts = TaggerOptions {
        hop_s: args.hop,
        ..Default::default()
    };
    let mut files = Vec::new();
    let mut failed = 0;
    for path in &args.files {
        let result = model::audio::decode_file(path).and_then(|audio| {
            for w in &audio.warnings {
                eprintln!("warning: {}: {w}", path.display());
            }
            analyse_audio(m.clone(), &audio, opts)
        });
        match result {
            Ok(report) => {
                let tags = &report.tags;
                if tags.non_finite > 0 {
                    eprintln!(
                        "warning: {}: {} NaN/inf samples were treated as silence",
                        path.display(),
                        tags.non_finite
                    );
                }
                if args.json {
                    files.push(tag_report::file_entry(
                        &path.display().to_string(),
                        &report,
                        &m.card,
                    ));
                } else {
                    print_text(path, &report, &m.card);
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if args.json {
        let doc = tag_report::document(&m.source, files);
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// "124.0 BPM · A minor (8A)"; "no tempo" / "no key" where the trackers found none.
fn rhythm_text(tempo: Option<Tempo>, key: Option<Key>) -> String {
    let tempo = tempo.map_or("no tempo".into(), |t| format!("{:.1} BPM", t.bpm));
    let key = key.map_or("no key".into(), |k| {
        format!("{} ({})", k.name(), k.camelot_code())
    });
    format!("{tempo} · {key}")
}

/// Styles in a text line: "Jazz 42% | Swing music 30% | …".
fn styles_line(probs: &[f32], names: &[String], k: usize) -> String {
    top_styles(probs, k)
        .iter()
        .map(|&(i, p)| format!("{} {:.0}%", names[i], p * 100.0))
        .collect::<Vec<_>>()
        .join(" | ")
}

fn print_text(path: &std::path::Path, report: &FileReport, card: &ModelCard) {
    let (t, rhythm) = (&report.tags, &report.rhythm);
    let labels = &card.labels;
    println!(
        "{}: {} ({:.0}%) · {}",
        path.display(),
        labels[t.top],
        t.distribution[t.top] * 100.0,
        rhythm_text(rhythm.overall_tempo(), rhythm.overall_key())
    );
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| t.distribution[b].total_cmp(&t.distribution[a]));
    for &i in &order {
        let p = t.distribution[i];
        println!(
            "  {:<10} {:>5.1}% {}",
            labels[i],
            p * 100.0,
            "#".repeat((p * 40.0).round() as usize)
        );
    }
    if !card.styles.is_empty() {
        println!(
            "  styles: {}",
            styles_line(&t.styles, &card.styles, TOP_STYLES)
        );
    }
    println!(
        "  timeline (window start: top genres{} · tempo and key at the window's end):",
        if card.styles.is_empty() {
            ""
        } else {
            " · top styles"
        }
    );
    for w in &t.windows {
        if w.silent {
            println!("  {:>7.1}s  (silence, {:.0} dBFS)", w.start_s, w.level_db);
            continue;
        }
        let mut o: Vec<usize> = (0..labels.len()).collect();
        o.sort_by(|&a, &b| w.probs[b].total_cmp(&w.probs[a]));
        let top: Vec<String> = o
            .iter()
            .take(3)
            .map(|&i| format!("{} {:.0}%", labels[i], w.probs[i] * 100.0))
            .collect();
        let reading = rhythm.at(w.start_s + card.window_seconds() as f64);
        let reading = rhythm_text(reading.and_then(|r| r.tempo), reading.and_then(|r| r.key));
        if card.styles.is_empty() {
            println!("  {:>7.1}s  {}  ·  {reading}", w.start_s, top.join(" | "));
        } else {
            // Three styles, like the three genres, keep a timeline line readable.
            println!(
                "  {:>7.1}s  {}  ·  {}  ·  {reading}",
                w.start_s,
                top.join(" | "),
                styles_line(&w.styles, &card.styles, 3)
            );
        }
    }
}
