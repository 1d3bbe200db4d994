//! Cutting 3-s windows out of mel frames and normalising them the way the networks expect.

use serde::{Deserialize, Serialize};

/// How a window is normalised before the network sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowNorm {
    /// Leave values as the mel front end made them.
    None,
    /// Subtract the window's mean and divide by its standard deviation, so the tag does
    /// not depend on playback gain (a gain is a constant offset in dB).
    Standardize,
}

/// Normalises one window in place.
pub fn normalize(window: &mut [f32], norm: WindowNorm) {
    if norm == WindowNorm::None || window.is_empty() {
        return;
    }
    let n = window.len() as f64;
    let mean = window.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = window
        .iter()
        .map(|&x| (x as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    // A constant window (digital silence) has std 0: map it to zeros, not NaN.
    let inv = if var > 1e-12 { 1.0 / var.sqrt() } else { 0.0 };
    for x in window.iter_mut() {
        *x = ((*x as f64 - mean) * inv) as f32;
    }
}

/// Where the whole windows of `frames` frames in `total` start: from frame 0, every `hop`
/// frames (at least 1: [`MelConfig::hop_frames`](crate::mel::MelConfig::hop_frames)
/// rounds up to it).
pub fn window_starts(total: usize, frames: usize, hop: usize) -> impl Iterator<Item = usize> {
    (0..)
        .step_by(hop.max(1))
        .take_while(move |&start| start + frames <= total)
}

/// Copies frames `start..start + frames` of a frame-major mel into a mel-major
/// `[n_mels][frames]` window (the layout the networks take: mel bands are image rows).
pub fn copy_window(mel: &[f32], n_mels: usize, start: usize, frames: usize, out: &mut Vec<f32>) {
    out.clear();
    out.resize(n_mels * frames, 0.0);
    for t in 0..frames {
        let f = &mel[(start + t) * n_mels..(start + t + 1) * n_mels];
        for (m, &v) in f.iter().enumerate() {
            out[m * frames + t] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardize_removes_gain() {
        let a: Vec<f32> = (0..100)
            .map(|i| (i as f32 * 0.37).sin() * 20.0 - 40.0)
            .collect();
        let b: Vec<f32> = a.iter().map(|x| x + 12.0).collect(); // +12 dB of gain
        let (mut a, mut b) = (a, b);
        normalize(&mut a, WindowNorm::Standardize);
        normalize(&mut b, WindowNorm::Standardize);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5);
        }
        let mean: f32 = a.iter().sum::<f32>() / 100.0;
        let var: f32 = a.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / 100.0;
        assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4);
    }

    #[test]
    fn constant_window_becomes_zeros_not_nan() {
        let mut w = vec![-100.0f32; 64];
        normalize(&mut w, WindowNorm::Standardize);
        assert!(w.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn window_starts_are_every_whole_window() {
        assert_eq!(window_starts(10, 4, 3).collect::<Vec<_>>(), vec![0, 3, 6]);
        assert_eq!(window_starts(3, 4, 1).count(), 0);
        assert_eq!(window_starts(4, 4, 2).collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn copy_window_transposes() {
        // 3 frames of 2 mels: frame-major [f0m0, f0m1, f1m0, ...]
        let mel = [0.0, 1.0, 10.0, 11.0, 20.0, 21.0];
        let mut out = Vec::new();
        copy_window(&mel, 2, 1, 2, &mut out);
        assert_eq!(out, vec![10.0, 20.0, 11.0, 21.0]);
    }
}
