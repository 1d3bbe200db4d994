//! The onset envelope and the global tempo estimate of librosa 0.10
//! (`onset.onset_strength` with its defaults, `feature.tempo` with its defaults: an
//! 8-s autocorrelation tempogram averaged over frames, a log-normal prior around 120 BPM).

use super::N_MELS;

/// `onset_strength(S=mel_db)`: per frame, the mean over mel bands of the positive dB
/// increase from the previous frame, delayed by `lag + n_fft / (2·hop)` = 3 frames
/// (librosa's centring compensation; the first three frames are 0).
pub(super) fn onset_envelope(mel_db: &[f64], frames: usize) -> Vec<f64> {
    const DELAY: usize = 3;
    (0..frames)
        .map(|t| {
            if t < DELAY {
                return 0.0;
            }
            let sum: f64 = mel_db
                .chunks_exact(frames)
                .map(|band| (band[t - DELAY + 1] - band[t - DELAY]).max(0.0))
                .sum();
            sum / N_MELS as f64
        })
        .collect()
}

/// `feature.tempo(onset_envelope, sr, hop_length)` in BPM.
pub(super) fn tempo(onset: &[f64], sample_rate: f64, hop: usize) -> f64 {
    // time_to_frames(8.0): the autocorrelation window, 344 frames at 22 050 / 512.
    let win = (8.0 * sample_rate / hop as f64).floor() as usize;
    let tg = mean_tempogram(onset, win);
    let bpm = |k: usize| 60.0 * sample_rate / (hop as f64 * k as f64);
    // Bins faster than 320 BPM (and lag 0) are excluded; argmax keeps the first maximum.
    let first = (1..win).find(|&k| bpm(k) < 320.0).unwrap_or(win);
    let mut best = (f64::NEG_INFINITY, first.min(win - 1).max(1));
    for (k, &t) in tg.iter().enumerate().skip(first) {
        let prior = -0.5 * (bpm(k).log2() - 120f64.log2()).powi(2);
        let score = (1e6 * t).ln_1p() + prior;
        if score > best.0 {
            best = (score, k);
        }
    }
    bpm(best.1)
}

/// `tempogram(onset_envelope, win_length=win)` averaged over frames: the envelope padded
/// by `win / 2` on both sides with a linear ramp to 0, cut into `win`-frame windows
/// (hop 1, one per envelope frame), each multiplied by a periodic Hann window,
/// autocorrelated and divided by its largest value.
///
/// The autocorrelation is direct (`win · (win + 1) / 2` products per frame, ~60 k at
/// 344 lags) rather than by FFT: exact in f64, and no plan to make per call.
fn mean_tempogram(onset: &[f64], win: usize) -> Vec<f64> {
    let n = onset.len();
    let half = win / 2;
    let (first, last) = (onset.first().copied(), onset.last().copied());
    let (first, last) = (first.unwrap_or(0.0), last.unwrap_or(0.0));
    // np.pad(mode="linear_ramp", end_values=0): linspace(0, edge, half, endpoint=False).
    let padded: Vec<f64> = (0..half)
        .map(|i| first * i as f64 / half as f64)
        .chain(onset.iter().copied())
        .chain((0..half).map(|j| last * (half - 1 - j) as f64 / half as f64))
        .collect();
    let hann: Vec<f64> = (0..win)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / win as f64).cos())
        .collect();
    let mut mean = vec![0f64; win];
    let mut x = vec![0f64; win];
    let mut ac = vec![0f64; win];
    for t in 0..n {
        for ((x, p), w) in x.iter_mut().zip(&padded[t..t + win]).zip(&hann) {
            *x = p * w;
        }
        for (k, a) in ac.iter_mut().enumerate() {
            *a = x[..win - k].iter().zip(&x[k..]).map(|(a, b)| a * b).sum();
        }
        let max = ac.iter().fold(0f64, |m, a| m.max(a.abs()));
        let max = if max < f64::MIN_POSITIVE { 1.0 } else { max };
        for (m, a) in mean.iter_mut().zip(&ac) {
            *m += a / max;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
    mean
}
