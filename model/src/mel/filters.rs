//! librosa's mel filterbank and window, reproduced exactly (same formulas, computed in
//! f64 and rounded to f32 as librosa does), because a network trained on librosa features
//! must see the same numbers here.

use super::MelConfig;

/// Slaney's auditory scale as librosa implements it (`htk=False`): linear below 1 kHz,
/// logarithmic above.
fn hz_to_mel(f: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = (6.4f64).ln() / 27.0;
    if f >= min_log_hz {
        min_log_mel + (f / min_log_hz).ln() / logstep
    } else {
        f / f_sp
    }
}

fn mel_to_hz(m: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = (6.4f64).ln() / 27.0;
    if m >= min_log_mel {
        min_log_hz * (logstep * (m - min_log_mel)).exp()
    } else {
        f_sp * m
    }
}

/// `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)` with Slaney normalisation:
/// `[n_mels][1 + n_fft/2]`, row-major.
pub fn mel_filterbank(cfg: &MelConfig) -> Vec<f32> {
    let n_bins = cfg.n_fft / 2 + 1;
    let sr = cfg.sample_rate as f64;
    let fft_freqs: Vec<f64> = (0..n_bins)
        .map(|k| k as f64 * sr / cfg.n_fft as f64)
        .collect();
    let (mlo, mhi) = (hz_to_mel(cfg.fmin as f64), hz_to_mel(cfg.fmax_hz() as f64));
    let n = cfg.n_mels + 2;
    let mel_f: Vec<f64> = (0..n)
        .map(|i| mel_to_hz(mlo + (mhi - mlo) * i as f64 / (n - 1) as f64))
        .collect();
    let mut w = vec![0f32; cfg.n_mels * n_bins];
    for m in 0..cfg.n_mels {
        let (lo_d, hi_d) = (mel_f[m + 1] - mel_f[m], mel_f[m + 2] - mel_f[m + 1]);
        let enorm = 2.0 / (mel_f[m + 2] - mel_f[m]);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - mel_f[m]) / lo_d;
            let upper = (mel_f[m + 2] - f) / hi_d;
            w[m * n_bins + k] = (lower.min(upper).max(0.0) * enorm) as f32;
        }
    }
    w
}

/// scipy's `get_window('hann', n, fftbins=True)`: the periodic Hann window librosa uses.
pub fn hann_periodic(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips_and_is_linear_below_1khz() {
        for f in [0.0, 100.0, 999.0, 1000.0, 4000.0, 11025.0] {
            assert!((mel_to_hz(hz_to_mel(f)) - f).abs() < 1e-6);
        }
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-12);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn filters_are_triangles_with_slaney_area() {
        let cfg = MelConfig::seed_default();
        let w = mel_filterbank(&cfg);
        let n_bins = cfg.n_fft / 2 + 1;
        for m in 0..cfg.n_mels {
            let row = &w[m * n_bins..(m + 1) * n_bins];
            assert!(row.iter().all(|&x| x >= 0.0));
            assert!(row.iter().any(|&x| x > 0.0), "band {m} is empty");
        }
        // Slaney norm makes each triangle's area (in Hz) equal to 1.
        let df = cfg.sample_rate as f32 / cfg.n_fft as f32;
        let area: f32 = w[60 * n_bins..61 * n_bins].iter().sum::<f32>() * df;
        assert!((area - 1.0).abs() < 0.05, "area {area}");
    }
}
