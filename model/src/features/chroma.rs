//! Chroma from the power spectrum: librosa's `filters.chroma` (Ellis's Gaussian bumps
//! over the FFT bins) and `feature.chroma_stft`'s per-frame ∞-normalisation.
//!
//! The tuning is fixed at 0 (A4 = 440 Hz). librosa's default estimates it over the whole
//! input with `piptrack`, which a stream cannot do (it needs the whole signal) and which is
//! noisy on a 3-s window anyway; `chroma_stft(S=…, tuning=0)` is the reference.

use super::N_CHROMA;

/// `filters.chroma(sr, n_fft, tuning=0, n_chroma=12, ctroct=5, octwidth=2, norm=2,
/// base_c=True)`: `[N_CHROMA][n_fft/2 + 1]` row-major, computed in f64 and rounded to
/// f32 as librosa returns it.
pub(super) fn chroma_filterbank(sample_rate: f64, n_fft: usize) -> Vec<f32> {
    let n_chroma = N_CHROMA as f64;
    let (ctroct, octwidth) = (5.0, 2.0);
    // The FFT bins' frequencies in chroma bins (`n_chroma · hz_to_octs`), bin 0 made up
    // as 1.5 octaves below bin 1.
    let mut frqbins: Vec<f64> = (1..n_fft)
        .map(|k| {
            let f = k as f64 * (sample_rate / n_fft as f64);
            n_chroma * (f / (440.0 / 16.0)).log2()
        })
        .collect();
    frqbins.insert(0, frqbins[0] - 1.5 * n_chroma);
    let binwidth: Vec<f64> = frqbins
        .windows(2)
        .map(|w| (w[1] - w[0]).max(1.0))
        .chain([1.0])
        .collect();
    let half = (n_chroma / 2.0).round();
    let mut wts = vec![0f64; N_CHROMA * n_fft];
    for (i, (&fb, &bw)) in frqbins.iter().zip(&binwidth).enumerate() {
        let mut norm2 = 0.0;
        for c in 0..N_CHROMA {
            // Distance to chroma `c`, wrapped into [−6, 6) (np.remainder: divisor's sign).
            let d = (fb - c as f64 + half + 10.0 * n_chroma).rem_euclid(n_chroma) - half;
            let w = (-0.5 * (2.0 * d / bw).powi(2)).exp();
            wts[c * n_fft + i] = w;
            norm2 += w * w;
        }
        // Column L2 norm (util.normalize leaves a column below f64's tiny as it is).
        let norm = norm2.sqrt();
        let norm = if norm < f64::MIN_POSITIVE { 1.0 } else { norm };
        let octave = (-0.5 * ((fb / n_chroma - ctroct) / octwidth).powi(2)).exp();
        for c in 0..N_CHROMA {
            wts[c * n_fft + i] = wts[c * n_fft + i] / norm * octave;
        }
    }
    // base_c: roll the rows by −3 so that row 0 is C; keep the non-aliased bins.
    let n_bins = n_fft / 2 + 1;
    let mut out = vec![0f32; N_CHROMA * n_bins];
    for c in 0..N_CHROMA {
        let from = (c + 3) % N_CHROMA;
        for k in 0..n_bins {
            out[c * n_bins + k] = wts[from * n_fft + k] as f32;
        }
    }
    out
}

/// One frame's chroma: the filterbank applied to the power spectrum, then divided by its
/// largest value (a frame whose largest value is below f32's smallest normal is left as
/// it is, as `util.normalize` does).
pub(super) fn chroma_frame(filterbank: &[f32], power: &[f32], out: &mut [f32]) {
    let n_bins = power.len();
    let mut raw = [0f64; N_CHROMA];
    for (r, row) in raw.iter_mut().zip(filterbank.chunks_exact(n_bins)) {
        *r = row
            .iter()
            .zip(power)
            .map(|(w, p)| *w as f64 * *p as f64)
            .sum();
    }
    let max = raw.iter().fold(0f64, |m, r| m.max(r.abs()));
    let max = if max < f32::MIN_POSITIVE as f64 {
        1.0
    } else {
        max
    };
    for (o, r) in out.iter_mut().zip(&raw) {
        *o = (r / max) as f32;
    }
}
