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
    let cfg = super::front_end();
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
