//! The onset envelope: per frame, the mean over mel bands of the positive increase of the
//! compressed band energy from the previous frame (spectral flux, as librosa's
//! `onset_strength` and Böck's detectors compute it), handed to the tempo tracker with
//! the frame's level.

use super::tempo::TempoTracker;
use crate::mel::{Frame, FrameSink};

pub(super) struct OnsetSink {
    prev: Vec<f32>,
    have_prev: bool,
    pub(super) tracker: TempoTracker,
}

impl OnsetSink {
    pub(super) fn new(n_bands: usize, tracker: TempoTracker) -> Self {
        Self {
            prev: vec![0.0; n_bands],
            have_prev: false,
            tracker,
        }
    }

    pub(super) fn reset(&mut self) {
        self.have_prev = false;
        self.tracker.reset();
    }
}

impl FrameSink for OnsetSink {
    fn frame(&mut self, frame: Frame<'_>) {
        let flux = if self.have_prev {
            let sum: f32 = frame
                .bands
                .iter()
                .zip(&self.prev)
                .map(|(b, p)| (b - p).max(0.0))
                .sum();
            sum / frame.bands.len() as f32
        } else {
            0.0
        };
        self.prev.copy_from_slice(frame.bands);
        self.have_prev = true;
        self.tracker.push(flux, frame.energy);
    }
}
