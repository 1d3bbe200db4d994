//! State shared between the audio thread, the analysis worker and the editor.
//!
//! The audio thread only ever touches atomics here (the dropped/non-finite counters). The
//! worker publishes its results as atomics and history points through a bounded
//! `crossbeam-channel`; the only lock (the error/status text) is taken by the worker and the
//! editor, never by the audio thread, and the editor only `try_lock`s it.

use atomic_float::AtomicF32;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use nice_plug_egui::RepaintNotifier;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Most labels a model may have (the distribution lives in a fixed array of atomics).
pub const MAX_LABELS: usize = 32;
/// History points kept while nobody reads them (about 68 minutes at a 1-s hop).
pub const HISTORY_CAPACITY: usize = 4096;
/// "No genre yet".
pub const NO_TOP: usize = usize::MAX;

/// Device the model runs on, as an index (the editor maps it to a name).
pub const DEVICE_NONE: u8 = 0;
pub const DEVICE_NAMES: [&str; 4] = ["-", "CPU", "CUDA", "Metal"];

pub fn device_index(name: &str) -> u8 {
    DEVICE_NAMES.iter().position(|n| *n == name).unwrap_or(0) as u8
}

/// One analysed window, for the editor's history strip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryPoint {
    /// Seconds since the analysis stream began (the start of the window).
    pub start_s: f64,
    /// Top genre of the smoothed distribution after this window ([`NO_TOP`] if none yet).
    pub top: usize,
    pub confidence: f32,
    pub silent: bool,
}

/// Text that changes rarely: guarded by a mutex the audio thread never touches.
#[derive(Debug, Default, Clone)]
pub struct Status {
    /// Where the model came from ("embedded default model"), empty until loaded.
    pub model: String,
    pub labels: Vec<String>,
    /// The last error (model load failure, analysis error, caught panic); empty if none.
    pub error: String,
}

pub struct Shared {
    /// Smoothed distribution, one entry per label (`n_labels` valid).
    pub probs: [AtomicF32; MAX_LABELS],
    pub n_labels: AtomicUsize,
    pub top: AtomicUsize,
    pub confidence: AtomicF32,
    /// Wall time of the last `Tagger::push` that ran the network, divided by the windows it analysed.
    pub last_inference_ms: AtomicF32,
    /// Index into [`DEVICE_NAMES`].
    pub device: AtomicU8,
    /// Samples (mono frames) the audio thread could not queue because the ring was full.
    pub dropped: AtomicU64,
    /// NaN/inf input samples seen by the audio thread (they are analysed as 0; audio passes untouched).
    pub non_finite: AtomicU64,
    /// Mono frames the audio thread queued.
    pub queued: AtomicU64,
    /// Mono frames the worker took from the ring and finished with (analysed or discarded).
    pub consumed: AtomicU64,
    /// Windows the worker analysed.
    pub windows: AtomicU64,
    /// Last window was below the silence threshold: the distribution shown is held.
    pub silent: AtomicBool,
    pub level_db: AtomicF32,
    /// An error is current (cleared when analysis succeeds again, except for a model that
    /// failed to load).
    pub error_active: AtomicBool,
    /// Bumped whenever `status` changes, so readers only lock when something is new.
    pub status_seq: AtomicU64,
    /// Panics caught around the model call.
    pub panics: AtomicU64,
    /// Bumped by the reset trigger (parameter callback or editor button).
    pub reset_requests: AtomicU32,
    /// The worker thread is alive.
    pub worker_running: AtomicBool,
    /// The host sample rate the worker analyses at (0 = inactive).
    pub sample_rate: AtomicU32,
    status: Mutex<Status>,
    history_tx: Sender<HistoryPoint>,
    history_rx: Receiver<HistoryPoint>,
    /// Lets the worker wake the editor when it published something.
    pub repaint: OnceLock<RepaintNotifier>,
}

impl Default for Shared {
    fn default() -> Self {
        let (history_tx, history_rx) = crossbeam_channel::bounded(HISTORY_CAPACITY);
        Self {
            probs: std::array::from_fn(|_| AtomicF32::new(0.0)),
            n_labels: AtomicUsize::new(0),
            top: AtomicUsize::new(NO_TOP),
            confidence: AtomicF32::new(0.0),
            last_inference_ms: AtomicF32::new(0.0),
            device: AtomicU8::new(DEVICE_NONE),
            dropped: AtomicU64::new(0),
            non_finite: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            consumed: AtomicU64::new(0),
            windows: AtomicU64::new(0),
            silent: AtomicBool::new(false),
            level_db: AtomicF32::new(f32::NEG_INFINITY),
            error_active: AtomicBool::new(false),
            status_seq: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            reset_requests: AtomicU32::new(0),
            worker_running: AtomicBool::new(false),
            sample_rate: AtomicU32::new(0),
            status: Mutex::new(Status::default()),
            history_tx,
            history_rx,
            repaint: OnceLock::new(),
        }
    }
}

impl Shared {
    /// The smoothed distribution (empty before the first analysed window).
    pub fn distribution(&self) -> Vec<f32> {
        let n = self.n_labels.load(Ordering::Acquire).min(MAX_LABELS);
        self.probs[..n]
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .collect()
    }

    pub fn top(&self) -> Option<usize> {
        Some(self.top.load(Ordering::Acquire)).filter(|&t| t != NO_TOP)
    }

    /// Publishes a distribution (worker).
    pub fn publish(&self, dist: &[f32]) {
        let n = dist.len().min(MAX_LABELS);
        for (a, &p) in self.probs.iter().zip(&dist[..n]) {
            a.store(p, Ordering::Relaxed);
        }
        let top = if n == 0 {
            NO_TOP
        } else {
            model::metrics::argmax(&dist[..n])
        };
        self.confidence.store(
            if top == NO_TOP { 0.0 } else { dist[top] },
            Ordering::Relaxed,
        );
        self.n_labels.store(n, Ordering::Release);
        self.top.store(top, Ordering::Release);
    }

    /// Forgets the published distribution (after a reset).
    pub fn clear_distribution(&self) {
        for p in &self.probs {
            p.store(0.0, Ordering::Relaxed);
        }
        self.confidence.store(0.0, Ordering::Relaxed);
        self.top.store(NO_TOP, Ordering::Release);
        self.silent.store(false, Ordering::Relaxed);
    }

    /// A snapshot of the status text (blocks only against the worker's brief writes).
    pub fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Like [`Self::status`] but never waits: `None` if the worker holds the lock right now.
    pub fn try_status(&self) -> Option<Status> {
        match self.status.try_lock() {
            Ok(s) => Some(s.clone()),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner().clone()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    pub fn update_status(&self, f: impl FnOnce(&mut Status)) {
        f(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
        self.status_seq.fetch_add(1, Ordering::Release);
    }

    pub fn set_error(&self, msg: String) {
        self.update_status(|s| s.error = msg);
        self.error_active.store(true, Ordering::Release);
    }

    /// The last error message, if one is current.
    pub fn error(&self) -> Option<String> {
        self.error_active
            .load(Ordering::Acquire)
            .then(|| self.status().error)
    }

    /// Queues a history point; when nobody has read the history for a long time the oldest
    /// point is dropped to make room (the channel is MPMC, so the worker can pop it itself).
    pub fn push_history(&self, p: HistoryPoint) {
        let mut p = p;
        for _ in 0..4 {
            match self.history_tx.try_send(p) {
                Ok(()) => return,
                Err(TrySendError::Full(back)) => {
                    let _ = self.history_rx.try_recv();
                    p = back;
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }

    /// Takes every history point published since the last call (editor).
    pub fn drain_history(&self) -> impl Iterator<Item = HistoryPoint> + '_ {
        self.history_rx.try_iter()
    }

    pub fn request_repaint(&self) {
        if let Some(r) = self.repaint.get() {
            r.request_repaint();
        }
    }
}
