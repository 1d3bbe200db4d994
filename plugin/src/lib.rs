//! Genre Tagger: a CLAP/VST3 plugin (and standalone live monitor) that passes audio through
//! untouched and shows which of ten genres the music is, live.
//!
//! - [`tap`]: the audio thread's only work — mono downmix into a lock-free ring.
//! - [`engine`]: activation lifecycle and the analysis worker (the model crate's `Tagger`).
//! - [`shared`]: atomics and the history channel the worker publishes to.
//! - [`params`]: hop, smoothing, freeze, reset and the persisted editor size.
//! - [`editor`]: the egui editor.

pub mod editor;
pub mod engine;
pub mod params;
pub mod shared;
pub mod tap;

use engine::{Engine, ModelSource};
use nice_plug::prelude::*;
use params::TaggerParams;
use shared::Shared;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Set by the standalone before it starts when there is no display (or `--headless`): the
/// plugin then offers no editor, so the wrapper runs until SIGINT and returns success
/// instead of failing on the editor window.
pub static HEADLESS: AtomicBool = AtomicBool::new(false);
/// The first instance's shared state, for the headless standalone's console read-out (only
/// set when [`HEADLESS`] is).
pub static FIRST_INSTANCE: OnceLock<Arc<Shared>> = OnceLock::new();

pub struct GenreTagger {
    params: Arc<TaggerParams>,
    shared: Arc<Shared>,
    engine: Engine,
}

impl Default for GenreTagger {
    fn default() -> Self {
        Self::with_model(ModelSource::Embedded)
    }
}

impl GenreTagger {
    pub fn with_model(source: ModelSource) -> Self {
        let shared = Arc::new(Shared::default());
        let params = Arc::new(TaggerParams::new(shared.clone()));
        let engine = Engine::new(shared.clone(), params.clone(), source);
        if HEADLESS.load(Ordering::Acquire) {
            let _ = FIRST_INSTANCE.set(shared.clone());
        }
        Self {
            params,
            shared,
            engine,
        }
    }
}

impl Plugin for GenreTagger {
    const NAME: &'static str = "Genre Tagger";
    const VENDOR: &'static str = "genre-tagger";
    const URL: &'static str = "https://example.invalid/genre-tagger";
    const EMAIL: &'static str = "genre-tagger@example.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            ..AudioIOLayout::const_default()
        },
    ];

    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = editor::TaggerEditor;

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        if HEADLESS.load(Ordering::Acquire) {
            return None;
        }
        Some(editor::TaggerEditor::new(
            self.params.clone(),
            self.shared.clone(),
        ))
    }

    fn activate(
        &mut self,
        _layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        // Latency stays 0: the plugin never delays or changes the audio.
        self.engine.activate(buffer_config.sample_rate)
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        _context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        // Output buffers already hold the input (nice-plug copies it when not in place).
        self.engine.process(buffer.as_slice_immutable());
        ProcessStatus::Normal
    }

    fn deactivate(&mut self) {
        self.engine.deactivate();
    }
}

impl ClapPlugin for GenreTagger {
    const CLAP_ID: &'static str = "org.genre-tagger.genre-tagger";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Live music genre tagger: shows the genre of the audio passing through");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Analyzer,
        ClapFeature::Stereo,
        ClapFeature::Mono,
    ];
}

impl Vst3Plugin for GenreTagger {
    const VST3_CLASS_ID: [u8; 16] = *b"GenreTaggerLive1";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Fx, Vst3SubCategory::Analyzer];
}

nice_export_clap!(GenreTagger);
nice_export_vst3!(GenreTagger);
