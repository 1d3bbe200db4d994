//! Log-mel spectrogram front end, exact to the reference each network was trained with
//! (librosa for the seed CNN and musicnn, torch/torchaudio for EfficientAT).
//!
//! One implementation, [`MelStream`], serves both uses: the batch function below is the
//! stream fed everything at once and then finished, so streaming == batch by construction
//! (and a test checks it for random chunkings).

mod config;
mod edges;
mod filters;
mod stream;

pub use config::{LogScale, MelBanks, MelConfig, PadMode, WindowKind};
pub use filters::{filterbank, hann_periodic, hann_symmetric, kaldi_filterbank, mel_filterbank};
pub use stream::MelStream;
pub(crate) use stream::{Frame, FrameSink};

/// A log-mel spectrogram, frame-major: `data[frame * n_mels + mel]`.
#[derive(Debug, Clone, Default)]
pub struct Mel {
    pub n_mels: usize,
    pub data: Vec<f32>,
    /// Mean square of the raw (unwindowed) samples under each frame: a level meter
    /// for silence detection that does not depend on the mel scaling.
    pub energy: Vec<f32>,
}

impl Mel {
    pub fn frames(&self) -> usize {
        self.data.len().checked_div(self.n_mels).unwrap_or(0)
    }
    pub fn frame(&self, i: usize) -> &[f32] {
        &self.data[i * self.n_mels..(i + 1) * self.n_mels]
    }
}

/// The whole-signal log-mel spectrogram (librosa's `melspectrogram`, or torch's STFT and
/// Kaldi banks, + the configured log).
pub fn mel_spectrogram(cfg: &MelConfig, samples: &[f32]) -> crate::Result<Mel> {
    let mut stream = MelStream::new(cfg.clone())?;
    let mut out = Mel {
        n_mels: cfg.n_mels,
        ..Default::default()
    };
    stream.push(samples, &mut out);
    stream.finish(&mut out);
    Ok(out)
}
