//! The mel front end against librosa 0.10.2 (fixture made by
//! `tests/fixtures/make_mel_fixture.py`), and streaming == batch.

mod support;
use support::{fixture_bytes, max_abs_diff_slices};

use model::mel::{mel_filterbank, mel_spectrogram, LogScale, Mel, MelConfig, MelStream};
use rand::{Rng, SeedableRng};
use safetensors::SafeTensors;

fn tensor(st: &SafeTensors, name: &str) -> (Vec<usize>, Vec<f32>) {
    let t = st.tensor(name).unwrap();
    let v = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (t.shape().to_vec(), v)
}

/// librosa is `[n_mels, frames]`; ours is frame-major.
fn at(mel: &Mel, m: usize, t: usize) -> f32 {
    mel.data[t * mel.n_mels + m]
}

#[test]
fn filterbank_matches_librosa() {
    let bytes = fixture_bytes("mel_librosa.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (shape, want) = tensor(&st, "mel_basis");
    assert_eq!(shape, vec![128, 1025]);
    let got = mel_filterbank(&MelConfig::seed_default());
    let err = max_abs_diff_slices(&got, &want);
    assert!(err < 1e-7, "max abs filterbank error {err}");
}

#[test]
fn mel_power_and_db_match_librosa() {
    let bytes = fixture_bytes("mel_librosa.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (_, signal) = tensor(&st, "signal");
    let (shape, power) = tensor(&st, "mel_power");
    let (_, db) = tensor(&st, "mel_db");
    let (n_mels, frames) = (shape[0], shape[1]);

    let mut cfg = MelConfig::seed_default();
    cfg.scale = LogScale::Power;
    let ours_p = mel_spectrogram(&cfg, &signal).unwrap();
    let ours_db = mel_spectrogram(&MelConfig::seed_default(), &signal).unwrap();
    assert_eq!(
        ours_p.frames(),
        frames,
        "frame count (librosa: 1 + len / hop)"
    );

    let (mut worst_db, mut worst_rel, mut checked) = (0.0f32, 0.0f32, 0);
    for m in 0..n_mels {
        for t in 0..frames {
            let (want_p, want_db) = (power[m * frames + t], db[m * frames + t]);
            if want_db > -80.0 {
                worst_db = worst_db.max((at(&ours_db, m, t) - want_db).abs());
                worst_rel = worst_rel.max((at(&ours_p, m, t) - want_p).abs() / want_p);
                checked += 1;
            }
        }
    }
    eprintln!(
        "librosa parity: {checked} bins above -80 dB, max abs dB error {worst_db:.2e}, max \
         relative power error {worst_rel:.2e}"
    );
    assert!(
        checked > n_mels * frames / 2,
        "only {checked} bins above -80 dB"
    );
    assert!(worst_db <= 0.01, "max abs dB error {worst_db}");
    assert!(worst_rel <= 2.5e-3, "max relative power error {worst_rel}");
}

#[test]
fn musicnn_front_end_power_matches_librosa() {
    let bytes = fixture_bytes("mel_librosa.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (_, signal) = tensor(&st, "signal_16k");
    let (shape, power) = tensor(&st, "mel_power_16k");
    let mut cfg = MelConfig::musicnn();
    cfg.scale = LogScale::Power;
    let ours = mel_spectrogram(&cfg, &signal).unwrap();
    assert_eq!((ours.n_mels, ours.frames()), (shape[0], shape[1]));
    let frames = shape[1];
    let mut worst = 0.0f32;
    for m in 0..shape[0] {
        for t in 0..frames {
            let want = power[m * frames + t];
            if want > 1e-8 {
                let db = |x: f32| 10.0 * x.max(1e-10).log10();
                worst = worst.max((db(at(&ours, m, t)) - db(want)).abs());
            }
        }
    }
    assert!(worst <= 0.01, "max abs dB error {worst}");
}

#[test]
fn streaming_equals_batch_for_random_chunkings() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let signal: Vec<f32> = (0..22_050 * 4)
        .map(|i| (i as f32 * 0.031).sin() * 0.5 + rng.random::<f32>() * 0.1 - 0.05)
        .collect();
    for cfg in [
        MelConfig::seed_default(),
        MelConfig::musicnn(),
        MelConfig::efficientat(),
    ] {
        let batch = mel_spectrogram(&cfg, &signal).unwrap();
        for trial in 0..8 {
            let mut s = MelStream::new(cfg.clone()).unwrap();
            let mut out = Mel {
                n_mels: cfg.n_mels,
                ..Default::default()
            };
            let mut i = 0;
            while i < signal.len() {
                // From single samples to more than the whole signal.
                let n = match trial {
                    0 => 1,
                    1 => signal.len() * 2,
                    _ => rng.random_range(1..=[7, 511, 512, 513, 4096, 100_000][trial % 6]),
                };
                let end = (i + n).min(signal.len());
                s.push(&signal[i..end], &mut out);
                i = end;
            }
            s.finish(&mut out);
            assert_eq!(out.data, batch.data, "trial {trial}: frames differ");
            assert_eq!(out.energy, batch.energy);
        }
    }
}

#[test]
fn silence_stays_finite() {
    let out = mel_spectrogram(&MelConfig::seed_default(), &vec![0.0; 22_050]).unwrap();
    assert!(
        out.data.iter().all(|&x| x == -100.0),
        "10·log10(1e-10) floor"
    );
}

#[test]
fn invalid_configs_are_refused() {
    let mut c = MelConfig::seed_default();
    c.n_fft = 1023;
    assert!(MelStream::new(c).is_err());
    let mut c = MelConfig::seed_default();
    c.fmax = Some(20_000.0);
    let e = MelStream::new(c).err().unwrap().to_string();
    assert!(e.contains("fmax"), "{e}");
}

/// musicnn rounds the mel power to float16 and compresses in float32 (the reference patches
/// go beyond float16's log10(65 505) = 4.8): loud music must give values above that, and a
/// power beyond float16's range must saturate, not become inf.
#[test]
fn musicnn_compression_rounds_power_not_the_log() {
    let cfg = MelConfig::musicnn();
    let loud: Vec<f32> = (0..16_000)
        .map(|i| if (i / 40) % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let mel = model::mel::mel_spectrogram(&cfg, &loud).unwrap();
    let max = mel.data.iter().cloned().fold(f32::MIN, f32::max);
    assert!(
        mel.data.iter().all(|v| v.is_finite()),
        "non-finite log-mel value"
    );
    assert!(
        max > 65_505f32.log10() + 0.5,
        "a full-scale square wave must exceed float16's range after 10000·S, max {max}"
    );
    assert!(
        max <= (10_000.0f32 * 65_504.0 + 1.0).log10() + 1e-4,
        "power saturates at 65 504, max {max}"
    );
}

/// A gain applied to compressed mels equals the mels of the louder audio (in dB, over the
/// bins above −80 dB: below, float32 FFT rounding of bins 100 dB under the peak dominates).
#[test]
fn gain_on_compressed_mels_matches_louder_audio() {
    let x: Vec<f32> = (0..32_000)
        .map(|i| 0.2 * (i as f32 * 0.031).sin() + 0.05 * (i as f32 * 0.47).sin())
        .collect();
    for (cfg, tol) in [
        (MelConfig::musicnn(), 2e-3),
        (MelConfig::seed_default(), 1e-2),
        (MelConfig::efficientat(), 1e-3),
    ] {
        let loud: Vec<f32> = x.iter().map(|v| v * 10f32.powf(-9.0 / 20.0)).collect();
        let want = mel_spectrogram(&cfg, &loud).unwrap();
        let mut got = mel_spectrogram(&cfg, &x).unwrap();
        cfg.scale.apply_gain(&mut got.data, -9.0);
        let audible = |b: &f32| !matches!(cfg.scale, model::mel::LogScale::Db { .. }) || *b > -80.0;
        let worst = got
            .data
            .iter()
            .zip(&want.data)
            .filter(|(_, b)| audible(b))
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < tol, "{:?}: worst {worst}", cfg.scale);
    }
}

/// EfficientAT's pre-emphasis takes 30 dB off a 50-Hz tone; the frame energies (the
/// Tagger's silence meter) must still read the signal's own level, and 3 s must give the
/// 300 frames the network was trained on.
#[test]
fn efficientat_energy_is_the_raw_level_and_3_s_is_300_frames() {
    let cfg = MelConfig::efficientat();
    let x: Vec<f32> = (0..96_000)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 50.0 * i as f32 / 32_000.0).sin())
        .collect();
    let mel = mel_spectrogram(&cfg, &x).unwrap();
    assert_eq!(mel.frames(), 300);
    assert_eq!(cfg.frames_for(3.0), 300);
    let mid = mel.energy[150];
    assert!((mid - 0.125).abs() < 0.01, "mean square {mid}, want 0.5²/2");
}
