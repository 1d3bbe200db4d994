//! Decoding every clip once and keeping its whole log-mel spectrogram in memory, so that
//! each epoch's random 3-s crops cost a memcpy instead of a decode + FFT.

use super::{Clip, Observer};
use crate::audio::{decode_file, resample};
use crate::front_end::FrontEndConfig;
use crate::mel::Mel;
use crate::Result;

pub struct ClipFeatures {
    pub clip: Clip,
    /// Frame-major log-mel of the whole clip.
    pub mel: Mel,
}

/// Decodes, resamples and analyses `clips`. A clip that cannot be read, is silent, or is
/// shorter than one window is skipped with a warning naming it; the rest go on.
pub fn load_features(
    clips: &[Clip],
    cfg: &FrontEndConfig,
    window_frames: usize,
    obs: &mut dyn Observer,
) -> Result<Vec<ClipFeatures>> {
    obs.stage("decoding + mel", clips.len());
    let mut out = Vec::with_capacity(clips.len());
    for clip in clips {
        obs.tick(&clip.key());
        match one(clip, cfg) {
            Ok(mel) if mel.frames() < window_frames => obs.warn(&format!(
                "skipping {}: {} frames is shorter than one {}-frame window",
                clip.path.display(),
                mel.frames(),
                window_frames
            )),
            Ok(mel) if mel.energy.iter().all(|&e| e == 0.0) => obs.warn(&format!(
                "skipping {}: digital silence",
                clip.path.display()
            )),
            Ok(mel) => out.push(ClipFeatures {
                clip: clip.clone(),
                mel,
            }),
            Err(e) => obs.warn(&format!("skipping {}: {e}", clip.path.display())),
        }
    }
    obs.stage_done();
    Ok(out)
}

fn one(clip: &Clip, cfg: &FrontEndConfig) -> Result<Mel> {
    let audio = decode_file(&clip.path)?;
    let samples = resample(&audio.samples, audio.sample_rate, cfg.mel.sample_rate)?;
    crate::front_end::frames(cfg, &samples)
}
