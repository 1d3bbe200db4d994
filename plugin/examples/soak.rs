//! Soak: hours of audio through the plugin's [`Engine`] with the embedded model, faster than
//! real time, checking what a long session must not do.
//!
//! ```sh
//! cargo run --release -p genre-tagger --example soak -- --minutes 60
//! ```
//!
//! The signal, per 2.5-minute cycle at 48 kHz then 44.1 kHz then 96 kHz (90 + 30 + 30 s;
//! a host changing the rate deactivates and reactivates the plugin): the committed CC music
//! fixtures in turn, with, every minute, 10 s of digital silence, a 200-ms burst of NaN and
//! ±inf, and a subnormal sample every 997 samples throughout. Stereo blocks of varying size,
//! paced to the worker (never more than a second of audio ahead of it), as fast as it goes.
//!
//! It fails (exit 1) unless: every output sample is its input's bits (subnormals as signed
//! zeros); nothing was dropped; resident memory grew by at most 5 MB after the first cycle
//! (warm-up: every rate and every code path seen once); the log holds every hop and stays
//! within its bound.

use genre_tagger::controls::Controls;
use genre_tagger::engine::{Engine, Monitor};
use genre_tagger::log::GenreLog;
use genre_tagger::model_load::ModelSource;
use genre_tagger::params::TaggerParams;
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CYCLE_S: f64 = 150.0;
/// (start within the cycle, rate).
const RATES: [(f64, u32); 3] = [(0.0, 48_000), (90.0, 44_100), (120.0, 96_000)];
/// Cycles before memory is measured.
const WARM_CYCLES: usize = 1;
const BLOCKS: [usize; 7] = [512, 64, 1024, 441, 4096, 128, 2048];
const MAX_GROWTH_MB: f64 = 5.0;

fn rate_at(t: f64) -> u32 {
    let c = t % CYCLE_S;
    RATES.iter().rev().find(|(s, _)| c >= *s).unwrap().1
}

/// Resident set size of this process, bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn mb(b: u64) -> f64 {
    b as f64 / 1e6
}

/// The fixtures, concatenated, at one rate (decoded once per rate).
struct Music {
    rate: u32,
    samples: Vec<f32>,
}

impl Music {
    fn at(rate: u32) -> Self {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/cc-music");
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .expect("fixtures/cc-music")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "ogg"))
            .collect();
        names.sort();
        let mut samples = Vec::new();
        for p in names {
            let a = model::audio::decode_file(&p).expect("decode fixture");
            samples
                .extend(model::audio::resample(&a.samples, a.sample_rate, rate).expect("resample"));
        }
        Self { rate, samples }
    }

    /// Sample `i` of the stream (seconds `t` into the session) with the soak's hostilities.
    fn sample(&self, i: u64, t: f64, ch: usize) -> f32 {
        let in_minute = t % 60.0;
        if (45.0..55.0).contains(&in_minute) {
            return 0.0;
        }
        if (55.0..55.2).contains(&in_minute) {
            return [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.1][(i % 4) as usize];
        }
        if i.is_multiple_of(997) {
            let s = f32::from_bits(1 + (i % 5000) as u32);
            return if ch == 0 { s } else { -s };
        }
        let s = self.samples[(i as usize) % self.samples.len()];
        if ch == 0 {
            s
        } else {
            -0.7 * s
        }
    }
}

fn expected(s: f32) -> u32 {
    if s.is_subnormal() {
        s.to_bits() & 0x8000_0000
    } else {
        s.to_bits()
    }
}

#[derive(Default)]
struct Figures {
    total_s: f64,
    wall_s: f64,
    windows: u64,
    midi: u64,
    flushed_checked: u64,
    rss_start: u64,
    /// RSS at the end of each cycle (same point of the rate schedule, so the same buffers
    /// are live): the warm-up figure is the `WARM_CYCLES`th.
    rss_cycles: Vec<u64>,
    rss_peak: u64,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let minutes: f64 = args
        .iter()
        .position(|a| a == "--minutes")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("--minutes takes a number"))
        .unwrap_or(60.0);
    let total_s = minutes * 60.0;

    let controls = Arc::new(Controls::default());
    let params = Arc::new(TaggerParams::new(controls.clone()));
    let mut engine = Engine::new(params, controls, ModelSource::Embedded);
    let m = engine.monitor().clone();

    let bar = ProgressBar::new(total_s as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "soak [{bar:30}] {pos}/{len} s of audio {elapsed_precise} {msg}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    let wall = Instant::now();
    let mut figures = Figures {
        total_s,
        rss_start: rss(),
        ..Default::default()
    };
    let mut failures: Vec<String> = Vec::new();
    // One copy of the music per rate, made during warm-up (so later cycles allocate nothing
    // that would blur the memory figure).
    let mut musics: Vec<Music> = Vec::new();
    let mut current = 0u32;
    // The meters count for the whole session, the worker's `consumed` per activation.
    let mut queued_base = 0u64;
    let mut bufs = vec![vec![0.0f32; 4096]; 2];
    let (mut t, mut i, mut k) = (0.0f64, 0u64, 0usize);

    while t < total_s {
        let rate = rate_at(t);
        if current != rate && rate_at(t) == RATES[0].1 && t > 0.0 {
            figures.rss_cycles.push(rss());
        }
        if current != rate {
            // A host changing the rate: deactivate, reactivate (the worker restarts).
            // The worker publishes its last figures when it is joined.
            engine.deactivate();
            figures.windows += m.analysis.read().windows;
            if !musics.iter().any(|mu| mu.rate == rate) {
                musics.push(Music::at(rate));
            }
            queued_base = m.meters.queued();
            engine.activate(rate as f32);
            current = rate;
            i = 0;
        }
        let mu = musics.iter().find(|mu| mu.rate == rate).unwrap();
        let n = BLOCKS[k % BLOCKS.len()];
        k += 1;
        for (ch, b) in bufs.iter_mut().enumerate() {
            for (j, s) in b[..n].iter_mut().enumerate() {
                *s = mu.sample(i + j as u64, t + j as f64 / rate as f64, ch);
            }
        }
        let input: [Vec<f32>; 2] = [bufs[0][..n].to_vec(), bufs[1][..n].to_vec()];
        let mut views: Vec<&mut [f32]> = bufs.iter_mut().map(|b| &mut b[..n]).collect();
        engine.process(&mut views, |_, _| {
            figures.midi += 1;
            true
        });
        for (inp, out) in input.iter().zip(&views) {
            for (j, (&a, &b)) in inp.iter().zip(out.iter()).enumerate() {
                if expected(a) != b.to_bits() {
                    failures.push(format!("sample {j} of a block at {t:.2} s: {a:?} -> {b:?}"));
                }
                figures.flushed_checked += a.is_subnormal() as u64;
            }
        }
        if failures.len() > 10 {
            break;
        }
        i += n as u64;
        t += n as f64 / rate as f64;
        // Pace to the worker: at most a second of audio ahead of it.
        while m.meters.queued() - queued_base > m.analysis.read().consumed + rate as u64 {
            std::thread::sleep(Duration::from_millis(1));
        }
        if k % 64 == 0 {
            bar.set_position(t as u64);
            let r = rss();
            figures.rss_peak = figures.rss_peak.max(r);
            bar.set_message(format!("RSS {:.1} MB", mb(r)));
        }
    }
    figures.rss_cycles.push(rss());
    // Let the worker finish what is queued, then stop it.
    let queued = m.meters.queued() - queued_base;
    let deadline = Instant::now() + Duration::from_secs(60);
    while m.analysis.read().consumed < queued && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    engine.deactivate();
    figures.windows += m.analysis.read().windows;
    bar.finish_and_clear();
    figures.wall_s = wall.elapsed().as_secs_f64();
    report(&m, &figures, &mut failures);
    drop(engine);
    if failures.is_empty() {
        println!("soak: OK");
        ExitCode::SUCCESS
    } else {
        for f in &failures {
            eprintln!("soak: FAILED: {f}");
        }
        ExitCode::FAILURE
    }
}

fn report(m: &Monitor, f: &Figures, failures: &mut Vec<String>) {
    let (total_s, wall_s, cycles) = (f.total_s, f.wall_s, &f.rss_cycles);
    let a = m.analysis.read();
    let state = m.log.read();
    let (hops, bytes, bound, rows) = match state.log.as_ref() {
        Some(l) => (
            l.hops(),
            l.bytes(),
            GenreLog::max_bytes(l.header(), l.limits()),
            l.len(),
        ),
        None => (0, 0, 0, 0),
    };
    println!(
        "soak: {:.0} min of audio in {:.1} s ({:.0}x real time), {} windows, {} MIDI events",
        total_s / 60.0,
        wall_s,
        total_s / wall_s,
        f.windows,
        f.midi
    );
    let warm = cycles[WARM_CYCLES.min(cycles.len()) - 1];
    let end = *cycles.last().unwrap();
    let series: Vec<String> = cycles.iter().map(|&c| format!("{:.1}", mb(c))).collect();
    println!(
        "soak: RSS {:.1} MB at start; at the end of each {:.1}-min cycle: {} MB (growth after \
         cycle {WARM_CYCLES}: {:+.1} MB); peak {:.1} MB",
        mb(f.rss_start),
        CYCLE_S / 60.0,
        series.join(", "),
        mb(end) - mb(warm),
        mb(f.rss_peak)
    );
    println!(
        "soak: log {hops} hops in {rows} rows, {:.2} MB (bound {:.1} MB); dropped {}, \
         non-finite {}, subnormals flushed {} (checked {}), MIDI late {} (expected: faster \
         than real time)",
        mb(bytes as u64),
        mb(bound as u64),
        m.meters.dropped(),
        m.meters.non_finite(),
        m.meters.flushed(),
        f.flushed_checked,
        m.meters.midi_late(),
    );
    if let Some(e) = a.error() {
        failures.push(format!("analysis error: {e}"));
    }
    if m.meters.dropped() > 0 {
        failures.push(format!(
            "{} samples dropped while the worker kept up",
            m.meters.dropped()
        ));
    }
    if m.meters.flushed() != f.flushed_checked {
        failures.push(format!(
            "{} subnormals flushed, {} fed",
            m.meters.flushed(),
            f.flushed_checked
        ));
    }
    if cycles.len() <= WARM_CYCLES {
        failures.push(format!(
            "run more than {WARM_CYCLES} cycles ({:.1} min) to measure growth",
            WARM_CYCLES as f64 * CYCLE_S / 60.0
        ));
    } else if mb(end.saturating_sub(warm)) > MAX_GROWTH_MB {
        failures.push(format!(
            "resident memory grew {:.1} MB after warm-up (limit {MAX_GROWTH_MB})",
            mb(end - warm)
        ));
    }
    if hops != f.windows {
        failures.push(format!(
            "the log holds {hops} hops of {} windows",
            f.windows
        ));
    }
    if bytes > bound {
        failures.push(format!("the log holds {bytes} B, over its bound {bound} B"));
    }
    // One window a second, less the first 3 s after each (re)activation.
    let activations = (total_s / CYCLE_S).ceil() * RATES.len() as f64;
    let want = total_s - 3.0 * activations;
    if (f.windows as f64) < 0.95 * want {
        failures.push(format!("{} windows, expected about {want:.0}", f.windows));
    }
}
