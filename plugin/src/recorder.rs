//! The log keeper: a thread that takes the worker's hops from a channel (the worker holds
//! the only sender), keeps the session's [`GenreLog`] and, in the standalone with `--log`,
//! appends each hop to the CSV file. The worker never waits for a reader or a disk: it
//! only `try_send`s. Readers (the editor's history strip and export) take the log's read
//! lock, which only this thread ever writes under.

use crate::log::csv::CsvAppender;
use crate::log::{GenreLog, Hop, LogHeader};
use crossbeam_channel::{Receiver, Sender};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;

/// What the worker sends.
#[derive(Debug, Clone)]
pub enum LogMessage {
    /// A worker started with this model, or swapped one in (the first makes the log; one
    /// with the same styles is followed by it, [`GenreLog::follow`]; another starts a new
    /// log).
    Start(LogHeader),
    Hop(Hop),
}

/// Hops the channel holds while the keeper is busy (an hour at a 1-s hop).
pub const CHANNEL_CAPACITY: usize = 4096;

/// What readers see.
#[derive(Debug, Default)]
pub struct LogState {
    /// `None` until a worker started.
    pub log: Option<GenreLog>,
    /// The standalone's `--log` file, if any.
    pub file: Option<std::path::PathBuf>,
    /// The last error writing that file (the log in memory goes on).
    pub file_error: Option<String>,
}

/// The reading end, shared by the editor, the console and tests.
#[derive(Clone, Default)]
pub struct LogReader {
    state: Arc<RwLock<LogState>>,
}

impl LogReader {
    pub fn read(&self) -> RwLockReadGuard<'_, LogState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct Recorder {
    tx: Option<Sender<LogMessage>>,
    handle: Option<JoinHandle<()>>,
}

impl Recorder {
    /// Starts the keeper writing into `reader`'s state (and `file`, if given).
    pub fn spawn(reader: &LogReader, file: Option<CsvAppender>) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
        let state = reader.state.clone();
        let handle = std::thread::Builder::new()
            .name("genre-tagger log".into())
            .spawn(move || keep(rx, &state, file))
            .expect("spawning the log thread");
        Self {
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    /// A sender for a worker.
    pub fn sender(&self) -> Sender<LogMessage> {
        self.tx.clone().expect("recorder running")
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // The thread ends when every sender is gone: workers are joined before the engine
        // drops its recorder.
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn keep(rx: Receiver<LogMessage>, state: &RwLock<LogState>, mut file: Option<CsvAppender>) {
    let write = || state.write().unwrap_or_else(|e| e.into_inner());
    write().file = file.as_ref().map(|f| f.path().to_path_buf());
    for msg in rx {
        match msg {
            LogMessage::Start(header) => {
                let mut s = write();
                let followed = s.log.as_mut().is_some_and(|log| log.follow(&header));
                if !followed {
                    s.log = Some(GenreLog::new(header.clone()));
                }
                if let Some(f) = file.as_ref().filter(|f| {
                    f.header().labels != header.labels || f.header().styles != header.styles
                }) {
                    s.file_error = Some(format!(
                        "not writing {} any more: it was opened for other labels (a taught \
                         label or another model); the log in memory goes on",
                        f.path().display()
                    ));
                    file = None;
                }
            }
            LogMessage::Hop(hop) => {
                let failed = file.as_mut().and_then(|f| {
                    f.append(&hop)
                        .err()
                        .map(|e| format!("writing {}: {e}", f.path().display()))
                });
                let mut s = write();
                if let Some(log) = s.log.as_mut() {
                    log.push(&hop);
                }
                if let Some(e) = failed {
                    if s.file_error.as_deref() != Some(e.as_str()) {
                        eprintln!("genre-tagger: {e}");
                    }
                    s.file_error = Some(e);
                }
            }
        }
    }
}
