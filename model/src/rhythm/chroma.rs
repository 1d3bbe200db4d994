//! Pitch-class energy of the chroma stream's frames, handed to the key tracker.
//!
//! Each FFT bin from [`FMIN`] to [`FMAX`] (the range of bass lines and chords; higher
//! bins are mostly overtones and cymbals) adds its magnitude to the pitch class it is
//! nearest to, weighted by `cos²(π·d)` of its distance `d` (semitones) from that
//! semitone's centre, so bins between two semitones count little. Tuning is A4 = 440 Hz.
//! Magnitude (not power) keeps one loud bass note from outweighing a chord. Each class
//! is divided by its total weight (higher semitones span more bins), so white noise
//! gives a flat chroma.

use super::key::KeyTracker;
use crate::mel::{Frame, FrameSink};

/// Lowest bin frequency counted: below ~90 Hz the 5.4-Hz bins are wider than a semitone.
const FMIN: f64 = 80.0;
const FMAX: f64 = 2_000.0;

pub(super) struct ChromaSink {
    /// Per counted bin: (bin, pitch class, weight).
    bins: Vec<(usize, usize, f32)>,
    /// 1 / total weight per pitch class.
    norm: [f32; 12],
    pub(super) tracker: KeyTracker,
}

impl ChromaSink {
    pub(super) fn new(sample_rate: f64, n_fft: usize, tracker: KeyTracker) -> Self {
        let hz = sample_rate / n_fft as f64;
        let bins = (1..=n_fft / 2)
            .filter_map(|k| {
                let f = k as f64 * hz;
                if !(FMIN..=FMAX).contains(&f) {
                    return None;
                }
                // MIDI pitch; pitch class 0 = C.
                let pitch = 69.0 + 12.0 * (f / 440.0).log2();
                let nearest = pitch.round();
                let d = pitch - nearest;
                let w = (std::f64::consts::PI * d).cos().powi(2);
                Some((k, (nearest as i64).rem_euclid(12) as usize, w as f32))
            })
            .collect::<Vec<_>>();
        let mut total = [0f32; 12];
        for &(_, pc, w) in &bins {
            total[pc] += w;
        }
        let norm = total.map(|t| if t > 0.0 { 1.0 / t } else { 0.0 });
        Self {
            bins,
            norm,
            tracker,
        }
    }

    pub(super) fn reset(&mut self) {
        self.tracker.reset();
    }
}

impl FrameSink for ChromaSink {
    fn frame(&mut self, frame: Frame<'_>) {
        let mut chroma = [0f32; 12];
        for &(k, pc, w) in &self.bins {
            chroma[pc] += w * frame.power[k].sqrt();
        }
        for (c, n) in chroma.iter_mut().zip(self.norm) {
            *c *= n;
        }
        self.tracker.push(&chroma, frame.energy);
    }
}
