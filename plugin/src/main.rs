//! Standalone live monitor: `genre-tagger --help` lists the audio backends and devices
//! (JACK, ALSA, `--backend dummy` for tests). With a display it opens the editor; without
//! one (or with `--headless`) it prints the top genre to stdout whenever it changes.
//! Exits non-zero when the wrapper fails (backend or editor could not start).

use genre_tagger::{GenreTagger, FIRST_INSTANCE, HEADLESS};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn has_display() -> bool {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Prints "<seconds>  <genre> <confidence>" when the top genre changes, and errors once.
fn console_readout() {
    std::thread::Builder::new()
        .name("genre-tagger console".into())
        .spawn(|| {
            let (mut last_top, mut last_err_seq) = (None, 0u64);
            loop {
                std::thread::sleep(Duration::from_millis(250));
                let Some(sh) = FIRST_INSTANCE.get() else {
                    continue;
                };
                let seq = sh.status_seq.load(Ordering::Acquire);
                if seq != last_err_seq {
                    last_err_seq = seq;
                    if let Some(e) = sh.error() {
                        eprintln!("genre-tagger: {e}");
                    }
                }
                let top = sh.top();
                if top.is_some() && top != last_top {
                    last_top = top;
                    let labels = sh.status().labels;
                    let t = sh.consumed.load(Ordering::Relaxed) as f64
                        / sh.sample_rate.load(Ordering::Relaxed).max(1) as f64;
                    let name = top
                        .and_then(|i| labels.get(i).cloned())
                        .unwrap_or_else(|| "?".into());
                    println!(
                        "{t:8.1} s  {name:<10} {:3.0} %",
                        100.0 * sh.confidence.load(Ordering::Relaxed)
                    );
                }
            }
        })
        .expect("spawning the console thread");
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    let before = args.len();
    args.retain(|a| a != "--headless");
    let headless = args.len() != before || !has_display();
    if headless {
        HEADLESS.store(true, Ordering::Release);
        eprintln!("genre-tagger: no editor (headless); top genre changes are printed here. Stop with Ctrl-C.");
        console_readout();
    }
    if nice_plug::prelude::nice_export_standalone_with_args::<GenreTagger, _>(args) {
        ExitCode::SUCCESS
    } else {
        eprintln!("genre-tagger: the standalone failed (audio backend or editor could not start)");
        ExitCode::FAILURE
    }
}
