//! Getting audio into the one shape the rest of the crate wants: mono `f32` at a known rate.

mod au;
mod decode;
mod resample;

pub use decode::{decode_bytes, decode_file, decode_file_head};
pub use resample::{resample, StreamResampler, MAX_RATE, MIN_RATE};

/// Decoded mono audio.
#[derive(Debug, Clone)]
pub struct Audio {
    /// Mono samples (channels averaged), nominally in [-1, 1]. Never NaN or infinite:
    /// such samples are replaced by 0 and counted in `non_finite`.
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    /// Channel count of the source before the downmix.
    pub source_channels: usize,
    /// How many source samples were NaN or infinite (and were zeroed).
    pub non_finite: usize,
    /// Things that went wrong without losing the file (skipped corrupt packets, a
    /// truncated tail): shown to the user, never silently dropped.
    pub warnings: Vec<String>,
}

impl Audio {
    pub fn duration_s(&self) -> f32 {
        self.samples.len() as f32 / self.sample_rate as f32
    }
}

/// Averages interleaved frames to mono and zeroes non-finite samples; returns how many
/// samples were non-finite. Averaging (not summing) keeps a centred stereo source at the
/// level of its mono fold-down, so level-dependent thresholds mean the same for both.
pub fn downmix_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) -> usize {
    let mut bad = 0;
    let scale = 1.0 / channels as f32;
    for frame in interleaved.chunks_exact(channels) {
        let mut acc = 0.0;
        for &s in frame {
            if s.is_finite() {
                acc += s;
            } else {
                bad += 1;
            }
        }
        out.push(acc * scale);
    }
    bad
}

/// Replaces NaN/inf in place by 0 and returns how many there were.
pub fn sanitize(samples: &mut [f32]) -> usize {
    let mut bad = 0;
    for s in samples.iter_mut() {
        if !s.is_finite() {
            *s = 0.0;
            bad += 1;
        }
    }
    bad
}
