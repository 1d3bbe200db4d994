//! Per-frame features, streamed (see the module doc of `features`).

use super::FRAME_ROWS;
use crate::mel::{Mel, MelConfig};

/// Streaming per-frame features, with [`MelStream`](crate::mel::MelStream)'s interface:
/// chunks of any size in, each frame's [`FRAME_ROWS`] rows (and its energy) appended to
/// `out` as soon as its last sample has arrived.
pub struct FeatureStream {
    cfg: MelConfig,
}

impl FeatureStream {
    /// `cfg` must be [`super::front_end`] (the card stores it; anything else is refused).
    pub fn new(cfg: MelConfig) -> crate::Result<Self> {
        if cfg != super::front_end() {
            return Err(crate::Error::Config(format!(
                "the hand-made features are computed on librosa's default STFT, not {cfg:?}"
            )));
        }
        Ok(Self { cfg })
    }

    pub fn config(&self) -> &MelConfig {
        &self.cfg
    }

    /// Adds samples (at 22 050 Hz) and appends every completed frame to `out`.
    pub fn push(&mut self, samples: &[f32], out: &mut Mel) {
        let _ = (samples, out, FRAME_ROWS);
        todo!("helper")
    }

    /// Ends the signal: pads the tail and emits the last frames; ready for a new signal.
    pub fn finish(&mut self, out: &mut Mel) {
        let _ = out;
        todo!("helper")
    }

    /// Forgets any buffered samples.
    pub fn reset(&mut self) {
        todo!("helper")
    }
}

/// The whole signal's frames (the stream fed everything at once, then finished).
pub fn frame_features(samples: &[f32]) -> crate::Result<Mel> {
    let mut stream = FeatureStream::new(super::front_end())?;
    let mut out = Mel {
        n_mels: FRAME_ROWS,
        ..Default::default()
    };
    stream.push(samples, &mut out);
    stream.finish(&mut out);
    Ok(out)
}
