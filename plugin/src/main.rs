//! Standalone live monitor: `genre-tagger --help` lists the audio backends and devices
//! (JACK, ALSA, `--backend dummy` for headless runs). Exits non-zero when the wrapper fails.

use genre_tagger::GenreTagger;
use std::process::ExitCode;

fn main() -> ExitCode {
    if nice_plug::nice_export_standalone::<GenreTagger>() {
        ExitCode::SUCCESS
    } else {
        eprintln!("genre-tagger: the standalone wrapper failed (see the messages above)");
        ExitCode::FAILURE
    }
}
