//! Tempo and key over a whole file: the readings [`Rhythm`] shows as the file plays, one
//! per block, and one answer for the file voted from them.
//!
//! The answer is a vote, not the last reading: the live trackers forget (10 s of onsets,
//! 20 s of chroma), so the last reading describes the file's end (an outro, a fade, a
//! breakdown), and a song that modulates or changes tempo has no single last word. Each
//! reading votes with its confidence: tempi within [`SAME_TEMPO`] of each other are one
//! tempo, keys vote as themselves.

use super::tempo::{MAX_BPM, MIN_BPM};
use super::{Key, Rhythm, Tempo};
use crate::Result;

/// Seconds of audio per push, as the plugin's worker feeds it: readings are this far apart.
pub const BLOCK_S: f64 = 0.1;
/// Tempi within this relative distance of the winner count for it (the trackers' own
/// "same tempo").
pub const SAME_TEMPO: f64 = 0.04;

/// What the trackers showed at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Seconds of input seen when the reading was taken.
    pub time_s: f64,
    pub tempo: Option<Tempo>,
    pub key: Option<Key>,
}

/// Every block's reading for one stream, in time order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RhythmTimeline {
    readings: Vec<Reading>,
}

impl RhythmTimeline {
    /// Streams `samples` (mono, at `rate` Hz) through a [`Rhythm`] in [`BLOCK_S`] blocks
    /// and keeps the reading after each.
    pub fn analyse(samples: &[f32], rate: u32) -> Result<Self> {
        Ok(Self::analyse_keeping(samples, rate)?.0)
    }

    /// [`Self::analyse`], also handing back the trackers as the stream left them (what a
    /// live view shows at the end, e.g. for other key profiles), so that a caller needing
    /// both streams the audio once.
    pub fn analyse_keeping(samples: &[f32], rate: u32) -> Result<(Self, Rhythm)> {
        let mut r = Rhythm::new(rate)?;
        let block = ((rate as f64 * BLOCK_S).round() as usize).max(1);
        let mut readings = Vec::with_capacity(samples.len() / block + 1);
        let mut seen = 0usize;
        for chunk in samples.chunks(block) {
            r.push(chunk)?;
            seen += chunk.len();
            readings.push(Reading {
                time_s: seen as f64 / rate as f64,
                tempo: r.tempo(),
                key: r.key(),
            });
        }
        Ok((Self { readings }, r))
    }

    pub fn readings(&self) -> &[Reading] {
        &self.readings
    }

    /// The reading shown at `time_s`: the last one taken at or before it (`None` before
    /// the first block ended).
    pub fn at(&self, time_s: f64) -> Option<&Reading> {
        let n = self.readings.partition_point(|r| r.time_s <= time_s + 1e-9);
        n.checked_sub(1).map(|i| &self.readings[i])
    }

    /// The file's tempo: the one with the largest confidence-weighted vote, tempi within
    /// [`SAME_TEMPO`] counting as one. Its `bpm` is the weighted mean of the readings that
    /// voted for it; its `confidence` is their summed confidence over the number of
    /// readings that showed any tempo (mean periodicity × agreement). `None` when no
    /// reading showed a tempo.
    pub fn overall_tempo(&self) -> Option<Tempo> {
        let tempi: Vec<Tempo> = self.readings.iter().filter_map(|r| r.tempo).collect();
        if tempi.is_empty() {
            return None;
        }
        // A histogram on a log grid 1 % apart, then the window of ±SAME_TEMPO with the
        // most weight: linear in the readings (a pairwise vote over an hour's 36 000
        // readings would be a billion comparisons).
        const STEP: f64 = 0.01;
        let bins = ((MAX_BPM / MIN_BPM).ln() / STEP.ln_1p()).ceil() as usize + 1;
        let bin = |bpm: f32| {
            (((bpm as f64).clamp(MIN_BPM, MAX_BPM) / MIN_BPM).ln() / STEP.ln_1p()).round() as usize
        };
        let mut weight = vec![0.0f64; bins];
        for t in &tempi {
            weight[bin(t.bpm).min(bins - 1)] += vote(t.confidence);
        }
        let reach = (SAME_TEMPO.ln_1p() / STEP.ln_1p()).floor() as usize;
        let window = |c: usize| {
            weight[c.saturating_sub(reach)..(c + reach + 1).min(bins)]
                .iter()
                .sum::<f64>()
        };
        let centre = (0..bins).max_by(|&a, &b| window(a).total_cmp(&window(b)))?;
        let centre_bpm = MIN_BPM * (1.0 + STEP).powi(centre as i32);
        let (mut w_sum, mut bpm_sum) = (0.0f64, 0.0f64);
        for t in &tempi {
            if (t.bpm as f64 / centre_bpm - 1.0).abs() <= SAME_TEMPO + STEP {
                w_sum += vote(t.confidence);
                bpm_sum += vote(t.confidence) * t.bpm as f64;
            }
        }
        (w_sum > 0.0).then(|| Tempo {
            bpm: (bpm_sum / w_sum) as f32,
            confidence: (w_sum / tempi.len() as f64).clamp(0.0, 1.0) as f32,
        })
    }

    /// The file's key: the one with the largest confidence-weighted vote; its confidence
    /// is that vote over the number of readings that showed any key. `None` when no
    /// reading showed a key.
    pub fn overall_key(&self) -> Option<Key> {
        let mut weight = [0.0f64; 24];
        let mut shown = 0usize;
        for k in self.readings.iter().filter_map(|r| r.key) {
            weight[k.index() as usize] += vote(k.confidence);
            shown += 1;
        }
        let best = (0..24).max_by(|&a, &b| weight[a].total_cmp(&weight[b]))?;
        if shown == 0 || weight[best] <= 0.0 {
            return None;
        }
        Key::from_index(
            best as u8,
            (weight[best] / shown as f64).clamp(0.0, 1.0) as f32,
        )
    }
}

/// A reading's vote: its confidence, with a floor so that a run of low-confidence readings
/// still outvotes a single confident one.
fn vote(confidence: f32) -> f64 {
    (confidence as f64).clamp(0.0, 1.0).max(0.01)
}
