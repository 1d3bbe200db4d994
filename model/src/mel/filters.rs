//! The mel filterbanks and windows the networks were trained with, reproduced exactly
//! (same formulas, in the precision the reference computes them in), because a network
//! must see the numbers it was trained on: librosa's (f64, rounded to f32) and
//! torch/torchaudio's (f32 throughout).

use super::{MelBanks, MelConfig, WindowKind};

/// The configured filterbank, `[n_mels][1 + n_fft/2]` row-major.
pub fn filterbank(cfg: &MelConfig) -> Vec<f32> {
    match cfg.banks {
        MelBanks::Slaney => mel_filterbank(cfg),
        MelBanks::Kaldi => kaldi_filterbank(cfg),
    }
}

/// The configured analysis window, `n_fft` samples.
pub fn window(cfg: &MelConfig) -> Vec<f32> {
    match cfg.window {
        WindowKind::HannPeriodic => hann_periodic(cfg.n_fft),
        WindowKind::HannSymmetric { length } => {
            let mut w = vec![0.0; cfg.n_fft];
            let left = (cfg.n_fft - length) / 2;
            w[left..left + length].copy_from_slice(&hann_symmetric(length));
            w
        }
    }
}

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

/// `torch.hann_window(n, periodic=False)`, in f32 as torch computes it:
/// `0.5 − 0.5·cos(i · (2π/(n−1)))` with the angle step rounded to f32 first.
pub fn hann_symmetric(n: usize) -> Vec<f32> {
    let step = (2.0 * std::f64::consts::PI / (n - 1) as f64) as f32;
    (0..n)
        .map(|i| (i as f32 * step).cos() * -0.5 + 0.5)
        .collect()
}

/// Kaldi's mel scale, as torchaudio evaluates it on f32 tensors.
fn kaldi_mel(f: f32) -> f32 {
    1127.0 * (1.0 + f / 700.0).ln()
}

/// `torchaudio.compliance.kaldi.get_mel_banks(n_mels, n_fft, sr, fmin, fmax, …)` with no
/// VTLN warp, then a zero column for the Nyquist bin (as EfficientAT pads it):
/// `[n_mels][1 + n_fft/2]`. Band `m` is a triangle of peak 1 on the Kaldi mel scale
/// between the equally spaced mel points `m` and `m + 2`. torchaudio computes the band
/// edges in f64 and everything per bin in f32; so does this.
pub fn kaldi_filterbank(cfg: &MelConfig) -> Vec<f32> {
    let n_bins = cfg.n_fft / 2 + 1;
    let mel_of = |f: f64| 1127.0 * (1.0 + f / 700.0).ln();
    let (lo, hi) = (mel_of(cfg.fmin as f64), mel_of(cfg.fmax_hz() as f64));
    let delta = ((hi - lo) / (cfg.n_mels + 1) as f64) as f32;
    let lo = lo as f32;
    let bin_width = (cfg.sample_rate as f64 / cfg.n_fft as f64) as f32;
    let mut w = vec![0f32; cfg.n_mels * n_bins];
    for m in 0..cfg.n_mels {
        let left = lo + m as f32 * delta;
        let center = lo + (m as f32 + 1.0) * delta;
        let right = lo + (m as f32 + 2.0) * delta;
        // The last bin (Nyquist) stays 0: Kaldi's banks cover n_fft/2 bins.
        for k in 0..n_bins - 1 {
            let mel = kaldi_mel(bin_width * k as f32);
            let up = (mel - left) / (center - left);
            let down = (right - mel) / (right - center);
            w[m * n_bins + k] = up.min(down).max(0.0);
        }
    }
    w
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

    #[test]
    fn kaldi_banks_are_unit_peak_triangles_that_leave_nyquist_out() {
        let cfg = MelConfig::efficientat();
        let w = kaldi_filterbank(&cfg);
        let n_bins = cfg.n_fft / 2 + 1;
        assert_eq!(w.len(), 128 * n_bins);
        for m in 0..cfg.n_mels {
            let row = &w[m * n_bins..(m + 1) * n_bins];
            assert_eq!(row[n_bins - 1], 0.0);
            let peak = row.iter().cloned().fold(0.0, f32::max);
            // Bands narrower than a few bins (31.25 Hz each) peak between bins.
            assert!(peak > 0.0 && peak <= 1.0, "band {m}: peak {peak}");
            if m >= 100 {
                assert!(peak > 0.9, "band {m}: peak {peak}");
            }
        }
        // Nothing above fmax = 15 kHz (bin 480).
        assert!((481..n_bins).all(|k| (0..cfg.n_mels).all(|m| w[m * n_bins + k] == 0.0)));
    }

    #[test]
    fn symmetric_hann_is_centred_in_the_frame() {
        let cfg = MelConfig::efficientat();
        let w = window(&cfg);
        assert_eq!(w.len(), 1024);
        assert!(w[..112].iter().chain(&w[912..]).all(|&x| x == 0.0));
        assert_eq!(w[112], 0.0);
        assert_eq!(w[911], 0.0);
        for i in 0..400 {
            assert!((w[112 + i] - w[911 - i]).abs() < 1e-6);
        }
        assert!((w[112 + 399] - 1.0).abs() < 1e-5);
    }
}
