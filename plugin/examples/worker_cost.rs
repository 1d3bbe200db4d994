//! What the plugin's analysis worker costs per second of host audio at the default hop:
//! the plugin's own [`Engine`] (audio-thread tap, ring, worker on its one-thread pool, log
//! keeper) with the embedded default model, fed 100-ms stereo blocks of 48 kHz audio as
//! fast as the worker takes them, timed as CPU time of the whole process (all threads; the
//! audio thread's share is in it too, a thousandth of the rest). It runs as its own process
//! so that the allocator has glibc's default settings, as inside a plugin host
//! (`cargo xtask` tunes them for training).
//!
//! `cargo run --release -p genre-tagger --example worker_cost -- FILE [SAMPLES [MODEL]]`
//! prints one JSON line: CPU seconds per second of audio, one value per sample; MODEL is a
//! model file to run instead of the embedded default. `cargo xtask bench` runs it.

use genre_tagger::controls::Controls;
use genre_tagger::engine::{Engine, Monitor};
use genre_tagger::model_load::{embedded_model, ModelSource};
use genre_tagger::params::TaggerParams;
use std::sync::Arc;
use std::time::Duration;

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

/// Feeds `audio` to the engine in stereo blocks, keeping at most two seconds queued (the
/// ring holds `RING_SECONDS`), and returns once the worker has analysed all of it.
fn feed(engine: &mut Engine, monitor: &Monitor, audio: &[f32], fed: &mut u64) {
    let consumed = || monitor.analysis.with(|a| a.consumed);
    let ahead = 2 * RATE as u64;
    let mut block = [
        vec![0.0f32; RATE as usize / 10],
        vec![0.0f32; RATE as usize / 10],
    ];
    for chunk in audio.chunks(RATE as usize / 10) {
        while *fed > consumed() + ahead {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut channels = block.each_mut().map(|c| &mut c[..chunk.len()]);
        for c in channels.iter_mut() {
            c.copy_from_slice(chunk);
        }
        engine.process(&mut channels, |_, _| true);
        *fed += chunk.len() as u64;
    }
    while consumed() < *fed {
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: worker_cost FILE [SAMPLES [MODEL]]"))?;
    let samples: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(11);
    let audio = model::audio::decode_file_head(&path, 30.0)?;
    let host = model::audio::resample(&audio.samples, audio.sample_rate, RATE)?;
    let model = match args.next() {
        Some(file) => Arc::new(model::weights::load_file(
            std::path::Path::new(&file),
            &candle_core::Device::Cpu,
        )?),
        None => embedded_model().map_err(anyhow::Error::msg)?,
    };
    let warm = 3 * RATE as usize; // the first window fills before timing starts
    anyhow::ensure!(
        host.len() > warm + RATE as usize,
        "{path}: need more than 4 s of audio"
    );
    let timed_s = (host.len() - warm) as f64 / RATE as f64;
    let mut cpu_per_audio_s = Vec::new();
    for _ in 0..samples {
        let controls = Arc::new(Controls::default());
        let params = Arc::new(TaggerParams::new(controls.clone()));
        let mut engine = Engine::new(params, controls, ModelSource::Given(model.clone()));
        engine.activate(RATE as f32);
        let monitor = engine.monitor().clone();
        let mut fed = 0;
        feed(&mut engine, &monitor, &host[..warm], &mut fed);
        let windows_before = monitor.analysis.with(|a| a.windows);
        let c0 = cpu_s();
        feed(&mut engine, &monitor, &host[warm..], &mut fed);
        cpu_per_audio_s.push((cpu_s() - c0) / timed_s);
        let windows = monitor.analysis.with(|a| a.windows) - windows_before;
        anyhow::ensure!(
            windows as f64 >= timed_s - 1.0,
            "expected a window per second, got {windows}"
        );
        let dropped = monitor.meters.dropped();
        anyhow::ensure!(dropped == 0, "the ring dropped {dropped} samples");
        if let Some(e) = monitor.analysis.with(|a| a.error().map(str::to_string)) {
            anyhow::bail!("the worker reported: {e}");
        }
        engine.deactivate();
    }
    let doc = serde_json::json!({
        "rate": RATE,
        "audio_s_per_sample": timed_s,
        "cpu_s_per_audio_s": cpu_per_audio_s,
    });
    println!("{doc}");
    Ok(())
}
