//! The plugin's parameters and persisted editor state.

use crate::controls::Controls;
use crate::teach::TaughtState;
use model::tagger::TaggerOptions;
use nice_plug::prelude::*;
use std::sync::{Arc, RwLock};

/// Default editor size, logical pixels.
pub const EDITOR_SIZE: (u32, u32) = (760, 580);

#[derive(Params)]
pub struct TaggerParams {
    /// Editor size, saved with the session.
    #[persist = "editor-size"]
    pub editor_size: Arc<RwLock<(u32, u32)>>,

    /// What the user taught, saved with the session (the worker writes it).
    #[persist = "taught"]
    pub taught: Arc<RwLock<TaughtState>>,

    /// Seconds between the starts of analysed 3-s windows.
    #[id = "hop"]
    pub hop_s: FloatParam,

    /// Time constant of the smoothing of the genre distribution.
    #[id = "smoothing"]
    pub smoothing_s: FloatParam,

    /// Holds the displayed distribution and history (analysis goes on underneath).
    #[id = "freeze"]
    pub freeze: BoolParam,

    /// Trigger: every change to "on" forgets the analysed stream and the smoothed state.
    #[id = "reset"]
    pub reset: BoolParam,

    /// MIDI channel (1–16) of the program changes and CCs (see [`crate::midi`]).
    #[id = "midi-channel"]
    pub midi_channel: IntParam,
}

impl TaggerParams {
    pub fn new(controls: Arc<Controls>) -> Self {
        Self {
            editor_size: Arc::new(RwLock::new(EDITOR_SIZE)),
            taught: Arc::default(),
            hop_s: FloatParam::new(
                "Hop",
                1.0,
                FloatRange::Skewed {
                    min: 0.25,
                    max: 3.0,
                    factor: FloatRange::skew_factor(-1.0),
                },
            )
            .with_step_size(0.05)
            .with_unit(" s")
            .with_value_to_string(formatters::v2s_f32_rounded(2)),
            smoothing_s: FloatParam::new(
                "Smoothing",
                4.0,
                FloatRange::Skewed {
                    min: 0.0,
                    max: 30.0,
                    factor: FloatRange::skew_factor(-1.5),
                },
            )
            .with_step_size(0.1)
            .with_unit(" s")
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            freeze: BoolParam::new("Freeze", false),
            reset: BoolParam::new("Reset", false).with_callback(Arc::new(move |on| {
                // Runs on whichever thread set the value (possibly the audio thread): atomics only.
                if on {
                    controls.request_reset();
                }
            })),
            midi_channel: IntParam::new("MIDI channel", 1, IntRange::Linear { min: 1, max: 16 }),
        }
    }

    /// The MIDI channel as the wire counts it (0–15).
    pub fn midi_channel_index(&self) -> u8 {
        (self.midi_channel.value().clamp(1, 16) - 1) as u8
    }

    pub fn tagger_options(&self) -> TaggerOptions {
        TaggerOptions {
            hop_s: self
                .hop_s
                .value()
                .clamp(TaggerOptions::MIN_HOP_S, TaggerOptions::MAX_HOP_S),
            smoothing_s: self.smoothing_s.value().max(0.0),
            ..Default::default()
        }
    }
}
