//! `cargo xtask tag FILE…`: what the plugin would show, for files.

use anyhow::Result;
use model::tagger::{tag_audio, FileTags, TaggerOptions};
use serde_json::{json, Map, Value};
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
    #[arg(long, default_value_t = 1.0, value_parser = positive_seconds)]
    hop: f32,
    /// One JSON document on stdout instead of text.
    #[arg(long)]
    json: bool,
}

pub fn positive_seconds(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if v.is_finite() && v > 0.0 && v <= 60.0 {
        Ok(v)
    } else {
        Err(format!("{v} s is outside (0, 60]"))
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let device = model::device::best();
    let m = Arc::new(model::weights::load_or_default(
        args.model.as_deref(),
        &device,
    )?);
    let labels = m.card.labels.clone();
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
            tag_audio(m.clone(), &audio, opts)
        });
        match result {
            Ok(tags) => {
                if tags.non_finite > 0 {
                    eprintln!(
                        "warning: {}: {} NaN/inf samples were treated as silence",
                        path.display(),
                        tags.non_finite
                    );
                }
                if args.json {
                    files.push(file_json(path, &tags, &labels));
                } else {
                    print_text(path, &tags, &labels);
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if args.json {
        let doc = json!({ "model": m.source, "files": files });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn dist(p: &[f32], labels: &[String]) -> Value {
    let mut m = Map::new();
    for (l, v) in labels.iter().zip(p) {
        m.insert(l.clone(), json!((*v as f64 * 1e4).round() / 1e4));
    }
    Value::Object(m)
}

fn file_json(path: &std::path::Path, t: &FileTags, labels: &[String]) -> Value {
    let timeline: Vec<Value> = t
        .windows
        .iter()
        .map(|w| {
            let mut v = json!({ "start_s": (w.start_s * 1000.0).round() / 1000.0, "distribution": dist(&w.probs, labels) });
            if w.silent {
                v["silent"] = json!(true);
            }
            v
        })
        .collect();
    json!({
        "path": path.display().to_string(),
        "genre": labels[t.top],
        "distribution": dist(&t.distribution, labels),
        "timeline": timeline,
    })
}

fn print_text(path: &std::path::Path, t: &FileTags, labels: &[String]) {
    println!(
        "{}: {} ({:.0}%)",
        path.display(),
        labels[t.top],
        t.distribution[t.top] * 100.0
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
    println!("  timeline (window start: top genres):");
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
        println!("  {:>7.1}s  {}", w.start_s, top.join(" | "));
    }
}
