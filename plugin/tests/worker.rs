//! The analysis worker: lifecycle (started on activation, joined on deactivation and drop),
//! idempotent activation, caught model panics, a stalled model, silence, reset.

mod common;

use common::*;
use genre_tagger::model_load::ModelSource;
use std::time::{Duration, Instant};

fn feed(engine: &mut genre_tagger::engine::Engine, rate: u32, seconds: f32, offset: &mut usize) {
    let frames = (rate as f32 * seconds) as usize;
    let mut done = 0;
    let mut k = 0;
    while done < frames {
        let block = [64usize, 512, 1000, 333, 4096][k % 5].min(frames - done);
        let l = music_like(rate, block, 0, *offset);
        let r = music_like(rate, block, 1, *offset);
        process(engine, &[&l, &r]);
        *offset += block;
        done += block;
        k += 1;
    }
}

#[test]
fn worker_starts_on_activate_and_is_joined_on_deactivate_and_drop() {
    let (mut engine, m, _) = engine(ModelSource::Given(untrained_model()));
    assert!(!m.analysis.read().running);
    assert!(engine.activate(44_100.0));
    assert!(wait_for(5.0, || m.analysis.read().running));
    let mut off = 0;
    feed(&mut engine, 44_100, 4.0, &mut off);
    assert!(
        wait_for(30.0, || m.analysis.read().windows > 0),
        "no window analysed"
    );

    let t = Instant::now();
    engine.deactivate();
    let took = t.elapsed();
    // deactivate() returns only after join(): the flag is cleared by the thread itself on exit.
    assert!(
        !m.analysis.read().running,
        "worker still running after deactivate"
    );
    assert!(took < Duration::from_secs(2), "deactivate took {took:?}");

    // Reactivate at a new rate, then drop without deactivating.
    assert!(engine.activate(48_000.0));
    assert!(wait_for(5.0, || m.analysis.read().sample_rate == 48_000));
    assert!(wait_for(5.0, || m.analysis.read().running));
    let t = Instant::now();
    drop(engine);
    assert!(
        !m.analysis.read().running,
        "worker still running after drop"
    );
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn repeated_activation_is_cheap_and_keeps_the_worker() {
    let (mut engine, m, _) = engine(ModelSource::Given(untrained_model()));
    assert!(engine.activate(48_000.0));
    let mut off = 0;
    feed(&mut engine, 48_000, 3.5, &mut off);
    assert!(wait_for(30.0, || m.analysis.read().windows > 0));
    let windows = m.analysis.read().windows;
    let t = Instant::now();
    for _ in 0..10_000 {
        assert!(engine.activate(48_000.0));
    }
    let per_call = t.elapsed() / 10_000;
    assert!(
        per_call < Duration::from_micros(50),
        "activate() with nothing changed took {per_call:?}"
    );
    // The analysis stream carried on (a restart would need another 3 s before a window).
    feed(&mut engine, 48_000, 1.5, &mut off);
    assert!(
        wait_for(30.0, || m.analysis.read().windows > windows),
        "stream was restarted by activate()"
    );
}

#[test]
fn a_panicking_model_is_caught_reported_and_analysis_resumes() {
    let model = hooked_model(|call| {
        if call == 0 {
            panic!("injected model failure");
        }
    });
    let (mut engine, m, _) = engine(ModelSource::Given(model));
    assert!(engine.activate(22_050.0));
    let mut off = 0;
    feed(&mut engine, 22_050, 3.5, &mut off);
    assert!(
        wait_for(30.0, || m.analysis.read().panics == 1),
        "panic not reported"
    );
    let err = m
        .analysis
        .read()
        .error()
        .expect("error flagged")
        .to_string();
    assert!(err.contains("injected model failure"), "{err}");
    assert!(m.analysis.read().running, "worker died with the model");
    // The tagger restarted: after another full window it analyses again and clears the error.
    feed(&mut engine, 22_050, 4.0, &mut off);
    assert!(
        wait_for(30.0, || m.analysis.read().windows > 0),
        "analysis did not resume"
    );
    assert!(
        wait_for(5.0, || m.analysis.read().error().is_none()),
        "error not cleared after recovery"
    );
    assert!(
        m.analysis.read().error.contains("injected"),
        "the message stays readable"
    );
}

#[test]
fn a_stalled_model_never_stalls_the_audio_thread() {
    let model = hooked_model(|_| std::thread::sleep(Duration::from_millis(1500)));
    let (mut engine, m, _) = engine(ModelSource::Given(model));
    assert!(engine.activate(16_000.0));
    let mut off = 0;
    let mut worst = Duration::ZERO;
    let block = 256;
    // 12 s of audio while every model call sleeps 1.5 s: the ring (8 s) overflows.
    for _ in 0..(16_000 * 12 / block) {
        let mut l = music_like(16_000, block, 0, off);
        off += block;
        let t = Instant::now();
        let mut block = [&mut l[..]];
        engine.process(&mut block, no_midi);
        worst = worst.max(t.elapsed());
    }
    assert!(
        worst < Duration::from_millis(5),
        "a process() call took {worst:?}"
    );
    assert!(
        m.meters.dropped() > 0,
        "expected drops while the worker stalls"
    );
    let t = Instant::now();
    drop(engine);
    // At most one stalled model call is waited for.
    assert!(
        t.elapsed() < Duration::from_millis(3500),
        "join took {:?}",
        t.elapsed()
    );
    assert!(!m.analysis.read().running);
}

#[test]
fn silence_holds_the_distribution_and_says_so() {
    let (mut engine, m, _) = engine(ModelSource::Given(untrained_model()));
    assert!(engine.activate(22_050.0));
    let mut off = 0;
    feed(&mut engine, 22_050, 5.0, &mut off);
    assert!(wait_for(30.0, || {
        let a = m.analysis.read();
        a.top.is_some() && a.windows >= 2
    }));
    assert!(!m.analysis.read().silent);
    let zeros = vec![0.0f32; 1024];
    let silence = |engine: &mut genre_tagger::engine::Engine, seconds: usize| {
        for _ in 0..(22_050 * seconds / 1024) {
            process(engine, &[&zeros]);
        }
        let queued = m.meters.queued();
        assert!(wait_for(30.0, || m.analysis.read().consumed >= queued));
    };
    // Once the windows are all silence the distribution is held and the flag says so.
    silence(&mut engine, 5);
    assert!(m.analysis.read().silent, "silence not reported");
    let held = m.analysis.read().distribution;
    let windows = m.analysis.read().windows;
    silence(&mut engine, 5);
    assert!(
        m.analysis.read().windows > windows,
        "silent windows are still analysed"
    );
    let a = m.analysis.read();
    assert!(a.silent);
    assert_eq!(a.distribution, held, "distribution moved during silence");
    assert!(a.top.is_some());
}

#[test]
fn reset_forgets_the_distribution() {
    let (mut engine, m, _) = engine(ModelSource::Given(untrained_model()));
    assert!(engine.activate(22_050.0));
    let mut off = 0;
    feed(&mut engine, 22_050, 3.5, &mut off);
    assert!(wait_for(30.0, || m.analysis.read().top.is_some()));
    m.controls.request_reset();
    process(&mut engine, &[&[0.0f32; 16]]); // wake the loop with a little data
    assert!(
        wait_for(5.0, || m.analysis.read().top.is_none()),
        "reset did not clear the distribution"
    );
}

#[test]
fn unsupported_rate_passes_audio_and_reports() {
    let (mut engine, m, _) = engine(ModelSource::Given(untrained_model()));
    assert!(
        engine.activate(4_000.0),
        "activation must not fail: the audio still passes"
    );
    process(&mut engine, &[&[0.1f32; 512]]);
    assert!(wait_for(5.0, || m.analysis.read().error().is_some()));
    let a = m.analysis.read();
    assert!(a.error().unwrap().contains("4000"), "{:?}", a.error());
}

#[test]
fn every_hop_reaches_the_log_and_the_snapshot_with_its_styles() {
    let styles = ["Hip hop music", "Reggae", "Drum and bass, UK"];
    let (mut engine, m, _) = engine(ModelSource::Given(styled_model(&styles)));
    assert!(engine.activate(22_050.0));
    let mut off = 0;
    for _ in 0..8 {
        feed(&mut engine, 22_050, 1.0, &mut off);
        let queued = m.meters.queued();
        assert!(wait_for(30.0, || m.analysis.read().consumed >= queued));
    }
    let a = m.analysis.read();
    assert!(a.windows >= 5, "{} windows in 8 s at a 1-s hop", a.windows);
    assert_eq!(a.style_names, styles);
    assert_eq!(a.styles.len(), 3);
    assert!(wait_for(5.0, || {
        m.log.read().log.as_ref().map(|l| l.hops()) == Some(a.windows)
    }));
    let state = m.log.read();
    let log = state.log.as_ref().unwrap();
    assert_eq!(log.header().styles, styles);
    assert_eq!(log.header().labels.len(), 10);
    let rows: Vec<_> = log.rows().collect();
    // The first window ends after its 3 s; then one row per hop (1 s, in whole mel frames).
    assert!((rows[0].time_s - 2.99).abs() < 0.05, "{}", rows[0].time_s);
    for w in rows.windows(2) {
        let dt = w[1].time_s - w[0].time_s;
        assert!((dt - 1.0).abs() < 0.03, "hop of {dt} s");
    }
    assert!(rows.iter().all(|r| r.styles.len() == 3 && r.top.is_some()));
    // The last row is what the editor shows now.
    let last = rows.last().unwrap();
    assert_eq!(last.top, a.top);
    for (x, y) in last.distribution.iter().zip(&a.distribution) {
        assert!((x - y).abs() < 1e-4);
    }
    assert!(
        log.changes().len() >= 1,
        "the first genre is a change event"
    );
}

#[test]
fn the_seed_papers_systems_run_in_the_worker() {
    use model::arch::Arch;
    use model::classic::{Classifier, HandFeaturesConfig};
    for arch in [
        Arch::Seed2Block(Default::default()),
        Arch::Seed128Chunk(Default::default()),
        Arch::Crnn(Default::default()),
        Arch::HandFeatures(HandFeaturesConfig {
            classifier: Classifier::logistic(),
        }),
    ] {
        let (mut engine, m, _) = engine(ModelSource::Given(seed_system(arch.clone())));
        assert!(engine.activate(44_100.0));
        let mut off = 0;
        feed(&mut engine, 44_100, 4.0, &mut off);
        assert!(
            wait_for(30.0, || m.analysis.read().windows > 0),
            "{arch:?}: no window analysed ({})",
            m.analysis.read().error
        );
        let a = m.analysis.read();
        assert_eq!(a.distribution.len(), 10, "{arch:?}");
        assert!(
            (a.distribution.iter().sum::<f32>() - 1.0).abs() < 1e-3,
            "{arch:?}"
        );
        assert!(a.error().is_none(), "{arch:?}: {}", a.error);
    }
}

/// Clicks at `bpm` over an A-minor progression (i–iv–V–i, a chord a second), mono.
fn clicks_over_chords(rate: u32, seconds: f32, bpm: f32) -> Vec<f32> {
    let n = (rate as f32 * seconds) as usize;
    let tau = 2.0 * std::f32::consts::PI;
    let chords: [[f32; 3]; 4] = [
        [57.0, 60.0, 64.0],
        [62.0, 65.0, 69.0],
        [64.0, 68.0, 71.0],
        [57.0, 60.0, 64.0],
    ];
    (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let beat = t % (60.0 / bpm);
            let click = 0.5 * (tau * 1000.0 * beat).sin() * (-beat / 0.01).exp();
            let chord = chords[t as usize % 4];
            let tones: f32 = chord
                .iter()
                .map(|&p| (tau * 440.0 * 2f32.powf((p - 69.0) / 12.0) * t).sin())
                .sum();
            click + 0.08 * tones
        })
        .collect()
}

#[test]
fn the_live_tempo_and_key_reach_the_snapshot_the_log_and_midi() {
    use genre_tagger::midi::{MidiMessage, KEY_CC, TEMPO_CC};
    use model::rhythm::Rhythm;
    let rate = 44_100;
    let x = clicks_over_chords(rate, 14.0, 125.0);
    // What the tracker shows for this signal, fed directly.
    let mut direct = Rhythm::new(rate).unwrap();
    direct.push(&x).unwrap();
    let want_key = direct.key().expect("the progression has a key");

    let (mut engine, m, _) = engine(ModelSource::Given(untrained_model()));
    assert!(engine.activate(rate as f32));
    let mut ccs = Vec::new();
    for second in x.chunks(rate as usize) {
        for block in second.chunks(512) {
            let mut bufs = vec![block.to_vec(), block.to_vec()];
            engine.process(&mut bufs, |_, msg| {
                if let MidiMessage::Cc { cc, value } = msg {
                    ccs.push((cc, value));
                }
                true
            });
        }
        let queued = m.meters.queued();
        assert!(wait_for(30.0, || m.analysis.read().consumed >= queued));
    }
    let a = m.analysis.read();
    let tempo = a.tempo.expect("a tempo in the snapshot");
    assert!((tempo.bpm / 125.0 - 1.0).abs() < 0.01, "{tempo:?}");
    let key = a.key.expect("a key in the snapshot");
    assert_eq!(key.index(), want_key.index(), "{key:?} vs {want_key:?}");

    assert!(wait_for(5.0, || {
        m.log.read().log.as_ref().map(|l| l.hops()) == Some(a.windows)
    }));
    let state = m.log.read();
    let rows: Vec<_> = state.log.as_ref().unwrap().rows().collect();
    assert_eq!(
        rows[0].bpm, None,
        "the first hop (3 s) comes before any tempo"
    );
    let last = rows.last().unwrap();
    assert!((last.bpm.unwrap() / 125.0 - 1.0).abs() < 0.01, "{last:?}");
    assert_eq!(last.key.map(|k| k.index()), Some(want_key.index()));

    // MIDI: the tempo CC says 125 − 60, the key CC the Camelot position.
    let (n, letter) = want_key.camelot();
    let camelot = 2 * (n - 1) + if letter == 'B' { 2 } else { 1 };
    assert!(ccs.contains(&(TEMPO_CC, 65)), "{ccs:?}");
    assert!(ccs.contains(&(KEY_CC, camelot)), "{ccs:?}");
}

#[test]
fn the_input_peak_is_held_for_the_meter_until_taken() {
    let (mut engine, m, _) = engine(ModelSource::Given(untrained_model()));
    assert!(engine.activate(48_000.0));
    let quiet = vec![0.01f32; 480];
    let mut loud = quiet.clone();
    loud[100] = -0.5;
    loud[101] = f32::NAN;
    process(&mut engine, &[&quiet, &loud]);
    process(&mut engine, &[&quiet, &quiet]);
    assert_eq!(
        m.meters.take_peak(),
        0.5,
        "the loudest finite sample of any channel"
    );
    process(&mut engine, &[&quiet, &quiet]);
    assert_eq!(m.meters.take_peak(), 0.01, "a take starts a new hold");
    assert_eq!(m.meters.take_peak(), 0.0);
}
