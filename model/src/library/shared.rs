//! What every thread of a run reads: the model, the files, the options, the window bound
//! and the count of network passes. Both the workers and the coordinator run the network
//! through it, so that every pass is counted the same way.

use super::messages::Halt;
use super::options::LibraryOptions;
use super::permits::Permits;
use crate::tagger::{classify, PreparedWindow, WindowResult};
use crate::weights::LoadedModel;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What every thread of a run reads.
pub(super) struct Shared<'a> {
    pub(super) model: &'a LoadedModel,
    pub(super) files: &'a [PathBuf],
    pub(super) opts: &'a LibraryOptions,
    pub(super) cross_file: bool,
    pub(super) permits: Permits,
    pub(super) batches: AtomicUsize,
}

impl Shared<'_> {
    /// Runs the network on `windows`; a failure is the run's, not a file's.
    pub(super) fn classify(&self, windows: &[PreparedWindow]) -> Result<Vec<WindowResult>, Halt> {
        self.batches.fetch_add(1, Ordering::Relaxed);
        classify(self.model, windows, self.opts.tagger.silence_db).map_err(Halt::Network)
    }
}
