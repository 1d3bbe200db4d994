//! The worker → editor analysis snapshot: one writer (the worker of the moment), any number
//! of readers, through a triple buffer, so the worker never waits for a reader and a reader
//! always sees one whole, consistent publication.

use model::rhythm::{Key, Tempo};
use nice_plug_egui::RepaintNotifier;
use std::sync::{Arc, Mutex, OnceLock};
use triple_buffer::{triple_buffer, Input, Output};

/// Where the model runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Device {
    /// No model loaded (yet).
    #[default]
    None,
    Cpu,
    Cuda,
    Metal,
}

impl Device {
    pub fn of(d: &candle_core::Device) -> Self {
        match d {
            candle_core::Device::Cpu => Self::Cpu,
            candle_core::Device::Cuda(_) => Self::Cuda,
            candle_core::Device::Metal(_) => Self::Metal,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "-",
            Self::Cpu => "CPU",
            Self::Cuda => "CUDA",
            Self::Metal => "Metal",
        }
    }
}

/// Everything the worker knows that the editor shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    /// Where the model came from ("embedded default model"); empty until loaded.
    pub model: String,
    pub labels: Vec<String>,
    /// The model's style labels (empty when it has none).
    pub style_names: Vec<String>,
    pub device: Device,
    /// The host rate the worker analyses at (0 = inactive).
    pub sample_rate: u32,
    /// A worker is alive.
    pub running: bool,
    /// The smoothed distribution (empty before the first non-silent window).
    pub distribution: Vec<f32>,
    pub top: Option<usize>,
    pub confidence: f32,
    /// The smoothed style probabilities (aligned with `style_names`; empty without styles).
    pub styles: Vec<f32>,
    /// The tempo the live tracker shows (`None` in the first seconds, without a beat, and
    /// where the tracker cannot run).
    pub tempo: Option<Tempo>,
    /// The key the live tracker shows (`None` in the first seconds and without pitch).
    pub key: Option<Key>,
    /// The label being taught now (every window analysed is an example of it).
    pub teaching: Option<String>,
    /// The taught labels and how many windows each keeps (empty: the loaded model as is).
    pub taught: Vec<(String, usize)>,
    /// The last window was below the silence threshold: the distribution shown is held.
    pub silent: bool,
    pub level_db: f32,
    /// Windows analysed since activation.
    pub windows: u64,
    /// Mono frames the worker took from the ring and finished with since activation.
    pub consumed: u64,
    /// Session seconds analysed (the log's clock, continuous across activations).
    pub session_s: f64,
    /// Wall time of the last model call divided by the windows it analysed.
    pub inference_ms: f32,
    /// The last error message (stays readable after it cleared).
    pub error: String,
    /// `error` is current (cleared when analysis succeeds again, except for a model that
    /// failed to load).
    pub error_active: bool,
    /// Panics caught around the model call.
    pub panics: u64,
    /// MIDI events the worker could not queue for the audio thread (queue full).
    pub midi_dropped: u64,
    /// Hops the log keeper could not take (its channel full).
    pub log_dropped: u64,
}

impl Analysis {
    pub fn error(&self) -> Option<&str> {
        self.error_active.then_some(self.error.as_str())
    }
}

/// The writing end: owned by the engine between activations and lent to each worker.
pub struct AnalysisWriter {
    input: Input<Analysis>,
    repaint: Arc<OnceLock<RepaintNotifier>>,
}

impl AnalysisWriter {
    /// Publishes `a` (copied into the back buffer, reusing its allocations); with `repaint`
    /// also wakes the editor (for news, not for every progress tick).
    pub fn publish(&mut self, a: &Analysis, repaint: bool) {
        self.input.input_buffer_mut().clone_from(a);
        self.input.publish();
        if let Some(r) = self.repaint.get().filter(|_| repaint) {
            r.request_repaint();
        }
    }
}

/// The reading end, shared by the editor, the standalone's console and tests.
#[derive(Clone)]
pub struct AnalysisReader {
    output: Arc<Mutex<Output<Analysis>>>,
}

impl AnalysisReader {
    /// Runs `f` on the latest publication (readers only contend with each other).
    pub fn with<R>(&self, f: impl FnOnce(&Analysis) -> R) -> R {
        let mut out = self.output.lock().unwrap_or_else(|e| e.into_inner());
        f(out.read())
    }

    /// A copy of the latest publication.
    pub fn read(&self) -> Analysis {
        self.with(Analysis::clone)
    }
}

/// A connected pair; `repaint` is how the editor asks to be woken.
pub fn analysis_channel(
    repaint: Arc<OnceLock<RepaintNotifier>>,
) -> (AnalysisWriter, AnalysisReader) {
    let (input, output) = triple_buffer(&Analysis::default());
    (
        AnalysisWriter { input, repaint },
        AnalysisReader {
            output: Arc::new(Mutex::new(output)),
        },
    )
}
