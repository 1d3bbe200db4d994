//! One error type for the whole crate, so every caller (CLI, plugin worker, trainer)
//! can print a message that names the file and the problem instead of a bare panic.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{path}: not a readable audio file: {reason}")]
    Unreadable { path: PathBuf, reason: String },

    #[error("{path}: corrupt audio: {reason}")]
    Corrupt { path: PathBuf, reason: String },

    #[error("{path}: contains no audio samples")]
    Empty { path: PathBuf },

    #[error("unsupported sample rate {rate} Hz (supported: {min}..={max} Hz)")]
    SampleRate { rate: u32, min: u32, max: u32 },

    #[error("resampling failed: {0}")]
    Resample(String),

    #[error("audio is silent: nothing to tag (every window is below {threshold_db} dBFS)")]
    Silent { threshold_db: f32 },

    #[error("audio is too short: {seconds:.2} s, at least {min_seconds:.2} s is needed")]
    TooShort { seconds: f32, min_seconds: f32 },

    #[error("invalid configuration: {0}")]
    Config(String),

    #[error("model file {path}: {reason}")]
    ModelFile { path: String, reason: String },

    #[error("model weights do not match the architecture: {0}")]
    WeightsMismatch(String),

    #[error("fitting the classifier failed: {0}")]
    Fit(String),

    #[error("no usable training data: {0}")]
    Data(String),

    #[error(transparent)]
    Candle(#[from] candle_core::Error),

    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
