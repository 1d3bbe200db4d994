//! What the standalone binary tells the plugin before the wrapper creates it. nice-plug's
//! standalone builds the plugin with `Default`, so the binary's own options (`--headless`,
//! `--input`, `--loop`, `--log`) reach it through this process-wide setting; plugin hosts
//! never set it.

use crate::engine::Monitor;
use crate::file_input::{PlayerStatus, Playlist};
use crate::log::csv::CsvAppender;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Default)]
pub struct StandaloneConfig {
    /// No editor: the wrapper then runs until SIGINT (and the console prints changes).
    pub headless: bool,
    /// `--input`: play these files instead of the backend's input.
    pub playlist: Option<Playlist>,
    /// `--log`: the first instance appends every hop here.
    pub log_file: Mutex<Option<CsvAppender>>,
    /// `--taught`: what is taught is read from here at start and written back after every
    /// change (the standalone has no host to save its state).
    pub taught_file: Option<PathBuf>,
    /// The file player's progress (shared by every activation of the first instance).
    pub player: Arc<PlayerStatus>,
    /// The first instance's read side, for the console and for ending at the end of input.
    pub monitor: OnceLock<Monitor>,
}

static CONFIG: OnceLock<StandaloneConfig> = OnceLock::new();

/// Sets the configuration (once, before the wrapper starts); `false` if it was already set.
pub fn configure(config: StandaloneConfig) -> bool {
    CONFIG.set(config).is_ok()
}

/// The standalone's configuration, `None` in a plugin host.
pub fn config() -> Option<&'static StandaloneConfig> {
    CONFIG.get()
}
