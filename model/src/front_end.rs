//! The stream that turns samples into the frames a card's network reads, chosen by the
//! card's front end ([`MelConfig::content`]): log-mel bands for the networks, the
//! hand-made features' rows for the classical systems. The Tagger and the trainer both
//! go through it, so what a model is trained on is what it is shown.

use crate::features::FeatureStream;
use crate::mel::{FrameContent, Mel, MelConfig, MelStream};
use crate::Result;

#[expect(
    clippy::large_enum_variant,
    reason = "one per Tagger, never in a collection: the size difference costs nothing"
)]
pub enum FrontEnd {
    Mel(MelStream),
    Features(FeatureStream),
}

impl FrontEnd {
    pub fn new(cfg: MelConfig) -> Result<Self> {
        Ok(match cfg.content {
            FrameContent::LogMel => FrontEnd::Mel(MelStream::new(cfg)?),
            FrameContent::HandFeatures => FrontEnd::Features(FeatureStream::new(cfg)?),
        })
    }

    /// Adds samples (at the config's rate) and appends every completed frame to `out`.
    pub fn push(&mut self, samples: &[f32], out: &mut Mel) {
        match self {
            FrontEnd::Mel(s) => s.push(samples, out),
            FrontEnd::Features(s) => s.push(samples, out),
        }
    }

    /// Ends the signal and emits the last frames; the stream is then ready for a new one.
    pub fn finish(&mut self, out: &mut Mel) {
        match self {
            FrontEnd::Mel(s) => s.finish(out),
            FrontEnd::Features(s) => s.finish(out),
        }
    }

    /// Forgets any buffered samples (a transport jump).
    pub fn reset(&mut self) {
        match self {
            FrontEnd::Mel(s) => s.reset(),
            FrontEnd::Features(s) => s.reset(),
        }
    }
}

/// The whole signal's frames: the stream fed everything at once, then finished.
pub fn frames(cfg: &MelConfig, samples: &[f32]) -> Result<Mel> {
    let mut stream = FrontEnd::new(cfg.clone())?;
    let mut out = Mel {
        n_mels: cfg.n_mels,
        ..Default::default()
    };
    stream.push(samples, &mut out);
    stream.finish(&mut out);
    Ok(out)
}
