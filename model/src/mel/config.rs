use serde::{Deserialize, Serialize};

/// How mel power is compressed. Part of a model's card: a network only works when fed
/// exactly what it was trained on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogScale {
    /// Raw mel power (for parity tests).
    Power,
    /// `10·log10(max(S, amin))`, librosa's `power_to_db` with `ref = 1`, no `top_db`.
    Db { amin: f32 },
    /// `log10(multiplier·S + 1)`, musicnn's compression; `f16_round` rounds `S` to
    /// float16 first, as musicnn's extractor does.
    Log10 { multiplier: f32, f16_round: bool },
}

impl LogScale {
    /// Turns compressed values into what the same audio `gain_db` louder would have given
    /// (mel power scales by the gain squared), without recomputing the spectrum: training
    /// uses it to show a model every clip at many playback levels. Exact for `Power` and
    /// `Db` (above the floor); for `Log10` with `f16_round` the power is rounded to half
    /// precision twice, a relative error below 1e-3.
    pub fn apply_gain(self, values: &mut [f32], gain_db: f32) {
        let g = 10f32.powf(gain_db / 10.0);
        match self {
            LogScale::Power => values.iter_mut().for_each(|v| *v *= g),
            LogScale::Db { amin } => {
                let floor = 10.0 * amin.log10();
                values
                    .iter_mut()
                    .for_each(|v| *v = (*v + gain_db).max(floor));
            }
            LogScale::Log10 {
                multiplier,
                f16_round,
            } => values.iter_mut().for_each(|v| {
                let p = g * (10f32.powf(*v) - 1.0).max(0.0) / multiplier;
                let p = if f16_round { f16_saturating(p) } else { p };
                *v = (multiplier * p + 1.0).log10();
            }),
        }
    }
}

/// `x` rounded to float16 as NumPy's `astype(np.float16)` does, except that a value
/// beyond float16's range (65 504: a full-scale tone's mel power) saturates instead of
/// becoming inf.
pub(crate) fn f16_saturating(x: f32) -> f32 {
    half::f16::from_f32(x.min(65_504.0)).to_f32()
}

/// Everything that decides what a mel frame contains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MelConfig {
    pub sample_rate: u32,
    pub n_fft: usize,
    pub hop: usize,
    pub n_mels: usize,
    pub fmin: f32,
    /// Upper edge in Hz; `None` means Nyquist (librosa's default).
    pub fmax: Option<f32>,
    /// librosa's `center=True`: the first frame is centred on sample 0 (zero padding).
    pub center: bool,
    pub scale: LogScale,
}

impl MelConfig {
    /// The seed papers' front end and librosa's defaults: 22 050 Hz, n_fft 2048, hop 512,
    /// 128 Slaney mel bands, power 2, dB. A 3-s window is 130 frames.
    pub fn seed_default() -> Self {
        Self {
            sample_rate: 22_050,
            n_fft: 2048,
            hop: 512,
            n_mels: 128,
            fmin: 0.0,
            fmax: None,
            center: true,
            scale: LogScale::Db { amin: 1e-10 },
        }
    }

    /// musicnn's extractor: 16 kHz, n_fft 512, hop 256, 96 mels, `log10(10000·S + 1)`.
    pub fn musicnn() -> Self {
        Self {
            sample_rate: 16_000,
            n_fft: 512,
            hop: 256,
            n_mels: 96,
            fmin: 0.0,
            fmax: None,
            center: true,
            scale: LogScale::Log10 {
                multiplier: 10_000.0,
                f16_round: true,
            },
        }
    }

    pub fn fmax_hz(&self) -> f32 {
        self.fmax.unwrap_or(self.sample_rate as f32 / 2.0)
    }

    /// Frames in a hop of `seconds` between windows: rounded to the nearest frame, at
    /// least one (a window position can only move by whole frames).
    pub fn hop_frames(&self, seconds: f32) -> usize {
        ((seconds * self.sample_rate as f32 / self.hop as f32).round() as usize).max(1)
    }

    /// Frames that cover `seconds` the way librosa counts them for a clip of that length
    /// (`1 + floor(len / hop)` with centring).
    pub fn frames_for(&self, seconds: f32) -> usize {
        let len = (seconds * self.sample_rate as f32).round() as usize;
        if self.center {
            1 + len / self.hop
        } else {
            1 + len.saturating_sub(self.n_fft) / self.hop
        }
    }

    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::Config(m));
        if self.sample_rate == 0 || self.hop == 0 || self.n_mels == 0 {
            return bad(format!(
                "sample_rate, hop and n_mels must be positive: {self:?}"
            ));
        }
        if self.n_fft < 16 || self.n_fft % 2 != 0 {
            return bad(format!(
                "n_fft must be even and at least 16, got {}",
                self.n_fft
            ));
        }
        if !(self.fmin >= 0.0
            && self.fmin < self.fmax_hz()
            && self.fmax_hz() <= self.sample_rate as f32 / 2.0)
        {
            return bad(format!(
                "need 0 <= fmin < fmax <= Nyquist, got {} .. {}",
                self.fmin,
                self.fmax_hz()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_frames_rounds_to_whole_frames_and_never_stops() {
        // 22 050 / 512 = 43.07 frames a second; 16 000 / 256 = 62.5.
        assert_eq!(MelConfig::seed_default().hop_frames(1.0), 43);
        assert_eq!(MelConfig::seed_default().hop_frames(1.5), 65);
        assert_eq!(MelConfig::musicnn().hop_frames(1.0), 63);
        assert_eq!(MelConfig::musicnn().hop_frames(2.0), 125);
        assert_eq!(MelConfig::seed_default().hop_frames(0.001), 1);
    }
}
