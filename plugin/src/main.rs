//! Standalone live monitor. `genre-tagger --help` lists the audio backends and devices
//! (JACK, ALSA, `--backend dummy` for tests) after this binary's own options:
//!
//! - `--headless`: no editor; top genre changes are printed to stdout (also without a display).
//! - `--input FILE` (repeatable) `[--loop]`: play files through the analysis in real time,
//!   in place of the sound card's input (and to its output, where the backend has one).
//!   Headless, the program exits when the last file has been analysed.
//! - `--log FILE`: append one CSV line per hop, written as it comes.
//! - `--taught FILE`: keep what is taught in FILE (read at start, rewritten after changes).
//!
//! Exits non-zero when an option is wrong or the wrapper fails (backend or editor could not
//! start).

use genre_tagger::file_input::Playlist;
use genre_tagger::log::csv::CsvAppender;
use genre_tagger::model_load::embedded_model;
use genre_tagger::standalone::{self, StandaloneConfig};
use genre_tagger::worker::log_header;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const USAGE: &str = "\
genre-tagger: live music genre monitor (standalone)

Own options (the audio options follow):
      --headless       no editor; print top genre changes (also without a display)
      --input FILE     play FILE instead of the sound card's input (repeat for a playlist)
      --loop           start the playlist again after its last file
      --log FILE       append one CSV line per analysed hop to FILE (format: README, \"Genre log\")
      --taught FILE    keep what is taught in FILE: read at start, rewritten after every change
";

#[derive(Default)]
struct Own {
    headless: bool,
    inputs: Vec<PathBuf>,
    looped: bool,
    log: Option<PathBuf>,
    taught: Option<PathBuf>,
}

/// Takes this binary's options out of `args`, leaving nice-plug's.
fn parse(args: &mut Vec<String>) -> Result<Own, String> {
    let mut own = Own::default();
    let mut rest = vec![args[0].clone()];
    let mut it = args.drain(1..);
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{name} needs {what}"))
        };
        match name.as_str() {
            "--headless" => own.headless = true,
            "--loop" => own.looped = true,
            "--input" => own.inputs.push(PathBuf::from(value("a file")?)),
            "--log" => own.log = Some(PathBuf::from(value("a file")?)),
            "--taught" => own.taught = Some(PathBuf::from(value("a file")?)),
            _ => rest.push(a),
        }
    }
    drop(it);
    *args = rest;
    for f in &own.inputs {
        if let Err(e) = std::fs::File::open(f) {
            return Err(format!("--input {}: {e}", f.display()));
        }
        if f.is_dir() {
            return Err(format!("--input {}: is a folder, not a file", f.display()));
        }
    }
    if own.looped && own.inputs.is_empty() {
        return Err("--loop needs --input".into());
    }
    Ok(own)
}

fn has_display() -> bool {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Prints "<session time>  <genre> <confidence>" when the top genre changes, and errors
/// once; with file input and no editor, ends the process once the input is analysed.
fn console(exit_at_end: bool) {
    std::thread::Builder::new()
        .name("genre-tagger console".into())
        .spawn(move || {
            let cfg = standalone::config().expect("configured before the wrapper starts");
            let (mut last_top, mut last_err) = (None, String::new());
            let mut ended_at: Option<Instant> = None;
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let Some(monitor) = cfg.monitor.get() else {
                    continue;
                };
                let a = monitor.analysis.read();
                if let Some(e) = a.error().filter(|e| *e != last_err) {
                    eprintln!("genre-tagger: {e}");
                    last_err = e.to_string();
                }
                if a.top.is_some() && a.top != last_top {
                    last_top = a.top;
                    let name = a.top.and_then(|i| a.labels.get(i)).map_or("?", |s| s);
                    let tempo = a
                        .tempo
                        .map_or("    – BPM".into(), |t| format!("{:5.1} BPM", t.bpm));
                    let key = a.key.map_or("–".into(), |k| {
                        format!("{} ({})", k.camelot_code(), k.name())
                    });
                    println!(
                        "{}  {name:<10} {:3.0} %  {tempo}  {key}",
                        genre_tagger::log::clock(a.session_s),
                        100.0 * a.confidence
                    );
                }
                if exit_at_end && cfg.player.ended() {
                    // Done when the worker has analysed everything queued and the log
                    // keeper has written every hop (or after a grace period).
                    let started = *ended_at.get_or_insert_with(Instant::now);
                    let hops = monitor.log.read().log.as_ref().map_or(0, |l| l.hops());
                    let drained = a.consumed >= monitor.meters.queued() && hops >= a.windows;
                    if drained || started.elapsed() > Duration::from_secs(10) {
                        eprintln!(
                            "genre-tagger: end of input ({} windows analysed)",
                            a.windows
                        );
                        std::process::exit(0);
                    }
                }
            }
        })
        .expect("spawning the console thread");
}

/// A `--taught` file must be a saved teaching session if it exists (its taught model's
/// labels are returned), and creatable if not.
fn check_taught(path: &std::path::Path) -> Result<Option<Vec<String>>, String> {
    match std::fs::read(path) {
        Ok(bytes) => model::teach::TeachSession::from_bytes(&bytes)
            .map(|session| session.model_labels())
            .map_err(|e| format!("--taught {}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            match dir {
                Some(d) if !d.is_dir() => Err(format!(
                    "--taught {}: the folder {} does not exist",
                    path.display(),
                    d.display()
                )),
                _ => Ok(None),
            }
        }
        Err(e) => Err(format!("--taught {}: {e}", path.display())),
    }
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    let help = args.iter().any(|a| a == "--help" || a == "-h");
    if help {
        print!("{USAGE}\nAudio options (nice-plug):\n");
    }
    let own = match parse(&mut args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("genre-tagger: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let taught_labels = match own.taught.as_deref().map(check_taught) {
        None => None,
        Some(Ok(labels)) => labels,
        Some(Err(e)) => {
            eprintln!("genre-tagger: {e}");
            return ExitCode::from(2);
        }
    };
    let log_file = match &own.log {
        None => None,
        Some(path) => {
            let model = match embedded_model() {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("genre-tagger: {e}");
                    return ExitCode::FAILURE;
                }
            };
            // With a --taught session the worker runs its taught model from the start:
            // the file gets that model's columns.
            let mut header = log_header(&model);
            if let Some(labels) = taught_labels {
                header.labels = labels;
            }
            match CsvAppender::open(path, &header) {
                Ok(f) => Some(f),
                Err(e) => {
                    eprintln!("genre-tagger: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let headless = own.headless || !has_display();
    let playing = !own.inputs.is_empty();
    standalone::configure(StandaloneConfig {
        headless,
        playlist: playing.then_some(Playlist {
            files: own.inputs,
            looped: own.looped,
        }),
        log_file: Mutex::new(log_file),
        taught_file: own.taught,
        ..Default::default()
    });
    if headless && !help {
        eprintln!(
            "genre-tagger: no editor (headless); top genre changes are printed here. Stop with \
             Ctrl-C."
        );
        console(playing && !own.looped);
    }
    if nice_plug::prelude::nice_export_standalone_with_args::<genre_tagger::GenreTagger, _>(args) {
        ExitCode::SUCCESS
    } else {
        eprintln!("genre-tagger: the standalone failed (audio backend or editor could not start)");
        ExitCode::FAILURE
    }
}
