//! The stream that turns samples into the frames a card's network reads, chosen by the
//! card's front end ([`FrontEndConfig::content`]): log-mel bands for the networks, the
//! hand-made features' rows for the classical systems. The Tagger and the trainer both
//! go through it, so what a model is trained on is what it is shown.
//!
//! The choice lives here, above both streams, so that `mel` and `features` stay leaves
//! that know nothing of each other's consumers.

use crate::features::{self, FeatureStream};
use crate::mel::{Mel, MelConfig, MelStream};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// What a front end's frames hold; [`FrontEnd`] picks the stream by it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameContent {
    /// `n_mels` log-mel bands ([`MelStream`]).
    #[default]
    LogMel,
    /// [`features::FRAME_ROWS`] rows of hand-made features ([`FeatureStream`]).
    HandFeatures,
}

/// A card's front end: the STFT and mel settings, and what each frame holds.
///
/// Serialised as one object (the mel settings' fields, then `content`), so cards written
/// when `content` was a field of the mel settings read unchanged, and cards written before
/// it existed read as log-mel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontEndConfig {
    #[serde(flatten)]
    pub mel: MelConfig,
    /// Log-mel bands, or the hand-made features' per-frame rows (computed on this same
    /// STFT; see [`crate::features`]).
    #[serde(default)]
    pub content: FrameContent,
}

impl From<MelConfig> for FrontEndConfig {
    /// Log-mel frames of `mel`.
    fn from(mel: MelConfig) -> Self {
        Self {
            mel,
            content: FrameContent::LogMel,
        }
    }
}

impl FrontEndConfig {
    /// The hand-made features' rows, on the STFT they are computed on
    /// ([`features::stft`]).
    pub fn hand_features() -> Self {
        Self {
            mel: features::stft(),
            content: FrameContent::HandFeatures,
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.mel.validate()?;
        if self.content == FrameContent::HandFeatures && self.mel != features::stft() {
            return Err(Error::Config(format!(
                "the hand-made features are computed on librosa's default STFT only, not {:?}",
                self.mel
            )));
        }
        Ok(())
    }
}

#[expect(
    clippy::large_enum_variant,
    reason = "one per Tagger, never in a collection: the size difference costs nothing"
)]
pub enum FrontEnd {
    Mel(MelStream),
    Features(FeatureStream),
}

impl FrontEnd {
    pub fn new(cfg: FrontEndConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(match cfg.content {
            FrameContent::LogMel => FrontEnd::Mel(MelStream::new(cfg.mel)?),
            FrameContent::HandFeatures => FrontEnd::Features(FeatureStream::new(cfg.mel)?),
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
pub fn frames(cfg: &FrontEndConfig, samples: &[f32]) -> Result<Mel> {
    let mut stream = FrontEnd::new(cfg.clone())?;
    let mut out = Mel {
        n_mels: cfg.mel.n_mels,
        ..Default::default()
    };
    stream.push(samples, &mut out);
    stream.finish(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The card's `mel` object as it was written when `content` was one of the mel
    /// settings' fields, and before it existed.
    #[test]
    fn cards_written_before_the_split_read_unchanged() {
        let mut old = serde_json::to_value(features::stft()).unwrap();
        old["content"] = "hand_features".into();
        let cfg: FrontEndConfig = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(cfg, FrontEndConfig::hand_features());
        assert_eq!(serde_json::to_value(&cfg).unwrap(), old);

        let legacy = serde_json::json!({"sample_rate": 22050, "n_fft": 2048, "hop": 512,
            "n_mels": 128, "fmin": 0.0, "fmax": null, "center": true,
            "scale": {"kind": "db", "amin": 1e-10}});
        let cfg: FrontEndConfig = serde_json::from_value(legacy).unwrap();
        assert_eq!(cfg, FrontEndConfig::from(MelConfig::seed_default()));
    }

    #[test]
    fn hand_features_on_another_stft_are_refused() {
        let cfg = FrontEndConfig {
            mel: MelConfig::musicnn(),
            content: FrameContent::HandFeatures,
        };
        let err = FrontEnd::new(cfg).err().expect("refused").to_string();
        assert!(err.contains("librosa's default STFT"), "{err}");
    }
}
