//! The hand-made features against librosa 0.10.2 (fixture made by
//! `tests/fixtures/make_features_fixture.py`: 6 s of chords, a 107.67-BPM kick, noise, a
//! quiet part, a negative first sample), and streaming == batch.

use model::features::{
    frame_features, front_end, summarize, summary_names, FeatureStream, FRAME_ROWS, N_CHROMA,
    N_CONTRAST, N_MELS, SUMMARY_LEN,
};
use model::mel::Mel;
use rand::{Rng, SeedableRng};
use safetensors::SafeTensors;

fn fixture() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/features_librosa.safetensors"
    ))
    .unwrap()
}

/// A tensor's values (f32 or f64) as f64.
fn tensor(st: &SafeTensors, name: &str) -> Vec<f64> {
    let t = st.tensor(name).unwrap();
    match t.dtype() {
        safetensors::Dtype::F32 => t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect(),
        safetensors::Dtype::F64 => t
            .data()
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        d => panic!("{name}: unexpected dtype {d:?}"),
    }
}

fn signal(st: &SafeTensors) -> Vec<f32> {
    tensor(st, "signal").iter().map(|&v| v as f32).collect()
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
    let bytes = fixture();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mel = frame_features(&signal(&st)).unwrap();
    let frames = mel.frames();
    assert_eq!(frames, 259, "1 + len / hop frames");

    let mel_power = tensor(&st, "mel_power");
    let peaks = tensor(&st, "contrast_peak");
    let valleys = tensor(&st, "contrast_valley");
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
        ("chroma", N_MELS, N_CHROMA, tensor(&st, "chroma"), 1e-6),
        (
            "centroid",
            N_MELS + N_CHROMA,
            1,
            tensor(&st, "centroid"),
            1.0,
        ),
        (
            "rolloff",
            N_MELS + N_CHROMA + 1,
            1,
            tensor(&st, "rolloff"),
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
        ("zcr", FRAME_ROWS - 1, 1, tensor(&st, "zcr"), 1e-6),
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

#[test]
fn summary_matches_librosa() {
    let bytes = fixture();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mel = frame_features(&signal(&st)).unwrap();
    let frames = mel.frames();
    let window = rows(&mel, 0, FRAME_ROWS);
    let window: Vec<f32> = window.iter().map(|&v| v as f32).collect();
    let mut got = vec![0f32; SUMMARY_LEN];
    summarize(&window, frames, &mut got);
    let want = tensor(&st, "summary");
    let names = summary_names();
    for (i, name) in names.iter().enumerate() {
        let (g, w) = (got[i] as f64, want[i]);
        eprintln!(
            "{name:>16} {g:>14.6} {w:>14.6} {:.2e}",
            (g - w).abs() / w.abs().max(1e-9)
        );
    }
    assert_eq!(
        got[SUMMARY_LEN - 1] as f64,
        want[SUMMARY_LEN - 1] as f32 as f64,
        "tempo"
    );
}
