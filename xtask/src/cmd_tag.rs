//! `cargo xtask tag FILE|FOLDER…`: what the plugin would show, for files and whole folders.

use crate::progress::Bars;
use anyhow::Result;
use model::library::{
    audio_files_in, tag_library, Batching, LibraryOptions, TaggedFile, AUDIO_EXTENSIONS,
};
use model::rhythm::{Key, Tempo};
use model::tag_report::FileReport;
use model::tag_report::{self, top_styles, TOP_STYLES};
use model::tagger::TaggerOptions;
use model::train::Observer;
use model::weights::ModelCard;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Audio files (wav, flac, mp3, ogg, au), or folders: every audio file under them,
    /// sorted by path.
    #[arg(required = true, value_name = "FILE_OR_FOLDER")]
    paths: Vec<PathBuf>,
    /// Model file; the embedded default when omitted.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Seconds between analysis windows.
    #[arg(long, default_value_t = 1.0, value_parser = hop_seconds)]
    hop: f32,
    /// One JSON document on stdout instead of text.
    #[arg(long)]
    json: bool,
    /// Threads that decode files and make their windows [default: one per core].
    #[arg(long)]
    threads: Option<NonZeroUsize>,
    /// Windows per forward pass of the network [default: 32 on the CPU, 256 on a GPU].
    #[arg(long)]
    batch: Option<NonZeroUsize>,
    /// `cross-file`: windows of consecutive files share a batch, run beside the decoding
    /// threads (the faster path, on a GPU and on the CPU); `per-file`: each thread batches
    /// its own file, exactly as tagging the file alone; `auto`: cross-file, except on the
    /// CPU with one thread, which then keeps to one core.
    #[arg(long, value_enum, default_value_t = BatchingArg::Auto)]
    batching: BatchingArg,
    #[command(flatten)]
    device: crate::DeviceArgs,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum BatchingArg {
    Auto,
    PerFile,
    CrossFile,
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
    let m = model::weights::load_or_default(args.model.as_deref(), &device)?;
    let mut opts = LibraryOptions::for_device(&device);
    opts.tagger.hop_s = args.hop;
    if let Some(t) = args.threads {
        opts.decode_threads = t.get();
    }
    if let Some(b) = args.batch {
        opts.batch_windows = b.get();
        opts.tagger.max_batch = b.get();
    }
    opts.max_pending_windows = opts.default_pending_windows();
    opts.batching = match args.batching {
        BatchingArg::Auto => Batching::Auto,
        BatchingArg::PerFile => Batching::PerFile,
        BatchingArg::CrossFile => Batching::CrossFile,
    };

    // A folder stands for its audio files; one that has none (or cannot be read) is an
    // error of its own, like a file that cannot be tagged.
    let mut failed = 0;
    let mut files = Vec::new();
    for path in &args.paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        match audio_files_in(path) {
            Ok(found) if found.is_empty() => {
                failed += 1;
                eprintln!(
                    "error: {}: no audio files ({}) in this folder",
                    path.display(),
                    AUDIO_EXTENSIONS.join(", ")
                );
            }
            Ok(found) => files.extend(found),
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }

    let mut bars = Bars::new();
    if files.len() > 1 {
        bars.stage("tagging", files.len());
    }
    let mut entries = Vec::new();
    let stats = tag_library(&m, &files, &opts, |file: TaggedFile<'_>| {
        let path = file.path;
        bars.suspend(|| {
            for w in &file.warnings {
                eprintln!("warning: {}: {w}", path.display());
            }
            match &file.report {
                Ok(report) => {
                    if report.tags.non_finite > 0 {
                        eprintln!(
                            "warning: {}: {} NaN/inf samples were treated as silence",
                            path.display(),
                            report.tags.non_finite
                        );
                    }
                    if args.json {
                        let name = path.display().to_string();
                        entries.push(tag_report::file_entry(&name, report, &m.card));
                    } else {
                        print_text(path, report, &m.card);
                    }
                }
                Err(e) => eprintln!("error: {e}"),
            }
        });
        bars.tick(&path.file_name().unwrap_or_default().to_string_lossy());
    })?;
    bars.stage_done();
    failed += stats.failed;
    if files.len() > 1 {
        eprintln!(
            "tagged {} files ({} failed), {:.0} s of audio in {:.1} s: {:.0}x real time",
            stats.files,
            stats.failed,
            stats.audio_seconds,
            stats.wall_seconds,
            stats.times_real_time()
        );
    }
    if args.json {
        let doc = tag_report::document(&m.source, entries);
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
