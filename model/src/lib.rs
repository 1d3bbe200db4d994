//! The genre tagger's shared core: everything the plugin and `cargo xtask` have in common.
//!
//! Audio goes `audio` (decode, downmix, resample) → `mel` (log-mel frames, batch or
//! streaming, bit-identical) → `window` (3-s windows, per-window standardisation) →
//! `nets` (candle networks) → `tagger` (rolling windows, smoothing) → `tag_report` (the
//! `tag --json` document); `distribution` reads the genre distributions they produce.
//! `net` is what every model kind offers the tagger and the trainer, `arch` the registry
//! of kinds a card names (the networks in `nets`, the classical systems in `classic`);
//! `weights` stores a network with a card that describes how it must be fed; `train` and
//! `metrics` build and judge networks.

pub mod arch;
pub mod audio;
pub mod classic;
pub mod device;
pub mod distribution;
pub mod dj_mix;
pub mod error;
pub mod features;
pub mod front_end;
pub mod fused_ops;
pub mod library;
pub mod mel;
pub mod metrics;
pub mod net;
pub mod nets;
pub mod rhythm;
pub mod rng;
pub mod tag_report;
pub mod tagger;
pub mod teach;
pub mod train;
pub mod weights;
pub mod window;

pub use error::{Error, Result};

/// The ten GTZAN genres, in the order every model of this project outputs them.
pub const GENRES: [&str; 10] = [
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
];

/// The default model: EfficientAT's AudioSet network with the zero-shot genre decision,
/// made (validated, nothing fitted) by `cargo xtask train` (see the README's model card).
/// Embedded so the plugin and `cargo xtask tag` work with no file beside them.
pub const DEFAULT_MODEL: &[u8] = include_bytes!("../weights/default.safetensors");
