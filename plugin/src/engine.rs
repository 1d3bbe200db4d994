//! Activation lifecycle and the audio thread's work: the ring, the [`Tap`], the MIDI queue,
//! the analysis worker and the log keeper.
//!
//! Data flows one way. The audio thread writes [`Meters`]; the worker reads the ring and
//! the [`Controls`], and writes the [`Analysis`](crate::analysis::Analysis) snapshot, the
//! MIDI queue and the log channel; the editor reads the snapshot, the meters and the log,
//! and writes the controls and parameters. [`Monitor`] bundles the read side.
//!
//! Everything that allocates is made in [`Engine::activate`]. Hosts may call it
//! repeatedly (pedalboard calls it before every `process`), so it is a no-op when the sample
//! rate is unchanged and the worker is alive. [`Engine::deactivate`] (and drop) stops the
//! worker and joins it.

use crate::analysis::{analysis_channel, AnalysisReader, AnalysisWriter};
use crate::controls::Controls;
use crate::flush::flush_subnormals;
use crate::log::csv::CsvAppender;
use crate::meters::Meters;
use crate::midi::{MidiEvent, MidiMessage, MidiOut, QUEUE_CAPACITY};
use crate::model_load::ModelSource;
use crate::params::TaggerParams;
use crate::recorder::{LogReader, Recorder};
use crate::tap::Tap;
use crate::worker::{analysis_pool, Worker, WorkerLinks};
use nice_plug_egui::RepaintNotifier;
use ringbuf::traits::Split;
use ringbuf::HeapRb;
use std::sync::{Arc, OnceLock};

/// Seconds of mono audio the ring holds: how long the worker may stall before samples drop.
pub const RING_SECONDS: usize = 8;

/// The read side of the plugin's state: what the editor, the standalone's console and tests
/// get. Cloning it is cheap (shared handles).
#[derive(Clone)]
pub struct Monitor {
    pub meters: Arc<Meters>,
    pub analysis: AnalysisReader,
    pub log: LogReader,
    pub controls: Arc<Controls>,
    /// The editor puts its notifier here so the worker can wake it.
    pub repaint: Arc<OnceLock<RepaintNotifier>>,
}

pub struct Engine {
    monitor: Monitor,
    params: Arc<TaggerParams>,
    source: ModelSource,
    rate: u32,
    tap: Option<Tap>,
    midi: Option<MidiOut>,
    worker: Option<Worker>,
    /// The snapshot's writing end while no worker holds it.
    writer: Option<AnalysisWriter>,
    recorder: Option<Recorder>,
    /// The standalone's `--log` file, until the recorder takes it.
    log_file: Option<CsvAppender>,
    /// The standalone's `--taught` file, which every worker's teacher writes.
    taught_file: Option<std::path::PathBuf>,
    /// Session seconds analysed by the workers before the current one.
    session_s: f64,
    /// The model's thread, made at the first activation and kept.
    pool: Option<Option<Arc<rayon::ThreadPool>>>,
}

impl Engine {
    pub fn new(params: Arc<TaggerParams>, controls: Arc<Controls>, source: ModelSource) -> Self {
        let repaint = Arc::new(OnceLock::new());
        let (writer, analysis) = analysis_channel(repaint.clone());
        Self {
            monitor: Monitor {
                meters: Arc::default(),
                analysis,
                log: LogReader::default(),
                controls,
                repaint,
            },
            params,
            source,
            rate: 0,
            tap: None,
            midi: None,
            worker: None,
            writer: Some(writer),
            recorder: None,
            log_file: None,
            taught_file: None,
            session_s: 0.0,
            pool: None,
        }
    }

    /// Appends every hop to `file` as well (the standalone's `--log`). Takes effect at the
    /// first activation.
    pub fn with_log_file(mut self, file: CsvAppender) -> Self {
        self.log_file = Some(file);
        self
    }

    /// Writes what is taught to `path` after every change (the standalone's `--taught`).
    pub fn with_taught_file(mut self, path: std::path::PathBuf) -> Self {
        self.taught_file = Some(path);
        self
    }

    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// Prepares for `sample_rate`. Cheap and idempotent when nothing changed. Always
    /// succeeds: if analysis cannot run (unsupported rate, no model) the audio still passes
    /// and the editor shows why.
    pub fn activate(&mut self, sample_rate: f32) -> bool {
        let rate = if sample_rate.is_finite() && sample_rate >= 1.0 {
            sample_rate.round() as u32
        } else {
            0
        };
        if rate == self.rate
            && self.tap.is_some()
            && self.worker.as_ref().is_some_and(Worker::alive)
        {
            return true;
        }
        self.deactivate();
        let recorder = self
            .recorder
            .get_or_insert_with(|| Recorder::spawn(&self.monitor.log, self.log_file.take()));
        let capacity = (rate.max(1) as usize * RING_SECONDS).max(1 << 16);
        let (prod, cons) = HeapRb::<f32>::new(capacity).split();
        let (midi_prod, midi_cons) = HeapRb::<MidiEvent>::new(QUEUE_CAPACITY).split();
        self.tap = Some(Tap::new(prod, self.monitor.meters.clone()));
        self.midi = Some(MidiOut::new(midi_cons));
        let writer = self
            .writer
            .take()
            .expect("the snapshot writer is home when no worker runs");
        self.worker = Some(Worker::spawn(WorkerLinks {
            ring: cons,
            midi: midi_prod,
            rate,
            source: self.source.clone(),
            writer,
            log: recorder.sender(),
            controls: self.monitor.controls.clone(),
            params: self.params.clone(),
            session_s: self.session_s,
            taught_file: self.taught_file.clone(),
            pool: self.pool.get_or_insert_with(analysis_pool).clone(),
        }));
        self.rate = rate;
        true
    }

    /// Stops and joins the worker and frees the ring and the MIDI queue (the log stays).
    pub fn deactivate(&mut self) {
        if let Some(w) = self.worker.take() {
            let (mut writer, mut last) = w.stop();
            self.session_s = last.session_s;
            last.running = false;
            last.sample_rate = 0;
            writer.publish(&last, true);
            self.writer = Some(writer);
        }
        self.tap = None;
        self.midi = None;
        self.rate = 0;
    }

    pub fn is_active(&self) -> bool {
        self.tap.is_some()
    }

    /// The audio-thread work for one block: flush subnormals on the way out, queue the
    /// downmix, send the MIDI events due in this block through `send(offset, message)`
    /// (which says whether the host took the event).
    /// Nothing else is touched.
    #[inline]
    pub fn process<S: AsMut<[f32]> + AsRef<[f32]>>(
        &mut self,
        channels: &mut [S],
        send: impl FnMut(u32, MidiMessage) -> bool,
    ) {
        let flushed = flush_subnormals(channels);
        if flushed > 0 {
            self.monitor.meters.add_flushed(flushed);
        }
        let Some(tap) = self.tap.as_mut() else {
            return;
        };
        let start = tap.position();
        tap.process(channels);
        let len = channels.iter().map(|c| c.as_ref().len()).min().unwrap_or(0);
        if let Some(midi) = self.midi.as_mut() {
            midi.emit(start, len, &self.monitor.meters, send);
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.deactivate();
        // The recorder's thread ends once the last worker's sender is gone (just now).
        self.recorder = None;
    }
}
