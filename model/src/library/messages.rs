//! What the decoding threads tell the coordinator, and why a thread stops working on a
//! file: the vocabulary both sides of the pipeline share, in a file of its own so that
//! the worker, the coordinator and the window bound import it and never each other.

use crate::rhythm::RhythmTimeline;
use crate::tag_report::FileReport;
use crate::tagger::PreparedWindow;
use crate::{Error, Result};

/// Why a thread stopped working on a file.
pub(super) enum Halt {
    /// The file cannot be tagged: its report is this error.
    File(Error),
    /// The network failed: the run ends with this error.
    Network(Error),
    /// The run ended.
    Stop,
}

impl From<Error> for Halt {
    fn from(e: Error) -> Self {
        Halt::File(e)
    }
}

/// From the threads to the coordinator.
pub(super) enum Msg {
    /// Cross-file: the next window of `file`.
    Window { file: usize, window: PreparedWindow },
    /// Everything of `file` has been sent.
    File {
        file: usize,
        warnings: Vec<String>,
        audio_s: f64,
        windows: usize,
        end: FileEnd,
    },
    /// The network failed on a thread's batch.
    Network(Error),
    /// A thread panicked: the run ends (the scope then re-raises the panic).
    Panicked,
}

/// How a thread's work on a file ended.
pub(super) enum FileEnd {
    /// Cross-file: its windows are with the coordinator; the rest of its report.
    Sent {
        duration_s: f64,
        non_finite: u64,
        rhythm: RhythmTimeline,
    },
    /// Its whole outcome (the per-file path, or a file that failed).
    Done(Result<FileReport>),
}
