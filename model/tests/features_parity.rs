//! The hand-made features against librosa 0.10.2 (fixture made by
//! `tests/fixtures/make_features_fixture.py`: 6 s of chords, a 107.67-BPM kick, noise, a
//! quiet part, a negative first sample), and streaming == batch.

mod support;
use support::{fixture_bytes, values_f64};

use model::features::{
    stft, summarize, summary_names, FeatureStream, FRAME_ROWS, N_CHROMA, N_CONTRAST, N_MELS,
    SUMMARY_LEN,
};
use model::front_end::FrontEndConfig;
use model::mel::Mel;
use rand::{Rng, SeedableRng};
use safetensors::SafeTensors;

/// The whole signal's per-frame features, as the Tagger and the trainer compute them.
fn frame_features(samples: &[f32]) -> model::Result<Mel> {
    model::front_end::frames(&FrontEndConfig::hand_features(), samples)
}

fn signal(st: &SafeTensors) -> Vec<f32> {
    values_f64(st, "signal").iter().map(|&v| v as f32).collect()
}

/// Rows `from..from + n` of every frame, in librosa's `[rows, frames]` layout.
fn rows(mel: &Mel, from: usize, n: usize) -> Vec<f64> {
    let frames = mel.frames();
    let mut out = vec![0.0; n * frames];
    for t in 0..frames {
        for r in 0..n {
            out[r * frames + t] = mel.frame(t)[from + r] as f64;
        }
    }
    out
}

/// The worst `|got − want| / max(|want|, floor)`.
fn worst_rel(got: &[f64], want: &[f64], floor: f64) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs() / w.abs().max(floor))
        .fold(0.0, f64::max)
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

#[test]
fn frame_rows_match_librosa() {
    let bytes = fixture_bytes("features_librosa.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mel = frame_features(&signal(&st)).unwrap();
    let frames = mel.frames();
    assert_eq!(frames, 259, "1 + len / hop frames");

    let mel_power = values_f64(&st, "mel_power");
    let peaks = values_f64(&st, "contrast_peak");
    let valleys = values_f64(&st, "contrast_valley");
    // Powers and magnitudes span many decades; both STFTs (f32) are exact to ~1e-7 of a
    // frame's loudest bin, so bins more than 80 dB below the signal's loudest (librosa's
    // own `top_db`) are compared against that floor, not their own size.
    let checks = [
        (
            "mel power",
            0,
            N_MELS,
            mel_power.clone(),
            max_abs(&mel_power) * 1e-8,
        ),
        ("chroma", N_MELS, N_CHROMA, values_f64(&st, "chroma"), 1e-6),
        (
            "centroid",
            N_MELS + N_CHROMA,
            1,
            values_f64(&st, "centroid"),
            1.0,
        ),
        (
            "rolloff",
            N_MELS + N_CHROMA + 1,
            1,
            values_f64(&st, "rolloff"),
            1.0,
        ),
        (
            "contrast peaks",
            N_MELS + N_CHROMA + 2,
            N_CONTRAST,
            peaks.clone(),
            max_abs(&peaks) * 1e-4,
        ),
        (
            "contrast valleys",
            N_MELS + N_CHROMA + 2 + N_CONTRAST,
            N_CONTRAST,
            valleys.clone(),
            max_abs(&peaks) * 1e-4,
        ),
        ("zcr", FRAME_ROWS - 1, 1, values_f64(&st, "zcr"), 1e-6),
    ];
    let mut failed = Vec::new();
    for (name, from, n, want, floor) in checks {
        let err = worst_rel(&rows(&mel, from, n), &want, floor);
        eprintln!("{name:>16}: worst relative error {err:.2e}");
        if err > 1e-3 {
            failed.push(format!("{name} {err:.2e}"));
        }
    }
    assert!(failed.is_empty(), "beyond rtol 1e-3: {failed:?}");
}

/// The summary's names, as the fixture's metadata lists them.
fn fixture_names(bytes: &[u8]) -> Vec<String> {
    let (_, meta) = SafeTensors::read_metadata(bytes).unwrap();
    let meta = meta.metadata().as_ref().expect("fixture metadata");
    serde_json::from_str(&meta["summary_names"]).unwrap()
}

#[test]
fn summary_matches_librosa() {
    let bytes = fixture_bytes("features_librosa.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mel = frame_features(&signal(&st)).unwrap();
    let frames = mel.frames();
    let window: Vec<f32> = rows(&mel, 0, FRAME_ROWS)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let mut got = vec![0f32; SUMMARY_LEN];
    summarize(&window, frames, &mut got);
    let got: Vec<f64> = got.iter().map(|&v| v as f64).collect();
    let want = values_f64(&st, "summary");
    let names = summary_names();
    assert_eq!(names, fixture_names(&bytes), "summary order");
    assert_eq!(names.len(), SUMMARY_LEN);

    // MFCCs, their means and every skew cross zero, where a relative error means nothing:
    // each value is compared against at least 1e-4 of the largest value of its group and
    // statistic (librosa rounds its DCT in f32, relative to the largest coefficient).
    let group = |name: &str| {
        let (feature, stat) = name.rsplit_once('_').unwrap_or((name, ""));
        (
            feature
                .trim_end_matches(|c: char| c.is_ascii_digit())
                .to_string(),
            stat.to_string(),
        )
    };
    let mut worst: Vec<(String, f64)> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let key = group(name);
        let scale = names
            .iter()
            .zip(&want)
            .filter(|(n, _)| group(n) == key)
            .fold(0.0f64, |m, (_, w)| m.max(w.abs()));
        let err = (got[i] - want[i]).abs() / want[i].abs().max(1e-4 * scale);
        let label = format!("{}_{}", key.0, key.1);
        match worst.iter_mut().find(|(l, _)| *l == label) {
            Some((_, e)) => *e = e.max(err),
            None => worst.push((label, err)),
        }
    }
    for (label, err) in &worst {
        eprintln!("{label:>16}: worst relative error {err:.2e}");
    }
    let bad: Vec<_> = worst.iter().filter(|(_, e)| *e > 1e-3).collect();
    assert!(bad.is_empty(), "beyond rtol 1e-3: {bad:?}");
    assert_eq!(
        got[SUMMARY_LEN - 1],
        want[SUMMARY_LEN - 1] as f32 as f64,
        "tempo"
    );
    assert_eq!(
        values_f64(&st, "tempo")[0],
        want[SUMMARY_LEN - 1] as f32 as f64
    );
}

#[test]
fn streaming_in_any_chunking_is_the_batch_bit_for_bit() {
    let bytes = fixture_bytes("features_librosa.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let x = signal(&st);
    let x = &x[..40_000];
    let want = frame_features(x).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let mut stream = FeatureStream::new(stft()).unwrap();
    for round in 0..6 {
        let mut out = Mel {
            n_mels: FRAME_ROWS,
            ..Default::default()
        };
        let mut at = 0;
        while at < x.len() {
            let n = match round {
                0 => 1,
                _ => rng.random_range(0..3000).min(x.len() - at),
            };
            stream.push(&x[at..at + n], &mut out);
            at += n;
        }
        // The same stream serves the next signal after `finish`.
        stream.finish(&mut out);
        assert_eq!(out.frames(), want.frames(), "round {round}");
        assert!(
            out.data == want.data,
            "round {round}: rows differ from the batch"
        );
        assert!(out.energy == want.energy, "round {round}: energy differs");
    }
}

#[test]
fn energy_is_the_mel_front_ends() {
    let bytes = fixture_bytes("features_librosa.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let x = signal(&st);
    let features = frame_features(&x[..30_000]).unwrap();
    let mel =
        model::mel::mel_spectrogram(&model::mel::MelConfig::seed_default(), &x[..30_000]).unwrap();
    assert_eq!(features.energy, mel.energy);
}

#[test]
fn zcr_repeats_the_edge_samples() {
    // 4096 samples at −0.5, 4095 at +0.5, the last at −0.5: with librosa's edge padding
    // the first frame sees no crossing and the last frame one (with the STFT's zeros it
    // would be one and two).
    let mut x = vec![-0.5f32; 4096];
    x.extend(std::iter::repeat_n(0.5, 4095));
    x.push(-0.5);
    let mel = frame_features(&x).unwrap();
    let zcr: Vec<f32> = (0..mel.frames())
        .map(|t| mel.frame(t)[FRAME_ROWS - 1])
        .collect();
    assert_eq!(zcr.len(), 17);
    assert_eq!(zcr[0], 0.0);
    assert_eq!(zcr[8], 1.0 / 2048.0, "the step at 4096");
    assert_eq!(
        zcr[16],
        1.0 / 2048.0,
        "the last sample's sign continues into the pad"
    );
}

#[test]
fn a_silent_window_has_a_finite_summary() {
    let frames = 130;
    let silent = frame_features(&vec![0.0; 512 * (frames - 1)]).unwrap();
    assert_eq!(silent.frames(), frames);
    let window: Vec<f32> = rows(&silent, 0, FRAME_ROWS)
        .iter()
        .map(|&v| v as f32)
        .collect();
    assert!(
        window.iter().all(|&v| v == 0.0),
        "silence has all-zero rows"
    );
    let mut out = vec![f32::NAN; SUMMARY_LEN];
    summarize(&window, frames, &mut out);
    assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
    let names = summary_names();
    let value = |name: &str| out[names.iter().position(|n| n == name).unwrap()];
    // Every row is constant: no spread (up to the rounding of the mean), skew 0 by
    // definition; mel at the −100 dB floor.
    for name in &names {
        if name.ends_with("_std") {
            assert!(value(name).abs() < 1e-9, "{name} {}", value(name));
        }
        if name.ends_with("_skew") {
            assert_eq!(value(name), 0.0, "{name}");
        }
    }
    let floor_mfcc0 = -100.0 * (N_MELS as f32).sqrt();
    assert!((value("mfcc0_mean") - floor_mfcc0).abs() < 1e-3);
    assert_eq!(value("chroma0_mean"), 0.0);
    assert_eq!(value("contrast3_mean"), 0.0);
    // With no onsets, librosa's tempo is its prior's peak: 22 frames a beat, 117.45 BPM.
    assert_eq!(value("tempo"), (60.0 * 22050.0 / (512.0 * 22.0)) as f32);
}

#[test]
fn the_stream_refuses_another_stft() {
    let cfg = model::mel::MelConfig::seed_default();
    assert!(FeatureStream::new(cfg).is_err());
    assert!(FeatureStream::new(stft()).is_ok());
}
