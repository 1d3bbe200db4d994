//! A window's summary: the features librosa computes over the whole signal it is given,
//! and their statistics (see the module doc of `features`).

use super::db::power_to_db;
use super::mfcc::mfcc;
use super::stats::moments;
use super::tempo::{onset_envelope, tempo};
use super::{FRAME_ROWS, N_CHROMA, N_CONTRAST, N_MELS, N_MFCC, SUMMARY_LEN};

/// The feature groups summarised, in order: name and rows.
const GROUPS: [(&str, usize); 6] = [
    ("mfcc", N_MFCC),
    ("chroma", N_CHROMA),
    ("centroid", 1),
    ("rolloff", 1),
    ("contrast", N_CONTRAST),
    ("zcr", 1),
];

/// Summarises one window, row-major `[FRAME_ROWS][frames]` (the layout
/// [`copy_window`](crate::window::copy_window) makes), into `out` ([`SUMMARY_LEN`] values,
/// in [`summary_names`]' order).
///
/// What librosa would compute on a signal whose frames these are: mel power to dB with
/// `top_db = 80` below the window's maximum, MFCC, contrast as the difference of the
/// peaks' and valleys' dB (each clipped against its own maximum), the onset envelope and
/// tempo; then per row mean, standard deviation and skew. Computed in f64. A window
/// without frames gives zeros and librosa's tempo of silence.
pub fn summarize(window: &[f32], frames: usize, out: &mut [f32]) {
    assert_eq!(
        window.len(),
        FRAME_ROWS * frames,
        "window is [FRAME_ROWS][frames]"
    );
    assert_eq!(out.len(), SUMMARY_LEN, "out holds SUMMARY_LEN values");
    let cfg = super::stft();
    if frames == 0 {
        out.fill(0.0);
        out[SUMMARY_LEN - 1] = tempo(&[], cfg.sample_rate as f64, cfg.hop) as f32;
        return;
    }
    let row = |r: usize| &window[r * frames..(r + 1) * frames];
    let rows = |from: usize, n: usize| window[from * frames..(from + n) * frames].iter().copied();
    let as_f64 = |r: usize| row(r).iter().map(|&v| v as f64).collect::<Vec<f64>>();

    let mel_db = power_to_db(rows(0, N_MELS));
    let chroma_at = N_MELS;
    let centroid_at = chroma_at + N_CHROMA;
    let peaks_at = centroid_at + 2;
    let valleys_at = peaks_at + N_CONTRAST;
    let zcr_at = valleys_at + N_CONTRAST;
    let peaks = power_to_db(rows(peaks_at, N_CONTRAST));
    let valleys = power_to_db(rows(valleys_at, N_CONTRAST));
    let contrast: Vec<f64> = peaks.iter().zip(&valleys).map(|(p, v)| p - v).collect();

    let mut groups: Vec<Vec<f64>> = vec![
        mfcc(&mel_db, frames),
        rows(chroma_at, N_CHROMA).map(f64::from).collect(),
        as_f64(centroid_at),
        as_f64(centroid_at + 1),
        contrast,
        as_f64(zcr_at),
    ];
    let bpm = tempo(
        &onset_envelope(&mel_db, frames),
        cfg.sample_rate as f64,
        cfg.hop,
    );

    let mut at = 0;
    for (values, (_, n)) in groups.iter_mut().zip(GROUPS) {
        let stats: Vec<(f64, f64, f64)> = (0..n)
            .map(|r| moments(&values[r * frames..(r + 1) * frames]))
            .collect();
        for pick in 0..3 {
            for &(mean, std, skew) in &stats {
                out[at] = [mean, std, skew][pick] as f32;
                at += 1;
            }
        }
    }
    out[at] = bpm as f32;
}

/// The name of each summary value ("mfcc3_mean", "chroma0_skew", …, "tempo"): per group
/// (MFCC, chroma, centroid, roll-off, contrast, ZCR) all its rows' means, then their
/// standard deviations, then their skews; tempo last.
pub fn summary_names() -> Vec<String> {
    let mut names = Vec::with_capacity(SUMMARY_LEN);
    for (group, n) in GROUPS {
        for stat in ["mean", "std", "skew"] {
            for r in 0..n {
                let index = if n > 1 { r.to_string() } else { String::new() };
                names.push(format!("{group}{index}_{stat}"));
            }
        }
    }
    names.push("tempo".into());
    names
}

#[cfg(test)]
mod tests {
    //! The window-level intermediates (private here) against the librosa fixture that
    //! `tests/features_parity.rs` checks the summary with.
    use super::*;
    use crate::features::{stft, FeatureStream};
    use crate::mel::Mel;
    use safetensors::SafeTensors;

    fn fixture() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/features_librosa.safetensors"
        ))
        .unwrap()
    }

    fn tensor(st: &SafeTensors, name: &str) -> Vec<f64> {
        let t = st.tensor(name).unwrap();
        assert_eq!(t.dtype(), safetensors::Dtype::F32, "{name}");
        t.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect()
    }

    /// The fixture signal's window, `[FRAME_ROWS][frames]`.
    fn window(st: &SafeTensors) -> (Vec<f32>, usize) {
        let x: Vec<f32> = tensor(st, "signal").iter().map(|&v| v as f32).collect();
        let mut mel = Mel {
            n_mels: FRAME_ROWS,
            ..Default::default()
        };
        let mut stream = FeatureStream::new(stft()).unwrap();
        stream.push(&x, &mut mel);
        stream.finish(&mut mel);
        let frames = mel.frames();
        let mut w = vec![0f32; FRAME_ROWS * frames];
        for t in 0..frames {
            for (r, v) in mel.frame(t).iter().enumerate() {
                w[r * frames + t] = *v;
            }
        }
        (w, frames)
    }

    /// Worst `|got − want| / max(|want|, floor · max|want|)`.
    fn worst(got: &[f64], want: &[f64], floor: f64) -> f64 {
        assert_eq!(got.len(), want.len());
        let scale = want.iter().fold(0f64, |m, w| m.max(w.abs())) * floor;
        got.iter()
            .zip(want)
            .map(|(g, w)| (g - w).abs() / w.abs().max(scale))
            .fold(0.0, f64::max)
    }

    #[test]
    fn mfcc_onset_envelope_and_contrast_match_librosa() {
        let bytes = fixture();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (w, frames) = window(&st);
        let mel_db = power_to_db(w[..N_MELS * frames].iter().copied());
        // MFCCs cross zero; librosa's f32 DCT is exact to ~1e-7 of the largest one.
        let err = worst(&mfcc(&mel_db, frames), &tensor(&st, "mfcc"), 1e-4);
        eprintln!("mfcc: worst relative error {err:.2e}");
        assert!(err < 1e-3, "mfcc {err:.2e}");
        // The envelope is 0 wherever no band got louder.
        let onset = onset_envelope(&mel_db, frames);
        let err = worst(&onset, &tensor(&st, "onset_env"), 1e-4);
        eprintln!("onset envelope: worst relative error {err:.2e}");
        assert!(err < 1e-3, "onset envelope {err:.2e}");
        let peaks_at = N_MELS + N_CHROMA + 2;
        let rows = |from: usize| {
            w[from * frames..(from + N_CONTRAST) * frames]
                .iter()
                .copied()
        };
        let contrast: Vec<f64> = power_to_db(rows(peaks_at))
            .iter()
            .zip(power_to_db(rows(peaks_at + N_CONTRAST)))
            .map(|(p, v)| p - v)
            .collect();
        let err = worst(&contrast, &tensor(&st, "contrast"), 0.0);
        eprintln!("contrast: worst relative error {err:.2e}");
        assert!(err < 1e-3, "contrast {err:.2e}");
        assert_eq!(
            tempo(&onset, 22_050.0, 512) as f32,
            tensor(&st, "tempo")[0] as f32
        );
    }

    #[test]
    fn the_dct_is_orthonormal() {
        let m = crate::features::mfcc::dct_matrix();
        for a in 0..N_MFCC {
            for b in 0..N_MFCC {
                let dot: f64 = (0..N_MELS)
                    .map(|i| m[a * N_MELS + i] * m[b * N_MELS + i])
                    .sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-12, "rows {a}, {b}: {dot}");
            }
        }
    }

    #[test]
    fn a_window_without_frames_is_zeros_and_the_prior_tempo() {
        let mut out = vec![f32::NAN; SUMMARY_LEN];
        summarize(&[], 0, &mut out);
        assert!(out[..SUMMARY_LEN - 1].iter().all(|&v| v == 0.0), "{out:?}");
        assert_eq!(
            out[SUMMARY_LEN - 1],
            (60.0 * 22050.0 / (512.0 * 22.0)) as f32
        );
    }
}
