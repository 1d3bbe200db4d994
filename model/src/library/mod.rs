//! Tagging many files: `cargo xtask tag`, the Python package's `Tagger.tag_files` and its
//! Ray actors. Decoding, resampling and window-making run on CPU threads; the network runs
//! on the model's device; results come back in input order, one per file.
//!
//! Two paths, one function ([`tag_library`]), both built from the Tagger's own halves
//! ([`WindowMaker`], [`classify`], [`FileTags::from_windows`]), so a file's windows and
//! numbers are those of [`analyse_audio`](crate::tag_report::analyse_audio):
//!
//! - **cross-file**: the threads hand their windows to one inference stage (the calling
//!   thread), which runs the network on batches of [`LibraryOptions::batch_windows`]
//!   windows taken from consecutive files, then splits the results back per file. A GPU
//!   is fast only on large batches, and one file at the default hop gives a window a
//!   second. On the CPU it is the faster path too: decoding overlaps the network, whose
//!   kernels spread a batch over the cores (on two cores, 12 files of music: 465× real
//!   time against 415× for the per-file path at its best thread count).
//! - **per-file**: each thread runs the network on its own file's windows, batched as a
//!   [`Tagger`](crate::tagger::Tagger) batches them: the numbers are exactly those of
//!   tagging the file alone (cross-file batches move them by under 1e-5), and nothing
//!   runs beside the threads, so one thread keeps to one core (a Ray actor's CPU).
//!
//! Memory is bounded: at most [`LibraryOptions::max_pending_windows`] windows are on their
//! way through the network at once (a thread that would exceed it waits), each thread holds
//! one decoded file, and the threads run at most a few files ahead of the oldest one not
//! yet reported, so finished reports wait for it only in small numbers.
//!
//! [`WindowMaker`]: crate::tagger::WindowMaker
//! [`classify`]: crate::tagger::classify
//! [`FileTags::from_windows`]: crate::tagger::FileTags::from_windows

mod coordinator;
mod files;
mod messages;
mod options;
mod permits;
mod shared;
mod worker;

#[cfg(test)]
mod tests;

pub use coordinator::TaggedFile;
pub use files::{audio_files_in, is_audio_file, AUDIO_EXTENSIONS};
pub use options::{Batching, LibraryOptions, LibraryStats};

use crate::weights::LoadedModel;
use crate::{Error, Result};
use coordinator::Coordinator;
use crossbeam_channel::{bounded, unbounded};
use permits::Permits;
use shared::Shared;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use worker::Worker;

/// Files each thread may run ahead of the oldest file not yet reported.
const FILES_AHEAD_PER_THREAD: usize = 4;

/// Tags `files` with `model`, calling `on_file` once per file in input order, on the
/// calling thread. A file that cannot be tagged is reported with its error in its place;
/// the others go on. The returned error is one no file caused — options that cannot be
/// used, or the network failing — and ends the run.
pub fn tag_library(
    model: &LoadedModel,
    files: &[PathBuf],
    opts: &LibraryOptions,
    on_file: impl FnMut(TaggedFile<'_>),
) -> Result<LibraryStats> {
    opts.validate(&model.device)?;
    let started = Instant::now();
    let cross_file = opts.cross_file(&model.device);
    let threads = opts.decode_threads.min(files.len()).max(1);
    let shared = Shared {
        model,
        files,
        opts,
        cross_file,
        permits: Permits::new(opts.max_pending_windows),
        batches: AtomicUsize::new(0),
    };
    let (msg_tx, msg_rx) = unbounded();
    let (job_tx, job_rx) = unbounded();
    // Nothing is ever sent on `stop`: the coordinator drops its end when it returns, which
    // wakes every thread waiting for a job or for room.
    let (stop_tx, stop_rx) = bounded::<()>(0);
    let mut stats = std::thread::scope(|scope| {
        for _ in 0..threads {
            let worker = Worker {
                shared: &shared,
                jobs: job_rx.clone(),
                out: msg_tx.clone(),
                stop: stop_rx.clone(),
            };
            scope.spawn(move || worker.run());
        }
        drop((msg_tx, job_rx, stop_rx));
        let mut c = Coordinator {
            shared: &shared,
            messages: msg_rx,
            jobs: Some(job_tx),
            _stop: stop_tx,
            next_job: 0,
            ahead: threads * FILES_AHEAD_PER_THREAD,
            batch: Vec::new(),
            owners: Vec::new(),
            open: HashMap::new(),
            finished: BTreeMap::new(),
            next_report: 0,
            stats: LibraryStats::default(),
            on_file,
        };
        c.run()?;
        Ok::<_, Error>(c.stats)
    })?;
    stats.files = files.len();
    stats.batches = shared.batches.load(Ordering::Relaxed);
    stats.peak_pending_windows = shared.permits.peak.load(Ordering::Relaxed);
    stats.cross_file = cross_file;
    stats.wall_seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}
