//! Live tempo and key: what a DJ reads next to the genre.
//!
//! Audio of any rate goes through the project's streaming resampler to 22 050 Hz, then
//! into two STFT streams ([`MelStream`], fed the same samples):
//! - an onset stream (1024-point frames every 256 samples, 86 per second): the
//!   log-mel spectral flux ([`onset`]) feeds the [`tempo`] tracker, which autocorrelates
//!   the last seconds of it and combs the autocorrelation for the beat period;
//! - a chroma stream (4096-point frames every 2048 samples): pitch-class energy
//!   ([`chroma`]) accumulated with exponential decay and correlated with key profiles
//!   ([`key`]).
//!
//! Everything is allocated in [`Rhythm::new`]; once its buffers have seen the largest
//! chunk, [`Rhythm::push`] and the estimates allocate nothing (`model/tests/rhythm_alloc.rs`),
//! so the plugin's worker can call it for every block. [`RhythmTimeline`] keeps the
//! readings of a whole file and votes one tempo and key for it. The figures on gtzan-mini are in
//! `docs/rhythm.md` (`cargo xtask rhythm`).

mod chroma;
mod key;
mod onset;
mod tempo;
mod timeline;

pub use key::{Key, KeyProfile, Mode};
pub use tempo::Tempo;
pub use timeline::{Reading, RhythmTimeline, BLOCK_S};

use crate::audio::{sanitize, StreamResampler};
use crate::mel::{LogScale, MelBanks, MelConfig, MelStream, PadMode, WindowKind};
use crate::Result;

/// The rate both streams run at: the project's analysis rate, and enough bandwidth for
/// onsets and for the pitches a key is heard in.
pub const SAMPLE_RATE: u32 = 22_050;

/// Streaming tempo and key of one mono signal.
pub struct Rhythm {
    input_rate: u32,
    resampler: StreamResampler,
    sanitized: Vec<f32>,
    resampled: Vec<f32>,
    onset_stream: MelStream,
    chroma_stream: MelStream,
    onsets: onset::OnsetSink,
    chroma: chroma::ChromaSink,
    profile: KeyProfile,
}

impl Rhythm {
    /// A tracker for mono input at `input_rate` Hz (any rate the resampler takes), giving
    /// keys with the default profile ([`KeyProfile::DEFAULT`]).
    pub fn new(input_rate: u32) -> Result<Self> {
        let onset_cfg = onset_config();
        let chroma_cfg = chroma_config();
        let onset_fps = SAMPLE_RATE as f64 / onset_cfg.hop as f64;
        let chroma_fps = SAMPLE_RATE as f64 / chroma_cfg.hop as f64;
        Ok(Self {
            input_rate,
            resampler: StreamResampler::new(input_rate, SAMPLE_RATE)?,
            sanitized: Vec::with_capacity(1 << 14),
            resampled: Vec::with_capacity(1 << 14),
            onsets: onset::OnsetSink::new(onset_cfg.n_mels, tempo::TempoTracker::new(onset_fps)),
            chroma: chroma::ChromaSink::new(
                SAMPLE_RATE as f64,
                chroma_cfg.n_fft,
                key::KeyTracker::new(chroma_fps),
            ),
            onset_stream: MelStream::new(onset_cfg)?,
            chroma_stream: MelStream::new(chroma_cfg)?,
            profile: KeyProfile::DEFAULT,
        })
    }

    pub fn input_rate(&self) -> u32 {
        self.input_rate
    }

    /// Feeds mono samples at the input rate (NaN/inf count as silence).
    pub fn push(&mut self, samples: &[f32]) -> Result<()> {
        self.sanitized.clear();
        self.sanitized.extend_from_slice(samples);
        sanitize(&mut self.sanitized);
        self.resampled.clear();
        self.resampler.push(&self.sanitized, &mut self.resampled)?;
        self.onset_stream
            .push_into(&self.resampled, &mut self.onsets);
        self.chroma_stream
            .push_into(&self.resampled, &mut self.chroma);
        Ok(())
    }

    /// The tempo now; `None` while there is too little audio, for silence, and for
    /// sound without a beat (noise, a drone).
    pub fn tempo(&self) -> Option<Tempo> {
        self.onsets.tracker.current()
    }

    /// The key now (default profile); `None` while there is too little audio, for
    /// silence, and for sound without pitch (noise, drums alone).
    pub fn key(&self) -> Option<Key> {
        self.chroma.tracker.estimate(self.profile)
    }

    /// The key now with another profile (the evaluation compares them on the same chroma).
    pub fn key_with(&self, profile: KeyProfile) -> Option<Key> {
        self.chroma.tracker.estimate(profile)
    }

    /// Forgets the stream (a new song, a transport jump).
    pub fn reset(&mut self) {
        self.resampler.reset();
        self.onset_stream.reset();
        self.chroma_stream.reset();
        self.onsets.reset();
        self.chroma.reset();
    }
}

/// The onset stream: 1024-point Hann frames every 256 samples (11.6 ms), 40 Slaney mel
/// bands compressed by `log10(1 + 1000·S)` (near-logarithmic above the noise floor, so
/// the flux measures relative increases, as a listener does).
fn onset_config() -> MelConfig {
    MelConfig {
        sample_rate: SAMPLE_RATE,
        n_fft: 1024,
        hop: 256,
        n_mels: 40,
        fmin: 30.0,
        fmax: None,
        center: true,
        scale: LogScale::Log10 {
            multiplier: 1000.0,
            f16_round: false,
        },
        pad: PadMode::Zero,
        window: WindowKind::HannPeriodic,
        banks: MelBanks::Slaney,
        preemphasis: None,
    }
}

/// The chroma stream: 4096-point frames (5.4 Hz bins, a semitone apart from ~90 Hz up)
/// every 2048 samples (93 ms); only the power spectrum is used (one token mel band).
fn chroma_config() -> MelConfig {
    MelConfig {
        n_fft: 4096,
        hop: 2048,
        n_mels: 1,
        scale: LogScale::Power,
        ..onset_config()
    }
}
