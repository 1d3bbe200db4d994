//! What the plugin's analysis worker costs per second of host audio at the default hop:
//! a [`Tagger`] with the embedded default fed 100-ms blocks of 48 kHz audio, as the worker
//! feeds it (resampling to the model's rate, mel frames, one window per second), timed as
//! CPU time of the whole
//! process (all threads). It runs as its own process so that the allocator has glibc's
//! default settings, as inside a plugin host (`cargo xtask` tunes them for training).
//!
//! `cargo run --release -p model --example worker_cost -- FILE [SAMPLES [MODEL]]` prints
//! one JSON line: CPU seconds per second of audio, one value per sample; MODEL is a model
//! file to use instead of the embedded default. `cargo xtask bench` runs it.

use model::tagger::{Tagger, TaggerOptions};
use std::sync::Arc;

const RATE: u32 = 48_000;

#[cfg(unix)]
fn cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}
#[cfg(not(unix))]
fn cpu_s() -> f64 {
    // No process CPU clock here: wall time, which equals it on an otherwise idle machine.
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: worker_cost FILE [SAMPLES [MODEL]]"))?;
    let samples: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(11);
    let model_path = args.next().map(std::path::PathBuf::from);
    let audio = model::audio::decode_file_head(&path, 30.0)?;
    let host = model::audio::resample(&audio.samples, audio.sample_rate, RATE)?;
    let m = Arc::new(model::weights::load_or_default(
        model_path.as_deref(),
        &candle_core::Device::Cpu,
    )?);
    let block = RATE as usize / 10;
    let warm = 3 * RATE as usize; // the first window fills before timing starts
    anyhow::ensure!(
        host.len() > warm + RATE as usize,
        "{path}: need more than 4 s of audio"
    );
    let timed_s = (host.len() - warm) as f64 / RATE as f64;
    let mut cpu_per_audio_s = Vec::new();
    for _ in 0..samples {
        let mut t = Tagger::new(m.clone(), RATE, TaggerOptions::default())?;
        for chunk in host[..warm].chunks(block) {
            t.push(chunk)?;
        }
        let c0 = cpu_s();
        let mut windows = 0;
        for chunk in host[warm..].chunks(block) {
            windows += t.push(chunk)?.len();
        }
        cpu_per_audio_s.push((cpu_s() - c0) / timed_s);
        anyhow::ensure!(
            windows as f64 >= timed_s - 1.0,
            "expected a window per second, got {windows}"
        );
    }
    println!(
        "{}",
        serde_json::json!({ "rate": RATE, "audio_s_per_sample": timed_s, "cpu_s_per_audio_s": cpu_per_audio_s })
    );
    Ok(())
}
