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

use crate::audio::{decode_file, Audio};
use crate::rhythm::RhythmTimeline;
use crate::tag_report::FileReport;
use crate::tagger::{
    classify, FileTags, PreparedWindow, TaggerOptions, WindowMaker, WindowResult, FEED_BLOCK,
};
use crate::weights::LoadedModel;
use crate::{Error, Result};
use candle_core::Device;
use crossbeam_channel::{bounded, select, unbounded, Receiver, Sender, TryRecvError};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// File extensions taken from a folder: the formats [`decode_file`] reads.
pub const AUDIO_EXTENSIONS: [&str; 8] = ["wav", "wave", "flac", "mp3", "ogg", "oga", "au", "snd"];

/// Files each thread may run ahead of the oldest file not yet reported.
const FILES_AHEAD_PER_THREAD: usize = 4;

/// Whether `path` has one of the [`AUDIO_EXTENSIONS`] (any case).
pub fn is_audio_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

/// Every audio file under `dir`, recursively, sorted by path. Links to files are taken;
/// links to folders are not followed (they could loop).
pub fn audio_files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let open = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Open { path, source }
    };
    let mut found = Vec::new();
    let mut folders = vec![dir.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).map_err(open(&folder))? {
            let entry = entry.map_err(open(&folder))?;
            let path = entry.path();
            if entry.file_type().map_err(open(&path))?.is_dir() {
                folders.push(path);
            } else if is_audio_file(&path) && path.is_file() {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Which path [`tag_library`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batching {
    /// Cross-file, except on the CPU with one thread: there the inference stage would be
    /// a second busy thread beside the one asked for.
    Auto,
    /// Each thread runs the network on its own file's windows.
    PerFile,
    /// One inference stage runs the network on windows of consecutive files together.
    CrossFile,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LibraryOptions {
    /// Hop and silence threshold for every file; `max_batch` is the per-file path's batch.
    pub tagger: TaggerOptions,
    /// Threads that decode files and make their windows (on the per-file path they also
    /// run the network).
    pub decode_threads: usize,
    /// Windows per forward pass on the cross-file path.
    pub batch_windows: usize,
    /// The most windows on their way through the network at once; a thread that would
    /// make one more waits. At least `batch_windows` on the cross-file path.
    pub max_pending_windows: usize,
    /// Whether each file gets its tempo and key readings ([`FileReport::rhythm`]); without
    /// them its timeline is empty.
    pub rhythm: bool,
    pub batching: Batching,
}

impl LibraryOptions {
    /// The cross-file batch on a GPU, whose throughput grows with the batch far beyond
    /// the CPU's; not yet measured on one (`cargo xtask tag --batch` changes it).
    pub const GPU_BATCH: usize = 256;
    /// The cross-file batch on the CPU: on two cores 32 and 64 were equally fast (465×
    /// real time; 8 gave 440×), and 32 holds half the windows.
    pub const CPU_BATCH: usize = 32;

    /// Defaults for a model on `device`: a thread per core, [`Self::CPU_BATCH`] or
    /// [`Self::GPU_BATCH`], rhythm on.
    pub fn for_device(device: &Device) -> Self {
        let tagger = TaggerOptions::default();
        let mut opts = Self {
            tagger,
            decode_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_windows: if device.is_cpu() {
                Self::CPU_BATCH
            } else {
                Self::GPU_BATCH
            },
            max_pending_windows: 0,
            rhythm: true,
            batching: Batching::Auto,
        };
        opts.max_pending_windows = opts.default_pending_windows();
        opts
    }

    /// Room for four cross-file batches, or two per-file batches per thread, whichever is
    /// more: enough that neither the threads nor the network wait for the other.
    pub fn default_pending_windows(&self) -> usize {
        (4 * self.batch_windows).max(2 * self.decode_threads * self.tagger.max_batch)
    }

    /// Whether a model on `device` takes the cross-file path.
    pub fn cross_file(&self, device: &Device) -> bool {
        match self.batching {
            Batching::Auto => !device.is_cpu() || self.decode_threads > 1,
            Batching::PerFile => false,
            Batching::CrossFile => true,
        }
    }

    /// Refuses options no run could use, naming the one at fault.
    pub fn validate(&self, device: &Device) -> Result<()> {
        self.tagger.validate()?;
        let bad = |what: String| Err(Error::Config(what));
        if self.decode_threads == 0 {
            return bad("decode_threads must be at least 1".into());
        }
        if self.batch_windows == 0 {
            return bad("batch_windows must be at least 1".into());
        }
        if self.max_pending_windows == 0 {
            return bad("max_pending_windows must be at least 1".into());
        }
        if self.cross_file(device) && self.max_pending_windows < self.batch_windows {
            return bad(format!(
                "max_pending_windows ({}) must be at least batch_windows ({}): a cross-file \
                 batch is held whole",
                self.max_pending_windows, self.batch_windows
            ));
        }
        Ok(())
    }
}

/// What a [`tag_library`] run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LibraryStats {
    pub files: usize,
    /// Of those, files reported with an error.
    pub failed: usize,
    /// Windows made (silent ones included).
    pub windows: usize,
    /// Batches the network was run on (or, all silent, skipped).
    pub batches: usize,
    /// Seconds of audio decoded.
    pub audio_seconds: f64,
    pub wall_seconds: f64,
    /// The most windows that were on their way through the network at once.
    pub peak_pending_windows: usize,
    /// Whether the run took the cross-file path.
    pub cross_file: bool,
}

impl LibraryStats {
    /// Seconds of audio tagged per second of wall time.
    pub fn times_real_time(&self) -> f64 {
        self.audio_seconds / self.wall_seconds.max(1e-9)
    }
}

/// One file's outcome, as [`tag_library`] hands it over.
pub struct TaggedFile<'a> {
    /// Its position in the input list.
    pub index: usize,
    pub path: &'a Path,
    /// What decoding recovered from (a truncated file), as [`Audio::warnings`].
    pub warnings: Vec<String>,
    /// Its report, or why it has none ([`Error::Open`], [`Error::Silent`], …).
    pub report: Result<FileReport>,
}

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

/// What every thread of a run reads.
struct Shared<'a> {
    model: &'a LoadedModel,
    files: &'a [PathBuf],
    opts: &'a LibraryOptions,
    cross_file: bool,
    permits: Permits,
    batches: AtomicUsize,
}

impl Shared<'_> {
    /// Runs the network on `windows`; a failure is the run's, not a file's.
    fn classify(&self, windows: &[PreparedWindow]) -> Result<Vec<WindowResult>, Halt> {
        self.batches.fetch_add(1, Ordering::Relaxed);
        classify(self.model, windows, self.opts.tagger.silence_db).map_err(Halt::Network)
    }
}

/// Room for windows on their way through the network: one permit per window, taken
/// before the window is handed on and given back once the network is through with it.
/// The permits are the slots of a bounded channel, so taking one waits when none is left.
struct Permits {
    slots: Sender<()>,
    returned: Receiver<()>,
    held: AtomicUsize,
    peak: AtomicUsize,
}

impl Permits {
    fn new(n: usize) -> Self {
        let (slots, returned) = bounded(n);
        Self {
            slots,
            returned,
            held: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Waits for a permit; [`Halt::Stop`] when the run ends first.
    fn take(&self, stop: &Receiver<()>) -> Result<(), Halt> {
        select! {
            send(self.slots, ()) -> sent => sent.map_err(|_| Halt::Stop)?,
            recv(stop) -> _ => return Err(Halt::Stop),
        }
        self.note_taken();
        Ok(())
    }

    /// A permit if one is free now.
    fn try_take(&self) -> bool {
        let ok = self.slots.try_send(()).is_ok();
        if ok {
            self.note_taken();
        }
        ok
    }

    fn note_taken(&self) {
        let held = self.held.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(held, Ordering::Relaxed);
    }

    fn give_back(&self, n: usize) {
        self.held.fetch_sub(n, Ordering::Relaxed);
        for _ in 0..n {
            // Each of the `n` was sent by its taker, so it is there to receive.
            let _ = self.returned.recv();
        }
    }
}

/// Why a thread stopped working on a file.
enum Halt {
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
enum Msg {
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
enum FileEnd {
    /// Cross-file: its windows are with the coordinator; the rest of its report.
    Sent {
        duration_s: f64,
        non_finite: u64,
        rhythm: RhythmTimeline,
    },
    /// Its whole outcome (the per-file path, or a file that failed).
    Done(Result<FileReport>),
}

/// A thread: takes the next file, decodes it and makes its windows, until no file is left.
struct Worker<'a> {
    shared: &'a Shared<'a>,
    jobs: Receiver<usize>,
    out: Sender<Msg>,
    stop: Receiver<()>,
}

/// Tells the coordinator when its thread panics, so that the run ends instead of waiting
/// for the file the thread had.
struct PanicNotice<'a>(&'a Sender<Msg>);

impl Drop for PanicNotice<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.0.send(Msg::Panicked);
        }
    }
}

impl Worker<'_> {
    fn run(self) {
        let _notice = PanicNotice(&self.out);
        for file in self.jobs.iter() {
            if self.stopped() {
                return;
            }
            let Some(msg) = self.tag(file) else { return };
            if self.out.send(msg).is_err() {
                return;
            }
        }
    }

    fn stopped(&self) -> bool {
        matches!(self.stop.try_recv(), Err(TryRecvError::Disconnected))
    }

    /// The message that ends `file`, or `None` when the run ended first.
    fn tag(&self, file: usize) -> Option<Msg> {
        let audio = match decode_file(&self.shared.files[file]) {
            Ok(a) => a,
            Err(e) => {
                return Some(Msg::File {
                    file,
                    warnings: Vec::new(),
                    audio_s: 0.0,
                    windows: 0,
                    end: FileEnd::Done(Err(e)),
                })
            }
        };
        let mut windows = 0;
        let end = if self.shared.cross_file {
            self.send_windows(file, &audio, &mut windows)
        } else {
            self.tag_whole(&audio, &mut windows)
        };
        let end = match end {
            Ok(end) => end,
            Err(Halt::File(e)) => FileEnd::Done(Err(e)),
            Err(Halt::Network(e)) => return Some(Msg::Network(e)),
            Err(Halt::Stop) => return None,
        };
        Some(Msg::File {
            file,
            audio_s: audio.samples.len() as f64 / audio.sample_rate as f64,
            warnings: audio.warnings,
            windows,
            end,
        })
    }

    /// Cross-file: hands each window to the coordinator as it is made.
    fn send_windows(&self, file: usize, audio: &Audio, made: &mut usize) -> Result<FileEnd, Halt> {
        let s = self.shared;
        let mut maker = WindowMaker::new(&s.model.card, audio.sample_rate, s.opts.tagger.hop_s)?;
        maker.run(&audio.samples, |window| {
            if self.stopped() {
                return Err(Halt::Stop);
            }
            s.permits.take(&self.stop)?;
            *made += 1;
            self.out
                .send(Msg::Window { file, window })
                .map_err(|_| Halt::Stop)
        })?;
        Ok(FileEnd::Sent {
            duration_s: audio.samples.len() as f64 / audio.sample_rate as f64,
            non_finite: maker.non_finite_samples() + audio.non_finite as u64,
            rhythm: self.rhythm(audio)?,
        })
    }

    /// Per-file: runs the network on the file's windows as a [`Tagger`] fed by
    /// [`tag_samples`] does — `max_batch` at a time, and what is left at the end of each
    /// block — so that the numbers are exactly [`analyse_audio`]'s. Only when no permit is
    /// free does it run what it holds sooner, so that threads never all wait on permits
    /// they hold themselves.
    ///
    /// [`Tagger`]: crate::tagger::Tagger
    /// [`tag_samples`]: crate::tagger::tag_samples
    /// [`analyse_audio`]: crate::tag_report::analyse_audio
    fn tag_whole(&self, audio: &Audio, made: &mut usize) -> Result<FileEnd, Halt> {
        let s = self.shared;
        let opts = &s.opts.tagger;
        let mut maker = WindowMaker::new(&s.model.card, audio.sample_rate, opts.hop_s)?;
        let mut batch = HeldWindows {
            permits: &s.permits,
            windows: Vec::new(),
        };
        let mut results = Vec::new();
        let blocks = audio.samples.chunks(FEED_BLOCK).map(Some);
        for block in blocks.chain([None]) {
            let emit = |window| {
                if self.stopped() {
                    return Err(Halt::Stop);
                }
                if !s.permits.try_take() {
                    batch.classify_into(s, &mut results)?;
                    s.permits.take(&self.stop)?;
                }
                *made += 1;
                batch.windows.push(window);
                if batch.windows.len() >= opts.max_batch {
                    batch.classify_into(s, &mut results)?;
                }
                Ok::<_, Halt>(())
            };
            match block {
                Some(samples) => maker.push(samples, emit)?,
                None => maker.finish(emit)?,
            }
            batch.classify_into(s, &mut results)?;
        }
        let tags = FileTags::from_windows(
            results,
            &s.model.card,
            audio.samples.len() as f64 / audio.sample_rate as f64,
            maker.non_finite_samples() + audio.non_finite as u64,
            opts.silence_db,
        );
        Ok(FileEnd::Done(match tags {
            Ok(tags) => Ok(FileReport {
                tags,
                rhythm: self.rhythm(audio)?,
            }),
            Err(e) => Err(e),
        }))
    }

    fn rhythm(&self, audio: &Audio) -> Result<RhythmTimeline> {
        if self.shared.opts.rhythm {
            RhythmTimeline::analyse(&audio.samples, audio.sample_rate)
        } else {
            Ok(RhythmTimeline::default())
        }
    }
}

/// A per-file thread's windows waiting for the network, with their permits; the permits
/// go back when the windows have been through it, or when the thread unwinds.
struct HeldWindows<'a> {
    permits: &'a Permits,
    windows: Vec<PreparedWindow>,
}

impl HeldWindows<'_> {
    fn classify_into(&mut self, s: &Shared, out: &mut Vec<WindowResult>) -> Result<(), Halt> {
        if self.windows.is_empty() {
            return Ok(());
        }
        let results = s.classify(&self.windows);
        self.permits.give_back(self.windows.len());
        self.windows.clear();
        out.extend(results?);
        Ok(())
    }
}

impl Drop for HeldWindows<'_> {
    fn drop(&mut self) {
        self.permits.give_back(self.windows.len());
    }
}

/// A cross-file file whose windows are on their way.
#[derive(Default)]
struct Open {
    results: Vec<WindowResult>,
    /// Set when all its windows have been sent: how many, and the rest of its report.
    sent: Option<(usize, Vec<String>, f64, u64, RhythmTimeline)>,
}

/// The calling thread: hands out files, runs the cross-file batches, puts the results back
/// in input order and reports them.
struct Coordinator<'a, F> {
    shared: &'a Shared<'a>,
    messages: Receiver<Msg>,
    /// `None` once every file has been handed out: the threads then end when idle.
    jobs: Option<Sender<usize>>,
    _stop: Sender<()>,
    next_job: usize,
    /// Files handed out may run this far ahead of the next to report.
    ahead: usize,
    batch: Vec<PreparedWindow>,
    /// The file of each window of `batch`.
    owners: Vec<usize>,
    open: HashMap<usize, Open>,
    finished: BTreeMap<usize, (Vec<String>, Result<FileReport>)>,
    next_report: usize,
    stats: LibraryStats,
    on_file: F,
}

impl<F: FnMut(TaggedFile<'_>)> Coordinator<'_, F> {
    fn run(&mut self) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Arch;
    use crate::nets::SeedCnnConfig;
    use crate::tag_report::analyse_audio;
    use crate::weights::{build_trainable, ModelCard};
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;

    fn tiny_model(styles: Vec<String>) -> LoadedModel {
        let mut card = ModelCard::seed_cnn_default();
        card.arch = Arch::SeedCnn(SeedCnnConfig {
            channels: vec![4, 8],
            dropout: 0.0,
        });
        let (_vm, net) = build_trainable(&card, &Device::Cpu, 11).unwrap();
        // Set after building: a card naming styles the network does not give.
        card.styles = styles;
        LoadedModel {
            card,
            net,
            device: Device::Cpu,
            source: "test".into(),
        }
    }

    /// A fresh folder under the system's temporary one.
    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "genre-tagger-library-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Mono 16-bit PCM.
    fn write_wav(path: &Path, x: &[f32], rate: u32) -> PathBuf {
        let data: Vec<u8> = x
            .iter()
            .flat_map(|&v| ((v.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes())
            .collect();
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes()); // PCM
        b.extend_from_slice(&1u16.to_le_bytes()); // mono
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * 2).to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&data);
        std::fs::write(path, b).unwrap();
        path.to_owned()
    }

    fn music_like(rate: u32, secs: f32, seed: u64) -> Vec<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let f = 110.0 * (1 + seed % 5) as f32;
        (0..(rate as f32 * secs) as usize)
            .map(|i| {
                let t = i as f32 / rate as f32;
                0.3 * (2.0 * std::f32::consts::PI * f * t).sin() * (1.0 + (t * 3.0).sin()) * 0.5
                    + 0.05 * (rng.random::<f32>() - 0.5)
            })
            .collect()
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/audio")
            .join(name)
    }

    /// Good files of several rates and lengths (one looped from 1.5 s), with a file of each
    /// kind of failure among them (the fixtures' half-second tones of each format are too
    /// short); how many of them are bad.
    fn mixed_library(dir: &Path) -> (Vec<PathBuf>, usize) {
        let silence = vec![0.0; 22_050 * 4];
        let files = vec![
            write_wav(&dir.join("a.wav"), &music_like(22_050, 9.0, 1), 22_050),
            fixture("no_such_file.wav"),
            write_wav(&dir.join("b.wav"), &music_like(44_100, 1.5, 2), 44_100),
            fixture("tone_22050_mono.au"),
            fixture("not_audio.wav"),
            write_wav(&dir.join("c.wav"), &music_like(16_000, 17.0, 3), 16_000),
            write_wav(&dir.join("silent.wav"), &silence, 22_050),
            fixture("tone_44100_stereo.mp3"),
            write_wav(&dir.join("short.wav"), &music_like(22_050, 0.4, 4), 22_050),
            fixture("empty.wav"),
            fixture("tone_48000_stereo.flac"),
            write_wav(&dir.join("d.wav"), &music_like(48_000, 6.0, 5), 48_000),
            fixture("truncated.ogg"),
            write_wav(&dir.join("e.wav"), &music_like(22_050, 31.0, 6), 22_050),
        ];
        (files, 9)
    }

    /// What tagging each file alone gives: the report, or the error's message.
    fn one_by_one(
        model: Arc<LoadedModel>,
        files: &[PathBuf],
        opts: TaggerOptions,
    ) -> Vec<std::result::Result<FileReport, String>> {
        files
            .iter()
            .map(|f| {
                decode_file(f)
                    .and_then(|a| analyse_audio(model.clone(), &a, opts))
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    /// Runs `tag_library` and checks that it reported every file once, in order.
    fn run(
        model: &LoadedModel,
        files: &[PathBuf],
        opts: &LibraryOptions,
    ) -> (Vec<std::result::Result<FileReport, String>>, LibraryStats) {
        let mut got = Vec::new();
        let stats = tag_library(model, files, opts, |f| {
            assert_eq!(f.index, got.len(), "reported in input order");
            assert_eq!(f.path, files[f.index].as_path());
            got.push(f.report.map_err(|e| e.to_string()));
        })
        .unwrap();
        assert_eq!(got.len(), files.len());
        (got, stats)
    }

    fn assert_same(
        got: &[std::result::Result<FileReport, String>],
        want: &[std::result::Result<FileReport, String>],
        tol: f32,
        what: &str,
    ) {
        // Probabilities within `tol`; the teaching features (logits and an embedding,
        // tens in size) within `tol` of their size.
        let close = |a: &[f32], b: &[f32], field: &str| {
            let scale = if field == "features" {
                b.iter().fold(1.0f32, |m, x| m.max(x.abs()))
            } else {
                1.0
            };
            let diff = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(
                a.len() == b.len() && diff <= tol * scale,
                "{what}: {field} off by {diff} (scale {scale})"
            );
        };
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            match (g, w) {
                (Err(g), Err(w)) => assert_eq!(g, w, "{what}: file {i}"),
                (Ok(g), Ok(w)) => {
                    let (g, w) = (&g.tags, (&w.tags, &w.rhythm));
                    assert_eq!(g.windows.len(), w.0.windows.len(), "{what}: file {i}");
                    for (a, b) in g.windows.iter().zip(&w.0.windows) {
                        assert_eq!(
                            (a.start_s, a.silent, a.level_db),
                            (b.start_s, b.silent, b.level_db),
                            "{what}: file {i}"
                        );
                        close(&a.probs, &b.probs, "probs");
                        close(&a.styles, &b.styles, "styles");
                        close(&a.features, &b.features, "features");
                    }
                    close(&g.distribution, &w.0.distribution, "distribution");
                    close(&g.styles, &w.0.styles, "file styles");
                    assert_eq!(
                        (g.top, g.duration_s, g.non_finite),
                        (w.0.top, w.0.duration_s, w.0.non_finite),
                        "{what}: file {i}"
                    );
                }
                (g, w) => panic!(
                    "{what}: file {i}: {:?} vs {:?}",
                    g.as_ref().err(),
                    w.as_ref().err()
                ),
            }
        }
        for (g, w) in got.iter().zip(want) {
            if let (Ok(g), Ok(w)) = (g, w) {
                assert_eq!(g.rhythm, w.rhythm, "{what}");
            }
        }
    }

    #[test]
    fn both_paths_give_each_file_what_tagging_it_alone_gives_in_input_order() {
        let dir = temp_dir("mixed");
        let (files, bad) = mixed_library(&dir);
        let model = Arc::new(tiny_model(Vec::new()));
        let hop = TaggerOptions {
            hop_s: 0.5,
            ..Default::default()
        };
        let want = one_by_one(model.clone(), &files, hop);
        assert_eq!(want.iter().filter(|r| r.is_err()).count(), bad);
        let good_windows: usize = want.iter().flatten().map(|r| r.tags.windows.len()).sum();
        for (batching, threads, batch, pending) in [
            (Batching::CrossFile, 1, 1, 1),
            (Batching::CrossFile, 3, 5, 5),
            (Batching::CrossFile, 4, 16, 40),
            (Batching::CrossFile, 2, 256, 1024),
            (Batching::PerFile, 1, 8, 16),
            (Batching::PerFile, 3, 8, 3),
            (Batching::Auto, 2, 8, 64),
            (Batching::Auto, 1, 8, 16),
        ] {
            let opts = LibraryOptions {
                tagger: hop,
                decode_threads: threads,
                batch_windows: batch,
                max_pending_windows: pending,
                rhythm: true,
                batching,
            };
            let what = format!("{batching:?}, {threads} threads, batch {batch}, pending {pending}");
            let (got, stats) = run(&model, &files, &opts);
            // Per-file, with room for every thread's batch, the batches are the Tagger's:
            // the numbers are exactly those of tagging each file alone.
            let exact = !opts.cross_file(&Device::Cpu) && pending >= threads * 8;
            assert_same(&got, &want, if exact { 0.0 } else { 1e-5 }, &what);
            assert_eq!(stats.files, files.len(), "{what}");
            assert_eq!(stats.failed, bad, "{what}");
            assert_eq!(stats.cross_file, opts.cross_file(&Device::Cpu), "{what}");
            // The silent file's windows are made too.
            assert!(stats.windows > good_windows, "{what}: {stats:?}");
            assert!(stats.peak_pending_windows <= pending, "{what}: {stats:?}");
            assert!(stats.audio_seconds > 60.0, "{what}: {stats:?}");
        }
    }

    /// The bound holds however tight it is, and a full cross-file batch fills it up to
    /// the batch at least, so the figure is measured rather than never moved.
    #[test]
    fn pending_windows_never_exceed_the_bound() {
        let dir = temp_dir("bound");
        let files: Vec<PathBuf> = (0..10)
            .map(|i| {
                let secs = 3.0 + (i * 7 % 11) as f32;
                write_wav(
                    &dir.join(format!("{i}.wav")),
                    &music_like(22_050, secs, i),
                    22_050,
                )
            })
            .collect();
        let model = tiny_model(Vec::new());
        for (batching, batch, pending) in [
            (Batching::CrossFile, 4, 4),
            (Batching::CrossFile, 4, 7),
            (Batching::PerFile, 8, 1),
            (Batching::PerFile, 8, 5),
        ] {
            let opts = LibraryOptions {
                tagger: TaggerOptions {
                    hop_s: 0.25,
                    ..Default::default()
                },
                decode_threads: 3,
                batch_windows: batch,
                max_pending_windows: pending,
                rhythm: false,
                batching,
            };
            let (got, stats) = run(&model, &files, &opts);
            assert!(got.iter().all(|r| r.is_ok()));
            assert!(stats.windows > 150, "{stats:?}");
            assert!(
                stats.peak_pending_windows <= pending,
                "{batching:?}: {stats:?}"
            );
            assert!(
                stats.peak_pending_windows >= batch.min(pending),
                "{batching:?}: {stats:?}"
            );
            // Without rhythm the reports carry no readings.
            let report = got[0].as_ref().unwrap();
            assert_eq!(report.rhythm, RhythmTimeline::default());
        }
    }

    #[test]
    fn the_default_model_batched_across_files_matches_tagging_each_alone() {
        let dir = temp_dir("default");
        let cc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cc-music");
        let files: Vec<PathBuf> = [("vibe_ace.ogg", 7.0), ("brahms_hungarian_dance_5.ogg", 5.0)]
            .iter()
            .map(|&(name, secs)| {
                let a = crate::audio::decode_file_head(cc.join(name), secs).unwrap();
                write_wav(
                    &dir.join(name).with_extension("wav"),
                    &a.samples,
                    a.sample_rate,
                )
            })
            .collect();
        let model = Arc::new(crate::weights::load_or_default(None, &Device::Cpu).unwrap());
        let tagger = TaggerOptions::default();
        let want = one_by_one(model.clone(), &files, tagger);
        let opts = LibraryOptions {
            tagger,
            decode_threads: 2,
            batch_windows: 16,
            max_pending_windows: 16,
            rhythm: true,
            batching: Batching::CrossFile,
        };
        let (got, stats) = run(&model, &files, &opts);
        assert_same(&got, &want, 1e-5, "cross-file");
        // Both files' windows went through the network in one pass.
        assert_eq!(stats.batches, 1, "{stats:?}");
        assert_eq!(stats.windows, 5 + 3, "{stats:?}");
        let per_file = LibraryOptions {
            batching: Batching::PerFile,
            ..opts
        };
        let (got, _) = run(&model, &files, &per_file);
        assert_same(&got, &want, 0.0, "per-file");
    }

    /// A network that fails ends the run with its error on either path, with threads
    /// waiting for room or for files, instead of hanging or reporting every file with it.
    #[test]
    fn a_failing_network_ends_the_run_with_its_error() {
        let dir = temp_dir("failing");
        let files: Vec<PathBuf> = (0..8)
            .map(|i| {
                write_wav(
                    &dir.join(format!("{i}.wav")),
                    &music_like(22_050, 8.0, i),
                    22_050,
                )
            })
            .collect();
        let model = tiny_model(vec!["Funk".into()]);
        for batching in [Batching::CrossFile, Batching::PerFile] {
            let opts = LibraryOptions {
                decode_threads: 3,
                batch_windows: 2,
                max_pending_windows: 2,
                batching,
                ..LibraryOptions::for_device(&Device::Cpu)
            };
            let mut reported = 0;
            let e = tag_library(&model, &files, &opts, |_| reported += 1).unwrap_err();
            assert!(matches!(e, Error::WeightsMismatch(_)), "{batching:?}: {e}");
            assert!(e.to_string().contains("style outputs"), "{e}");
            assert_eq!(reported, 0, "{batching:?}");
        }
    }

    #[test]
    fn options_no_run_could_use_are_refused_by_name() {
        let model = tiny_model(Vec::new());
        let base = LibraryOptions::for_device(&Device::Cpu);
        for (opts, needle) in [
            (
                LibraryOptions {
                    decode_threads: 0,
                    ..base
                },
                "decode_threads must be at least 1",
            ),
            (
                LibraryOptions {
                    batch_windows: 0,
                    ..base
                },
                "batch_windows must be at least 1",
            ),
            (
                LibraryOptions {
                    batching: Batching::CrossFile,
                    batch_windows: 32,
                    max_pending_windows: 31,
                    ..base
                },
                "max_pending_windows (31) must be at least batch_windows (32)",
            ),
            (
                LibraryOptions {
                    batching: Batching::PerFile,
                    max_pending_windows: 0,
                    ..base
                },
                "max_pending_windows must be at least 1",
            ),
            (
                LibraryOptions {
                    tagger: TaggerOptions {
                        hop_s: 0.0,
                        ..Default::default()
                    },
                    ..base
                },
                "hop must be in",
            ),
        ] {
            let e = tag_library(&model, &[fixture("tone_22050_mono.au")], &opts, |_| {
                panic!("nothing is tagged with bad options")
            })
            .unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
        }
    }

    #[test]
    fn no_files_is_an_empty_run() {
        let model = tiny_model(Vec::new());
        let opts = LibraryOptions::for_device(&Device::Cpu);
        let stats = tag_library(&model, &[], &opts, |_| panic!("no file")).unwrap();
        assert_eq!((stats.files, stats.failed, stats.windows), (0, 0, 0));
    }

    #[test]
    fn defaults_follow_the_device() {
        let cpu = LibraryOptions::for_device(&Device::Cpu);
        assert_eq!(cpu.batch_windows, LibraryOptions::CPU_BATCH);
        // Cross-file on the CPU, but not with one thread, which must keep to one core.
        let one = LibraryOptions {
            decode_threads: 1,
            ..cpu
        };
        assert!(!one.cross_file(&Device::Cpu));
        assert!(LibraryOptions {
            decode_threads: 2,
            ..cpu
        }
        .cross_file(&Device::Cpu));
        assert!(cpu.decode_threads >= 1 && cpu.rhythm);
        assert!(cpu.max_pending_windows >= 2 * cpu.decode_threads * cpu.tagger.max_batch);
        cpu.validate(&Device::Cpu).unwrap();
        let forced = LibraryOptions {
            batching: Batching::CrossFile,
            ..cpu
        };
        assert!(forced.cross_file(&Device::Cpu));
        assert!(!LibraryOptions {
            batching: Batching::PerFile,
            ..cpu
        }
        .cross_file(&Device::Cpu));
    }

    #[test]
    fn folders_give_their_audio_files_recursively_in_order() {
        let dir = temp_dir("walk");
        for f in [
            "b.flac",
            "a/z.MP3",
            "a/y.txt",
            "a/b/c.ogg",
            "c.au",
            "notes",
            "d.Wav",
            "a/.x.wav",
        ] {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"x").unwrap();
        }
        std::fs::create_dir_all(dir.join("e.wav")).unwrap(); // a folder, not a file
        let got: Vec<String> = audio_files_in(&dir)
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        assert_eq!(
            got,
            [
                "a/.x.wav",
                "a/b/c.ogg",
                "a/z.MP3",
                "b.flac",
                "c.au",
                "d.Wav"
            ]
        );
        let e = audio_files_in(&dir.join("missing")).unwrap_err();
        assert!(e.to_string().contains("missing: cannot open"), "{e}");
    }
}
