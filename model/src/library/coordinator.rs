//! The inference stage and the reporting, on the calling thread: hands out files to the
//! workers, runs the network on cross-file batches, splits the results back per file and
//! reports each file in input order.

use super::messages::{FileEnd, Halt, Msg};
use super::options::LibraryStats;
use super::shared::Shared;
use crate::rhythm::RhythmTimeline;
use crate::tag_report::FileReport;
use crate::tagger::{FileTags, PreparedWindow, WindowResult};
use crate::Result;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// One file's outcome, as [`tag_library`](super::tag_library) hands it over.
pub struct TaggedFile<'a> {
    /// Its position in the input list.
    pub index: usize,
    pub path: &'a Path,
    /// What decoding recovered from (a truncated file), as
    /// [`Audio::warnings`](crate::audio::Audio::warnings).
    pub warnings: Vec<String>,
    /// Its report, or why it has none ([`Error::Open`](crate::Error::Open),
    /// [`Error::Silent`](crate::Error::Silent), …).
    pub report: Result<FileReport>,
}

/// A cross-file file whose windows are on their way.
#[derive(Default)]
pub(super) struct Open {
    results: Vec<WindowResult>,
    /// Set when all its windows have been sent: how many, and the rest of its report.
    sent: Option<(usize, Vec<String>, f64, u64, RhythmTimeline)>,
}

/// The calling thread: hands out files, runs the cross-file batches, puts the results back
/// in input order and reports them.
pub(super) struct Coordinator<'a, F> {
    pub(super) shared: &'a Shared<'a>,
    pub(super) messages: Receiver<Msg>,
    /// `None` once every file has been handed out: the threads then end when idle.
    pub(super) jobs: Option<Sender<usize>>,
    pub(super) _stop: Sender<()>,
    pub(super) next_job: usize,
    /// Files handed out may run this far ahead of the next to report.
    pub(super) ahead: usize,
    pub(super) batch: Vec<PreparedWindow>,
    /// The file of each window of `batch`.
    pub(super) owners: Vec<usize>,
    pub(super) open: HashMap<usize, Open>,
    pub(super) finished: BTreeMap<usize, (Vec<String>, Result<FileReport>)>,
    pub(super) next_report: usize,
    pub(super) stats: LibraryStats,
    pub(super) on_file: F,
}

impl<F: FnMut(TaggedFile<'_>)> Coordinator<'_, F> {
    pub(super) fn run(&mut self) -> Result<()> {
        self.hand_out();
        loop {
            let msg = match self.messages.try_recv() {
                Ok(msg) => msg,
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {
                    // Nothing more is coming now. If the next file to report has sent all
                    // its windows, some wait in the batch: run it rather than wait for
                    // windows that may only come once that file is reported.
                    let head_sent = self
                        .open
                        .get(&self.next_report)
                        .is_some_and(|o| o.sent.is_some());
                    if head_sent && !self.batch.is_empty() {
                        self.run_batch()?;
                        continue;
                    }
                    match self.messages.recv() {
                        Ok(msg) => msg,
                        Err(_) => break,
                    }
                }
            };
            match msg {
                Msg::Window { file, window } => {
                    self.open.entry(file).or_default();
                    self.batch.push(window);
                    self.owners.push(file);
                    if self.batch.len() >= self.shared.opts.batch_windows {
                        self.run_batch()?;
                    }
                }
                Msg::File {
                    file,
                    warnings,
                    audio_s,
                    windows,
                    end,
                } => {
                    self.stats.audio_seconds += audio_s;
                    self.stats.windows += windows;
                    match end {
                        FileEnd::Done(result) => {
                            self.open.remove(&file);
                            self.finish(file, warnings, result);
                        }
                        FileEnd::Sent {
                            duration_s,
                            non_finite,
                            rhythm,
                        } => {
                            self.open.entry(file).or_default().sent =
                                Some((windows, warnings, duration_s, non_finite, rhythm));
                            self.complete(file);
                        }
                    }
                }
                Msg::Network(e) => return Err(e),
                Msg::Panicked => return Ok(()),
            }
        }
        self.run_batch()
    }

    /// Runs the network on the batch and gives each file its results.
    fn run_batch(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let results = self.shared.classify(&self.batch);
        self.shared.permits.give_back(self.batch.len());
        self.batch.clear();
        let results = results.map_err(|h| match h {
            Halt::Network(e) | Halt::File(e) => e,
            Halt::Stop => unreachable!("classify never stops"),
        })?;
        let mut touched = Vec::new();
        for (file, r) in self.owners.drain(..).zip(results) {
            // A file that failed after sending windows is already reported.
            if let Some(o) = self.open.get_mut(&file) {
                o.results.push(r);
                if touched.last() != Some(&file) {
                    touched.push(file);
                }
            }
        }
        for file in touched {
            self.complete(file);
        }
        Ok(())
    }

    /// Finishes a cross-file file once all its windows are back.
    fn complete(&mut self, file: usize) {
        let done = self
            .open
            .get(&file)
            .is_some_and(|o| o.sent.as_ref().is_some_and(|s| s.0 == o.results.len()));
        if !done {
            return;
        }
        let o = self.open.remove(&file).expect("checked above");
        let (_, warnings, duration_s, non_finite, rhythm) = o.sent.expect("checked above");
        let s = self.shared;
        let tags = FileTags::from_windows(
            o.results,
            &s.model.card,
            duration_s,
            non_finite,
            s.opts.tagger.silence_db,
        );
        self.finish(file, warnings, tags.map(|tags| FileReport { tags, rhythm }));
    }

    /// Keeps a file's outcome until every file before it is reported, then reports it.
    fn finish(&mut self, file: usize, warnings: Vec<String>, report: Result<FileReport>) {
        self.finished.insert(file, (warnings, report));
        while let Some((warnings, report)) = self.finished.remove(&self.next_report) {
            self.stats.failed += usize::from(report.is_err());
            (self.on_file)(TaggedFile {
                index: self.next_report,
                path: &self.shared.files[self.next_report],
                warnings,
                report,
            });
            self.next_report += 1;
        }
        self.hand_out();
    }

    /// Hands out files up to the look-ahead.
    fn hand_out(&mut self) {
        let files = self.shared.files.len();
        while self.next_job < files && self.next_job < self.next_report + self.ahead {
            if let Some(jobs) = &self.jobs {
                let _ = jobs.send(self.next_job);
            }
            self.next_job += 1;
        }
        if self.next_job == files {
            self.jobs = None;
        }
    }
}
