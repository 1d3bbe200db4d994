//! The fifth seed paper's hand-made features (Tzanetakis & Cook's tradition, as librosa
//! computes them): MFCC, chroma, spectral centroid, contrast and roll-off, zero-crossing
//! rate — each summarised over a window by mean, standard deviation and skew — and the
//! window's tempo. Every value matches librosa 0.10 (`model/tests/features_parity.rs`,
//! fixture made by `model/tests/fixtures/make_features_fixture.py`).
//!
//! Two stages, so the Tagger can stream it like a mel front end:
//! - [`FeatureStream`]: per STFT frame, the frame-local quantities ([`FRAME_ROWS`] rows:
//!   mel power, chroma, centroid, roll-off, contrast's peaks and valleys, ZCR), as a
//!   frame-major [`Mel`](crate::mel::Mel) whose "bands" are these rows;
//! - [`summarize`]: per window, what librosa computes over the whole signal it is given
//!   (dB with `top_db` clipping, MFCC's DCT, contrast's dB difference, the onset envelope
//!   and tempo), then the statistics: a vector of [`SUMMARY_LEN`] numbers.

mod chroma;
mod contrast;
mod db;
mod mfcc;
mod spectral;
mod stats;
mod stream;
mod summary;
mod tempo;
mod zcr;

pub use stream::FeatureStream;
pub use summary::{summarize, summary_names};

use crate::mel::MelConfig;

/// Mel bands of the MFCC and onset front end (librosa's default).
pub const N_MELS: usize = 128;
/// MFCC coefficients kept.
pub const N_MFCC: usize = 20;
/// Chroma bins.
pub const N_CHROMA: usize = 12;
/// Spectral-contrast octave bands (`n_bands + 1` rows).
pub const N_CONTRAST: usize = 7;

/// Rows of one frame, in this order: `N_MELS` mel power (not yet in dB), `N_CHROMA`
/// chroma (∞-normalised per frame), centroid (Hz), roll-off (Hz), `N_CONTRAST` peak
/// magnitudes, `N_CONTRAST` valley magnitudes, zero-crossing rate.
pub const FRAME_ROWS: usize = N_MELS + N_CHROMA + 1 + 1 + 2 * N_CONTRAST + 1;

/// Length of a window's summary: mean, std and skew of each of the `N_MFCC` MFCCs,
/// `N_CHROMA` chroma bins, centroid, roll-off, `N_CONTRAST` contrasts and ZCR, then tempo.
pub const SUMMARY_LEN: usize = 3 * (N_MFCC + N_CHROMA + 1 + 1 + N_CONTRAST + 1) + 1;

/// The STFT every feature is computed on: librosa's defaults (22 050 Hz, n_fft 2048,
/// hop 512, Hann, centred with zero padding). Its `n_mels` is [`FRAME_ROWS`]: the
/// Tagger sizes its frames by it.
pub fn stft() -> MelConfig {
    MelConfig {
        n_mels: FRAME_ROWS,
        ..MelConfig::seed_default()
    }
}
