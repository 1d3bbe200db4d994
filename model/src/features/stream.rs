//! Per-frame features, streamed (see the module doc of `features`).

use super::chroma::{chroma_filterbank, chroma_frame};
use super::contrast::Contrast;
use super::spectral::{centroid, rolloff};
use super::zcr::Zcr;
use super::{FRAME_ROWS, N_CHROMA, N_CONTRAST, N_MELS};
use crate::mel::{Frame, FrameSink, LogScale, Mel, MelConfig, MelStream};

/// Streaming per-frame features, with [`MelStream`](crate::mel::MelStream)'s interface:
/// chunks of any size in, each frame's [`FRAME_ROWS`] rows (and its energy) appended to
/// `out` as soon as its last sample has arrived.
///
/// The STFT, framing and centring are [`MelStream`]'s own (configured for mel power), so
/// the mel rows and the energy are bit for bit what a mel front end gives; the other rows
/// are derived from each frame's power spectrum and raw samples. Everything is allocated
/// in [`FeatureStream::new`]; `push` only grows `out` and the mel stream's sample buffer.
pub struct FeatureStream {
    cfg: MelConfig,
    mel: MelStream,
    rows: FrameRows,
}

/// Everything that turns one frame's spectrum into its rows.
struct FrameRows {
    hop: usize,
    /// `[N_CHROMA][n_bins]`.
    chroma: Vec<f32>,
    contrast: Contrast,
    zcr: Zcr,
    /// The bins' frequencies (`np.fft.rfftfreq`).
    freqs: Vec<f64>,
    /// `|X|` of the frame.
    mag: Vec<f32>,
    /// The frame's rows, in [`FRAME_ROWS`] order.
    row: Vec<f32>,
}

impl FrameRows {
    fn fill(&mut self, frame: &Frame<'_>) {
        for (m, p) in self.mag.iter_mut().zip(frame.power) {
            *m = p.sqrt();
        }
        let (mel, rest) = self.row.split_at_mut(N_MELS);
        mel.copy_from_slice(frame.bands);
        let (chroma, rest) = rest.split_at_mut(N_CHROMA);
        chroma_frame(&self.chroma, frame.power, chroma);
        rest[0] = centroid(&self.freqs, &self.mag);
        rest[1] = rolloff(&self.freqs, &self.mag);
        let (peaks, rest) = rest[2..].split_at_mut(N_CONTRAST);
        let (valleys, rest) = rest.split_at_mut(N_CONTRAST);
        self.contrast.frame(&self.mag, peaks, valleys);
        rest[0] = self.zcr.frame(frame.raw, self.hop);
    }
}

/// Hands each frame of the mel stream to the rows, then to the output.
struct Sink<'a> {
    rows: &'a mut FrameRows,
    out: &'a mut Mel,
}

impl FrameSink for Sink<'_> {
    fn frame(&mut self, frame: Frame<'_>) {
        self.rows.fill(&frame);
        self.out.energy.push(frame.energy);
        self.out.data.extend_from_slice(&self.rows.row);
    }
}

impl FeatureStream {
    /// `cfg` must be [`super::stft`] (the card stores it; anything else is refused).
    pub fn new(cfg: MelConfig) -> crate::Result<Self> {
        if cfg != super::stft() {
            return Err(crate::Error::Config(format!(
                "the hand-made features are computed on librosa's default STFT, not {cfg:?}"
            )));
        }
        let mel_cfg = MelConfig {
            n_mels: N_MELS,
            scale: LogScale::Power,
            ..cfg.clone()
        };
        let n_bins = cfg.n_fft / 2 + 1;
        let sr = cfg.sample_rate as f64;
        // np.fft.rfftfreq(n_fft, 1/sr): k · (1 / (n_fft · (1/sr))).
        let step = 1.0 / (cfg.n_fft as f64 * (1.0 / sr));
        let freqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * step).collect();
        let rows = FrameRows {
            hop: cfg.hop,
            chroma: chroma_filterbank(sr, cfg.n_fft),
            contrast: Contrast::new(&freqs),
            zcr: Zcr::default(),
            freqs,
            mag: vec![0.0; n_bins],
            row: vec![0.0; FRAME_ROWS],
        };
        Ok(Self {
            mel: MelStream::new(mel_cfg)?,
            rows,
            cfg,
        })
    }

    pub fn config(&self) -> &MelConfig {
        &self.cfg
    }

    /// Adds samples (at 22 050 Hz) and appends every completed frame to `out`.
    pub fn push(&mut self, samples: &[f32], out: &mut Mel) {
        self.rows.zcr.push(samples);
        let mut sink = Sink {
            rows: &mut self.rows,
            out,
        };
        self.mel.push_into(samples, &mut sink);
    }

    /// Ends the signal: pads the tail and emits the last frames; ready for a new signal.
    pub fn finish(&mut self, out: &mut Mel) {
        self.rows.zcr.end();
        let mut sink = Sink {
            rows: &mut self.rows,
            out,
        };
        self.mel.finish_into(&mut sink);
        self.rows.zcr.reset();
    }

    /// Forgets any buffered samples.
    pub fn reset(&mut self) {
        self.mel.reset();
        self.rows.zcr.reset();
    }
}
