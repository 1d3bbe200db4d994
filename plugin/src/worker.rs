//! The analysis worker: takes the downmix from the ring, runs the model crate's `Tagger`
//! and its live tempo and key trackers (`Rhythm`), teaches (the [`Teacher`]: the editor's
//! requests, the windows being taught, the refitted model swapped in), and publishes — the snapshot for the editor, MIDI events for the audio thread, hops for
//! the log keeper. It never reads back what it published: its own state lives here.
//!
//! It checks its stop flag at least every 100 ms of audio plus one model call.

use crate::analysis::{Analysis, AnalysisWriter, Device};
use crate::controls::Controls;
use crate::log::{now_unix_ms, top_changed, Hop, LogHeader};
use crate::midi::{hop_messages, MidiEvent, DELAY_S};
use crate::model_load::ModelSource;
use crate::panic_message::panic_message;
use crate::params::TaggerParams;
use crate::recorder::LogMessage;
use crate::teacher::Teacher;
use crossbeam_channel::Sender;
use model::rhythm::{Key, Rhythm, Tempo};
use model::tagger::{Tagger, TaggerOptions, WindowResult};
use model::weights::LoadedModel;
use ringbuf::traits::{Consumer, Producer};
use ringbuf::{HeapCons, HeapProd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the worker sleeps when the ring is empty.
const IDLE_POLL: Duration = Duration::from_millis(10);

/// The log's header for a model (the standalone checks a `--log` file against it).
pub fn log_header(model: &LoadedModel) -> LogHeader {
    LogHeader {
        model: model.source.clone(),
        labels: model.card.labels.clone(),
        styles: model.card.styles.clone(),
    }
}

/// What a worker is given.
pub struct WorkerLinks {
    pub ring: HeapCons<f32>,
    pub midi: HeapProd<MidiEvent>,
    pub rate: u32,
    pub source: ModelSource,
    pub writer: AnalysisWriter,
    pub log: Sender<LogMessage>,
    pub controls: Arc<Controls>,
    pub params: Arc<TaggerParams>,
    /// Session seconds analysed before this worker (the log's clock goes on from there).
    pub session_s: f64,
    /// Where the standalone keeps what is taught (`--taught`), besides the parameters.
    pub taught_file: Option<std::path::PathBuf>,
    /// Where the model runs (see [`analysis_pool`]); `None`: on the worker's own thread.
    pub pool: Option<Arc<rayon::ThreadPool>>,
}

/// The one-thread pool the model runs on, made once per engine and kept across
/// activations.
///
/// One analysis window a second needs no second core, and on rayon's default pool (every
/// core) candle splits each small GEMM across threads that mostly wait, taking CPU from
/// the host's own threads. One thread for the engine's life
/// keeps one allocator arena: a pool per activation starts its thread while the previous
/// one is still exiting (rayon does not join on drop), and such a thread gets a fresh
/// arena, ~10 MB of resident memory each.
pub fn analysis_pool() -> Option<Arc<rayon::ThreadPool>> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|_| "genre-tagger analysis pool".into())
        .build()
        .ok()
        .map(Arc::new)
}

pub struct Worker {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(AnalysisWriter, Analysis)>,
}

impl Worker {
    pub fn spawn(links: WorkerLinks) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("genre-tagger analysis".into())
            .spawn(move || {
                let mut state = State::new(links);
                state.a.running = true;
                state.publish(true);
                // A panic outside the guarded model call (a bug here) must still hand the
                // writer back and say why analysis stopped.
                let pool = state.links.pool.clone();
                let r = catch_unwind(AssertUnwindSafe(|| match &pool {
                    Some(pool) => pool.install(|| state.run(&flag)),
                    None => state.run(&flag),
                }));
                if let Err(p) = r {
                    state.set_error(format!("analysis worker stopped: {}", panic_message(&*p)));
                }
                state.a.running = false;
                state.publish(true);
                (state.links.writer, state.a)
            })
            .expect("spawning the analysis thread");
        Self { stop, handle }
    }

    pub fn alive(&self) -> bool {
        !self.handle.is_finished()
    }

    /// Stops and joins the worker; returns the snapshot writer and the last snapshot.
    pub fn stop(self) -> (AnalysisWriter, Analysis) {
        self.stop.store(true, Ordering::Release);
        // The loop runs on the one-thread pool, not on this handle's thread, so unparking
        // would not reach it: it notices `stop` within one idle poll (10 ms).
        self.handle.join().expect("the worker catches its panics")
    }
}

struct State {
    links: WorkerLinks,
    a: Analysis,
    /// Frames popped from the ring (the analysis stream's clock, as the tap counts it).
    consumed: u64,
    /// `consumed` when the current tagger stream began (activation, reset, restart).
    origin: u64,
    /// The top genre MIDI last announced.
    midi_top: Option<usize>,
    midi_position: u64,
    /// What the tempo and key trackers show now (the snapshot holds them while frozen).
    tempo: Option<Tempo>,
    key: Option<Key>,
    /// The teacher's revision the snapshot's teaching fields show.
    taught_revision: Option<u64>,
}

impl State {
    fn new(links: WorkerLinks) -> Self {
        let a = Analysis {
            sample_rate: links.rate,
            session_s: links.session_s,
            ..Default::default()
        };
        Self {
            links,
            a,
            consumed: 0,
            origin: 0,
            midi_top: None,
            midi_position: 0,
            tempo: None,
            key: None,
            taught_revision: None,
        }
    }

    fn publish(&mut self, repaint: bool) {
        self.links.writer.publish(&self.a, repaint);
    }

    fn set_error(&mut self, msg: String) {
        self.a.error = msg;
        self.a.error_active = true;
        self.publish(true);
    }

    fn make_tagger(&mut self, model: &Arc<LoadedModel>, opts: TaggerOptions) -> Option<Tagger> {
        self.origin = self.consumed;
        match Tagger::new(model.clone(), self.links.rate, opts) {
            Ok(t) => Some(t),
            Err(e) => {
                let rate = self.links.rate;
                self.set_error(format!("analysis cannot run at {rate} Hz: {e}"));
                None
            }
        }
    }

    fn load_model(&mut self) -> Option<Arc<LoadedModel>> {
        match self.links.source.load() {
            Ok(m) => {
                self.a.model = m.source.clone();
                self.a.labels = m.card.labels.clone();
                self.a.style_names = m.card.styles.clone();
                self.a.device = Device::of(&m.device);
                Some(m)
            }
            Err(e) => {
                self.set_error(e);
                None
            }
        }
    }

    /// Swaps `model` (taught or the base) into the running stream, and tells the editor
    /// and the log its labels.
    fn swap_model(&mut self, tagger: &mut Option<Tagger>, model: Arc<LoadedModel>) {
        let Some(t) = tagger.as_mut() else { return };
        if Arc::ptr_eq(t.model(), &model) {
            return;
        }
        match t.set_model(model.clone()) {
            Ok(()) => {
                self.a.labels = model.card.labels.clone();
                self.a.distribution.clear();
                self.a.top = None;
                self.midi_top = None;
                // New labels: the log keeper follows them by name (GenreLog::follow).
                let _ = self
                    .links
                    .log
                    .try_send(LogMessage::Start(log_header(&model)));
            }
            Err(e) => self.set_error(format!("the taught model cannot run: {e}")),
        }
    }

    /// Drains the editor's teaching requests, then swaps in a refitted model if one is due.
    fn teach(&mut self, teacher: &mut Teacher, tagger: &mut Option<Tagger>) {
        if teacher.stale(&self.links.params) {
            if let Err(e) = teacher.reload(&self.links.params) {
                self.set_error(e);
            }
        }
        while let Some(request) = self.links.controls.next_teach_request() {
            if let Err(e) = teacher.handle(request) {
                self.set_error(e);
            }
        }
        match teacher.refit(&self.links.params) {
            Some(Ok(model)) => self.swap_model(tagger, model),
            Some(Err(e)) => self.set_error(e),
            None => {}
        }
        if self.taught_revision != Some(teacher.revision()) {
            self.taught_revision = Some(teacher.revision());
            self.a.teaching = teacher.teaching().map(str::to_string);
            self.a.taught = teacher.taught();
            self.publish(true);
        }
    }

    fn run(&mut self, stop: &AtomicBool) {
        let model = self.load_model();
        let mut opts = self.links.params.tagger_options();
        let mut tagger = model.as_ref().and_then(|m| self.make_tagger(m, opts));
        let mut teacher = model.as_ref().map(|m| {
            let (teacher, error) = Teacher::new(
                m.clone(),
                &self.links.params,
                self.links.taught_file.clone(),
            );
            if let Some(e) = error {
                self.set_error(e);
            }
            teacher
        });
        if let Some(t) = teacher.as_mut() {
            self.teach(t, &mut tagger);
        }
        // The log learns the model only now: a saved taught session is already in, so a
        // `--log` file opened with its columns is not stopped by the loaded model's.
        let running = tagger.as_ref().map(|t| t.model().clone()).or(model.clone());
        if let Some(m) = running {
            let _ = self.links.log.try_send(LogMessage::Start(log_header(&m)));
        }
        // Tempo and key need no model; at a rate the resampler refuses, the Tagger's error
        // already says why nothing is analysed.
        let mut rhythm = Rhythm::new(self.links.rate).ok();
        // 100 ms of audio per push keeps the stop flag responsive, and below the shortest
        // hop (0.25 s) one push completes at most one window, so every hop is seen with
        // the smoothed distribution it produced.
        let rate = self.links.rate;
        let mut buf = vec![0.0f32; (rate as usize / 10).max(256)];
        let mut seen_resets = self.links.controls.resets();
        self.publish(true);

        while !stop.load(Ordering::Acquire) {
            let resets = self.links.controls.resets();
            if resets != seen_resets {
                seen_resets = resets;
                if let Some(t) = tagger.as_mut() {
                    t.reset();
                }
                if let Some(r) = rhythm.as_mut() {
                    r.reset();
                }
                (self.tempo, self.key) = (None, None);
                (self.a.tempo, self.a.key) = (None, None);
                self.origin = self.consumed;
                self.a.distribution.clear();
                self.a.top = None;
                self.a.confidence = 0.0;
                self.a.silent = false;
                self.publish(true);
            }
            if let Some(t) = teacher.as_mut() {
                self.teach(t, &mut tagger);
            }
            let n = self.links.ring.pop_slice(&mut buf);
            if n == 0 {
                std::thread::park_timeout(IDLE_POLL);
                continue;
            }
            self.consumed += n as u64;
            // Before the Tagger, so that a hop carries the reading at its window's end.
            if let Some(r) = rhythm.as_mut() {
                match catch_unwind(AssertUnwindSafe(|| r.push(&buf[..n]))) {
                    Ok(Ok(())) => {
                        (self.tempo, self.key) = (r.tempo(), r.key());
                        if !self.links.params.freeze.value() {
                            (self.a.tempo, self.a.key) = (self.tempo, self.key);
                        }
                    }
                    Ok(Err(e)) => {
                        rhythm = None;
                        self.set_error(format!("tempo and key stopped: {e}"));
                    }
                    Err(p) => {
                        rhythm = None;
                        self.a.panics += 1;
                        self.set_error(format!(
                            "the tempo tracker panicked ({}); tempo and key are off",
                            panic_message(&*p)
                        ));
                    }
                }
                if rhythm.is_none() {
                    (self.tempo, self.key) = (None, None);
                    (self.a.tempo, self.a.key) = (None, None);
                }
            }
            if let Some(t) = tagger.as_mut() {
                let m = t.model().clone();
                let wanted = self.links.params.tagger_options();
                if wanted != opts && t.set_options(wanted).is_ok() {
                    opts = wanted;
                }
                let t0 = Instant::now();
                match catch_unwind(AssertUnwindSafe(|| t.push(&buf[..n]))) {
                    Ok(Ok(windows)) => {
                        if !windows.is_empty() {
                            let ms = t0.elapsed().as_secs_f32() * 1000.0 / windows.len() as f32;
                            let smoothed = t.smoothed().map(<[f32]>::to_vec);
                            let styles = t.smoothed_styles().map(<[f32]>::to_vec);
                            self.a.inference_ms = ms;
                            self.a.error_active = false;
                            for w in &windows {
                                if let Some(teacher) = teacher.as_mut() {
                                    if let Err(e) = teacher.offer(w) {
                                        self.set_error(e);
                                    }
                                }
                                self.hop(&m, w, smoothed.as_deref(), styles.as_deref());
                            }
                        }
                    }
                    Ok(Err(e)) => self.set_error(format!("analysis failed: {e}")),
                    Err(p) => {
                        self.a.panics += 1;
                        self.set_error(format!(
                            "the model panicked ({}); analysis restarted",
                            panic_message(&*p)
                        ));
                        // The tagger may be half-updated: start a fresh stream and carry on.
                        tagger = self.make_tagger(&m, opts);
                    }
                }
            }
            self.a.consumed = self.consumed;
            self.a.session_s = self.links.session_s + self.consumed as f64 / rate.max(1) as f64;
            self.publish(false);
        }
    }

    /// One analysed window: the snapshot, the MIDI events, the log. `smoothed` and
    /// `styles` are the Tagger's smoothed genre and style distributions after it (what the
    /// editor shows and the log records).
    fn hop(
        &mut self,
        model: &LoadedModel,
        w: &WindowResult,
        smoothed: Option<&[f32]>,
        styles: Option<&[f32]>,
    ) {
        let rate = self.links.rate.max(1) as f64;
        let card = &model.card;
        let window_s = card.window_frames as f64 * card.front_end.mel.hop as f64
            / card.front_end.mel.sample_rate as f64;
        let end = (self.origin + ((w.start_s + window_s) * rate).round() as u64).min(self.consumed);
        let n_labels = card.labels.len();
        let distribution = smoothed.map_or_else(|| vec![0.0; n_labels], <[f32]>::to_vec);
        let top = smoothed
            .filter(|s| !s.is_empty())
            .map(model::distribution::argmax);
        let confidence = top.map_or(0.0, |t| distribution[t]);
        let frozen = self.links.params.freeze.value();

        self.a.windows += 1;
        self.a.silent = w.silent;
        self.a.level_db = w.level_db;
        if !frozen {
            self.a.distribution.clone_from(&distribution);
            self.a.top = top;
            self.a.confidence = confidence;
            self.a.styles.clear();
            self.a.styles.extend_from_slice(styles.unwrap_or(&w.styles));

            let changed = top_changed(self.midi_top, top);
            if top.is_some() {
                self.midi_top = top;
            }
            let position = (end + (DELAY_S * rate).round() as u64).max(self.midi_position);
            self.midi_position = position;
            let (queue, dropped) = (&mut self.links.midi, &mut self.a.midi_dropped);
            hop_messages(changed, &distribution, self.tempo, self.key, |message| {
                if queue.try_push(MidiEvent { position, message }).is_err() {
                    *dropped += 1;
                }
            });
        }
        let hop = Hop {
            time_s: self.links.session_s + end as f64 / rate,
            unix_ms: now_unix_ms(),
            top,
            confidence,
            silent: w.silent,
            level_db: w.level_db,
            distribution,
            styles: styles.unwrap_or(&w.styles).to_vec(),
            tempo: self.tempo,
            key: self.key,
        };
        if self.links.log.try_send(LogMessage::Hop(hop)).is_err() {
            self.a.log_dropped += 1;
        }
        self.publish(true);
    }
}
