//! Genre Tagger: a CLAP/VST3 plugin (and standalone live monitor) that passes audio through
//! and shows which genre the music is, live; logs the session and sends MIDI so lights and
//! visuals can follow.
//!
//! - [`tap`]: the audio thread's analysis feed — mono downmix into a lock-free ring.
//! - [`flush`]: how audio leaves the plugin (bit-exact, subnormals flushed to zero).
//! - [`midi`]: the MIDI map and the audio thread's sample-accurate MIDI out.
//! - [`engine`]: activation lifecycle and the audio thread's work; [`engine::Monitor`] is
//!   the read side.
//! - [`worker`]: the analysis worker (the model crate's `Tagger`); [`model_load`]: where it
//!   gets its network (the embedded default, loaded once per process, or a given one).
//! - [`meters`], [`analysis`], [`recorder`], [`controls`]: the one-way links — audio-thread
//!   meters, the worker → editor snapshot, the worker → log keeper channel, editor → worker
//!   requests; [`teach`]: the teaching requests and the taught state the host saves, and
//!   [`teacher`]: the worker's side of teaching.
//! - [`log`]: the bounded session log and its CSV/JSON formats.
//! - [`params`]: hop, smoothing, freeze, reset, MIDI channel, the persisted editor size;
//!   [`state`]: what a saved state may set.
//! - [`editor`]: the egui editor.
//! - [`standalone`], [`file_input`]: the standalone's options and file playback.

pub mod analysis;
pub mod controls;
pub mod editor;
pub mod engine;
pub mod file_input;
pub mod flush;
pub mod log;
pub mod meters;
pub mod midi;
pub mod model_load;
pub mod panic_message;
pub mod params;
pub mod recorder;
pub mod standalone;
pub mod state;
pub mod tap;
pub mod teach;
pub mod teacher;
pub mod worker;

use controls::Controls;
use engine::Engine;
use file_input::FilePlayer;
use midi::MidiMessage;
use model_load::ModelSource;
use nice_plug::prelude::*;
use params::TaggerParams;
use std::sync::Arc;

pub struct GenreTagger {
    params: Arc<TaggerParams>,
    engine: Engine,
    /// The standalone's `--input` playback (never in a plugin host).
    player: Option<FilePlayer>,
    player_rate: f32,
}

impl Default for GenreTagger {
    fn default() -> Self {
        Self::with_model(ModelSource::Embedded)
    }
}

impl GenreTagger {
    pub fn with_model(source: ModelSource) -> Self {
        let controls = Arc::new(Controls::default());
        let params = Arc::new(TaggerParams::new(controls.clone()));
        let mut engine = Engine::new(params.clone(), controls, source);
        if let Some(cfg) = standalone::config() {
            let file = cfg
                .log_file
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(f) = file {
                engine = engine.with_log_file(f);
            }
            if let Some(path) = cfg.taught_file.clone() {
                // main() checked the file; the worker reads it as any saved state (and says
                // what is wrong with one changed since).
                if let Ok(bytes) = std::fs::read(&path) {
                    *params.taught.write().unwrap_or_else(|e| e.into_inner()) =
                        teach::TaughtState::encode(&bytes);
                }
                engine = engine.with_taught_file(path);
            }
            let _ = cfg.monitor.set(engine.monitor().clone());
        }
        Self {
            params,
            engine,
            player: None,
            player_rate: 0.0,
        }
    }
}

fn note_event(timing: u32, channel: u8, m: MidiMessage) -> NoteEvent<()> {
    match m {
        MidiMessage::Program(program) => NoteEvent::MidiProgramChange {
            timing,
            channel,
            program,
        },
        MidiMessage::Cc { cc, value } => NoteEvent::MidiCC {
            timing,
            channel,
            cc,
            value: value as f32 / 127.0,
        },
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

    // Program changes and CCs out (CLAP note port, VST3 event bus); nothing comes in.
    const MIDI_OUTPUT: MidiConfig = MidiConfig::MidiCCs;

    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = editor::TaggerEditor;

    fn filter_state(state: &mut PluginState) {
        state::clamp_to_ranges(state);
    }

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        if standalone::config().is_some_and(|c| c.headless) {
            return None;
        }
        Some(editor::TaggerEditor::new(
            self.params.clone(),
            self.engine.monitor().clone(),
        ))
    }

    fn activate(
        &mut self,
        _layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        let rate = buffer_config.sample_rate;
        if let Some(cfg) = standalone::config() {
            if let Some(list) = cfg.playlist.as_ref() {
                if self.player.is_none() || self.player_rate != rate {
                    self.player = Some(FilePlayer::start(
                        list.clone(),
                        rate.round() as u32,
                        cfg.player.clone(),
                    ));
                    self.player_rate = rate;
                }
            }
        }
        // Latency stays 0: the plugin never delays the audio.
        self.engine.activate(rate)
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        // Output buffers already hold the input (nice-plug copies it when not in place).
        let channels = buffer.as_slice();
        if let Some(p) = self.player.as_mut() {
            p.fill(channels);
        }
        let channel = self.params.midi_channel_index();
        self.engine.process(channels, |timing, m| {
            context
                .try_send_event(note_event(timing, channel, m))
                .is_ok()
        });
        ProcessStatus::Normal
    }

    fn deactivate(&mut self) {
        self.engine.deactivate();
        self.player = None;
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
