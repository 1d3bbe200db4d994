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
    /// `(ln(S + eps) + shift) / divisor`: EfficientAT's log and its "fast normalisation"
    /// (`(ln(S + 1e-5) + 4.5) / 5`).
    Ln { eps: f32, shift: f32, divisor: f32 },
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
            LogScale::Ln {
                eps,
                shift,
                divisor,
            } => values.iter_mut().for_each(|v| {
                let p = g * ((*v * divisor - shift).exp() - eps).max(0.0);
                *v = ((p + eps).ln() + shift) / divisor;
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

/// How a centred stream's first and last frames see beyond the signal's ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PadMode {
    /// Zeros (librosa ≥ 0.10's default).
    #[default]
    Zero,
    /// The signal mirrored about its first and last samples, without repeating them
    /// (`torch.stft`'s default, `x[2] x[1] | x[0] x[1] …`).
    Reflect,
}

/// The analysis window, `n_fft` samples long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WindowKind {
    /// The periodic Hann window of `n_fft` samples (librosa's, scipy's `fftbins=True`).
    #[default]
    HannPeriodic,
    /// A symmetric Hann window of `length ≤ n_fft` samples (`torch.hann_window(length,
    /// periodic=False)`), centred in the frame with zeros either side, as `torch.stft`
    /// pads a `win_length` window to `n_fft`.
    HannSymmetric { length: usize },
}

/// How the mel bands are laid out over the FFT bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MelBanks {
    /// librosa's `filters.mel`: Slaney's scale and area normalisation.
    #[default]
    Slaney,
    /// Kaldi's (`torchaudio.compliance.kaldi.get_mel_banks`): `mel = 1127·ln(1 + f/700)`,
    /// unnormalised triangles of peak 1, and nothing from the Nyquist bin.
    Kaldi,
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
    /// librosa's `center=True`: the first frame is centred on sample 0, `n_fft/2`
    /// samples of [`PadMode`] before it (and after the last sample).
    pub center: bool,
    pub scale: LogScale,
    /// What the centring pads with. (The fields below default to the librosa front end's
    /// choices, so cards written before they existed read unchanged.)
    #[serde(default)]
    pub pad: PadMode,
    #[serde(default)]
    pub window: WindowKind,
    #[serde(default)]
    pub banks: MelBanks,
    /// Pre-emphasis coefficient `c`: the signal becomes `x[n] − c·x[n−1]`, one sample
    /// shorter (the first sample has no predecessor), before anything else.
    #[serde(default)]
    pub preemphasis: Option<f32>,
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
            pad: PadMode::Zero,
            window: WindowKind::HannPeriodic,
            banks: MelBanks::Slaney,
            preemphasis: None,
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
            pad: PadMode::Zero,
            window: WindowKind::HannPeriodic,
            banks: MelBanks::Slaney,
            preemphasis: None,
        }
    }

    /// EfficientAT's `AugmentMelSTFT` in eval mode (Schmid, Koutini & Widmer, ICASSP
    /// 2023): 32 kHz, pre-emphasis 0.97, `torch.stft` with n_fft 1024, an 800-sample
    /// symmetric Hann window, hop 320, centred with reflect padding; power; 128 Kaldi mel
    /// bands over 0–15 000 Hz; `(ln(S + 1e-5) + 4.5) / 5`. 3 s of audio is 300 frames.
    pub fn efficientat() -> Self {
        Self {
            sample_rate: 32_000,
            n_fft: 1024,
            hop: 320,
            n_mels: 128,
            fmin: 0.0,
            // The model was trained with `fmax` unset, which AugmentMelSTFT turns into
            // sr/2 − 1000 (half its augmentation range).
            fmax: Some(15_000.0),
            center: true,
            scale: LogScale::Ln {
                eps: 1e-5,
                shift: 4.5,
                divisor: 5.0,
            },
            pad: PadMode::Reflect,
            window: WindowKind::HannSymmetric { length: 800 },
            banks: MelBanks::Kaldi,
            preemphasis: Some(0.97),
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
    /// (`1 + floor(len / hop)` with centring; `len` one less after pre-emphasis).
    pub fn frames_for(&self, seconds: f32) -> usize {
        let len = (seconds * self.sample_rate as f32).round() as usize;
        let len = if self.preemphasis.is_some() {
            len.saturating_sub(1)
        } else {
            len
        };
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
        if self.n_fft < 16 || !self.n_fft.is_multiple_of(2) {
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
        if let WindowKind::HannSymmetric { length } = self.window {
            if !(2..=self.n_fft).contains(&length) {
                return bad(format!(
                    "window length must be in 2..={}, got {length}",
                    self.n_fft
                ));
            }
        }
        if let Some(c) = self.preemphasis {
            if !c.is_finite() {
                return bad(format!("pre-emphasis coefficient must be finite, got {c}"));
            }
        }
        if let LogScale::Ln { eps, divisor, .. } = self.scale {
            if !(eps > 0.0 && divisor.is_finite() && divisor != 0.0) {
                return bad(format!(
                    "ln scale needs eps > 0 and a finite non-zero divisor, got {:?}",
                    self.scale
                ));
            }
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
