//! The Tagger: chunking-independent, hop-exact, silence- and NaN-aware.

use candle_core::Device;
use model::arch::Arch;
use model::nets::SeedCnnConfig;
use model::tagger::{tag_audio, Tagger, TaggerOptions, WindowResult};
use model::weights::{build_trainable, LoadedModel, ModelCard};
use model::{audio::Audio, Error};
use rand::{Rng, SeedableRng};
use std::sync::Arc;

fn tiny_model() -> Arc<LoadedModel> {
    let mut card = ModelCard::seed_cnn_default();
    card.arch = Arch::SeedCnn(SeedCnnConfig {
        channels: vec![4, 8],
        dropout: 0.0,
    });
    let (_vm, net) = build_trainable(&card, &Device::Cpu, 11).unwrap();
    Arc::new(LoadedModel {
        card,
        net,
        device: Device::Cpu,
        source: "test".into(),
    })
}

fn music_like(rate: u32, secs: f32, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..(rate as f32 * secs) as usize)
        .map(|i| {
            let t = i as f32 / rate as f32;
            0.3 * (2.0 * std::f32::consts::PI * 220.0 * t).sin() * (1.0 + (t * 3.0).sin()) * 0.5
                + 0.05 * (rng.random::<f32>() - 0.5)
        })
        .collect()
}

fn run(
    model: &Arc<LoadedModel>,
    rate: u32,
    x: &[f32],
    chunks: &mut dyn FnMut() -> usize,
    opts: TaggerOptions,
) -> Vec<WindowResult> {
    let mut t = Tagger::new(model.clone(), rate, opts).unwrap();
    let mut out = Vec::new();
    let mut i = 0;
    while i < x.len() {
        let end = (i + chunks()).min(x.len());
        out.extend(t.push(&x[i..end]).unwrap());
        i = end;
    }
    out.extend(t.finish().unwrap());
    out
}

#[test]
fn results_do_not_depend_on_chunking_or_batching() {
    let m = tiny_model();
    for rate in [22_050, 44_100, 48_000] {
        let x = music_like(rate, 7.0, 1);
        let whole = run(
            &m,
            rate,
            &x,
            &mut || usize::MAX / 2,
            TaggerOptions::default(),
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let opts = TaggerOptions {
            max_batch: 1,
            ..Default::default()
        };
        let pieces = run(&m, rate, &x, &mut || rng.random_range(1..5000), opts);
        assert_eq!(whole.len(), pieces.len(), "{rate}");
        for (a, b) in whole.iter().zip(&pieces) {
            assert_eq!(a.start_s, b.start_s);
            for (p, q) in a.probs.iter().zip(&b.probs) {
                assert!((p - q).abs() < 1e-5, "{rate}: {p} vs {q}");
            }
        }
    }
}

#[test]
fn windows_follow_the_hop_and_cover_the_signal() {
    let m = tiny_model();
    let x = music_like(22_050, 10.0, 2);
    for hop in [0.5f32, 1.0, 3.0] {
        let w = run(
            &m,
            22_050,
            &x,
            &mut || 1024,
            TaggerOptions {
                hop_s: hop,
                ..Default::default()
            },
        );
        // Windows of 130 frames (3 s) every round(hop·sr/512) frames over 1 + len/512 frames.
        let hop_frames = (hop * 22_050.0 / 512.0).round() as usize;
        let frames = 1 + x.len() / 512;
        assert_eq!(w.len(), (frames - 130) / hop_frames + 1, "hop {hop}");
        for pair in w.windows(2) {
            let dt = pair[1].start_s - pair[0].start_s;
            assert!((dt - hop_frames as f64 * 512.0 / 22_050.0).abs() < 1e-9);
        }
        for r in &w {
            assert!(!r.silent);
            assert!((r.probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        }
    }
}

#[test]
fn silence_is_reported_not_tagged() {
    let m = tiny_model();
    let audio = Audio {
        samples: vec![0.0; 22_050 * 5],
        sample_rate: 22_050,
        source_channels: 1,
        non_finite: 0,
        warnings: vec![],
    };
    let e = tag_audio(m.clone(), &audio, TaggerOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Silent { .. }), "{e}");

    // Music, then silence: once the windows hold only silence they are flagged, carry
    // no distribution, and the smoothed distribution holds.
    let mut t = Tagger::new(m, 22_050, TaggerOptions::default()).unwrap();
    let w = t.push(&music_like(22_050, 5.0, 4)).unwrap();
    assert!(!w.is_empty() && w.iter().all(|r| !r.silent));
    t.push(&vec![0.0; 22_050 * 4]).unwrap(); // flush windows that overlap the music
    let held = t.smoothed().unwrap().to_vec();
    let w = t.push(&vec![0.0; 22_050 * 5]).unwrap();
    assert!(w.len() >= 4);
    for r in &w {
        assert!(r.silent && r.level_db < -60.0, "{r:?}");
        assert!(r.probs.iter().all(|&p| p == 0.0));
    }
    assert_eq!(t.smoothed().unwrap(), held.as_slice());
}

#[test]
fn nan_and_inf_input_is_counted_and_harmless() {
    let m = tiny_model();
    let mut x = music_like(44_100, 4.0, 5);
    for i in (0..x.len()).step_by(1000) {
        x[i] = if i % 2000 == 0 {
            f32::NAN
        } else {
            f32::INFINITY
        };
    }
    let mut t = Tagger::new(m, 44_100, TaggerOptions::default()).unwrap();
    let mut w = t.push(&x).unwrap();
    w.extend(t.finish().unwrap());
    assert_eq!(t.non_finite_samples(), x.len().div_ceil(1000) as u64);
    assert!(!w.is_empty());
    assert!(w.iter().all(|r| r.probs.iter().all(|p| p.is_finite())));
}

#[test]
fn short_input_is_looped_or_refused() {
    let m = tiny_model();
    let x = music_like(22_050, 1.5, 6);
    let w = run(&m, 22_050, &x, &mut || 4096, TaggerOptions::default());
    assert_eq!(w.len(), 1, "1.5 s gives one looped window");
    let mut t = Tagger::new(m, 22_050, TaggerOptions::default()).unwrap();
    t.push(&x[..5000]).unwrap();
    let e = t.finish().unwrap_err();
    assert!(matches!(e, Error::TooShort { .. }), "{e}");
}

#[test]
fn bad_options_and_rates_are_refused() {
    let m = tiny_model();
    for opts in [
        TaggerOptions {
            hop_s: 0.0,
            ..Default::default()
        },
        TaggerOptions {
            hop_s: f32::NAN,
            ..Default::default()
        },
        TaggerOptions {
            smoothing_s: -1.0,
            ..Default::default()
        },
        TaggerOptions {
            max_batch: 0,
            ..Default::default()
        },
    ] {
        assert!(
            matches!(Tagger::new(m.clone(), 22_050, opts), Err(Error::Config(_))),
            "{opts:?}"
        );
    }
    for rate in [0, 100, 5_000_000] {
        assert!(matches!(
            Tagger::new(m.clone(), rate, TaggerOptions::default()),
            Err(Error::SampleRate { .. })
        ));
    }
}

#[test]
fn smoothing_is_an_exponential_average_with_the_given_time_constant() {
    let m = tiny_model();
    let x = music_like(22_050, 12.0, 7);
    let (hop, tau) = (1.0f32, 2.0f32);
    let mut t = Tagger::new(
        m,
        22_050,
        TaggerOptions {
            hop_s: hop,
            smoothing_s: tau,
            ..Default::default()
        },
    )
    .unwrap();
    let w = t.push(&x).unwrap();
    assert!(w.len() >= 5);
    let alpha = 1.0 - (-hop / tau).exp();
    let mut ema = w[0].probs.clone();
    for r in &w[1..] {
        ema.iter_mut()
            .zip(&r.probs)
            .for_each(|(e, p)| *e += alpha * (p - *e));
    }
    for (a, b) in t.smoothed().unwrap().iter().zip(&ema) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}

#[test]
fn reset_starts_a_clean_stream() {
    let m = tiny_model();
    let x = music_like(44_100, 6.0, 8);
    let mut fresh = Tagger::new(m.clone(), 44_100, TaggerOptions::default()).unwrap();
    let want = fresh.push(&x).unwrap();
    let mut used = Tagger::new(m, 44_100, TaggerOptions::default()).unwrap();
    used.push(&music_like(44_100, 4.3, 9)).unwrap();
    used.reset();
    assert!(used.smoothed().is_none());
    let got = used.push(&x).unwrap();
    assert_eq!(
        got, want,
        "after reset, the same input gives the same windows"
    );
}
