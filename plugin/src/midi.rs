//! MIDI out, so lighting desks and VJ software can follow the set.
//!
//! The map: on every change of the top genre a program change to the genre's index, and
//! every hop one control change per genre, CC [`FIRST_CC`] + index with value
//! round(p × 127) of the smoothed distribution, on the channel of the `midi-channel`
//! parameter (1 by default). Genres whose CC would pass [`LAST_CC`] (more than 100 labels)
//! get none; CC 120–127 are channel-mode messages. While the live trackers show a tempo
//! and a key, every hop also sends [`TEMPO_CC`] with the tempo − 60 (0–127: 60–187 BPM)
//! and [`KEY_CC`] with the key's Camelot position 1–24 (1A = 1, 1B = 2, … 12B = 24).
//!
//! No MIDI clock: nice-plug's events carry channel messages and SysEx only (not the
//! system real-time clock byte), and a VST3 plugin cannot send clock at all; the tempo CC
//! is what a lighting desk can map instead.
//!
//! Timing: the worker stamps each hop's events with a position in the analysis stream —
//! the end of the analysed window plus [`DELAY_S`] — and hands them to the audio thread
//! through a lock-free queue; the audio thread sends each one at its exact sample offset
//! inside the block that contains that position. The fixed delay gives the worker time to
//! finish the window, so the events follow the music at a constant lag instead of jittering
//! with the worker's timing; an event that arrives later than its position anyway goes out
//! at the start of the next block and is counted in [`Meters::midi_late`].

use crate::meters::Meters;
use model::rhythm::{Key, Tempo};
use ringbuf::traits::{Consumer, Observer};
use ringbuf::HeapCons;

/// CC of the first genre.
pub const FIRST_CC: u8 = 20;
/// Last CC used (120–127 are channel-mode messages).
pub const LAST_CC: u8 = 119;
/// CC of the tempo (value: BPM − 60, clamped to 0–127) and of the key (value: Camelot
/// position 1–24). 14 and 15 are undefined in the MIDI spec, free for this.
pub const TEMPO_CC: u8 = 14;
pub const KEY_CC: u8 = 15;
/// Seconds between the end of an analysed window and its MIDI events.
pub const DELAY_S: f64 = 0.5;
/// Events the queue holds (one hop of ten genres is eleven).
pub const QUEUE_CAPACITY: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MidiMessage {
    /// Program change to this program.
    Program(u8),
    /// Control change `cc` to `value` (0–127).
    Cc { cc: u8, value: u8 },
}

/// A message and the analysis-stream frame it belongs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MidiEvent {
    pub position: u64,
    pub message: MidiMessage,
}

/// The messages for one hop, in the order they are sent: the program change (if the top
/// genre changed), the genre CCs, then the tempo and key CCs (while known).
pub fn hop_messages(
    changed_to: Option<usize>,
    distribution: &[f32],
    tempo: Option<Tempo>,
    key: Option<Key>,
    mut out: impl FnMut(MidiMessage),
) {
    if let Some(t) = changed_to.filter(|&t| t < 128) {
        out(MidiMessage::Program(t as u8));
    }
    for (i, &p) in distribution.iter().enumerate() {
        let Some(cc) = u8::try_from(i)
            .ok()
            .and_then(|i| FIRST_CC.checked_add(i))
            .filter(|&cc| cc <= LAST_CC)
        else {
            break;
        };
        let value = if p.is_finite() {
            (p.clamp(0.0, 1.0) * 127.0).round() as u8
        } else {
            0
        };
        out(MidiMessage::Cc { cc, value });
    }
    if let Some(t) = tempo.filter(|t| t.bpm.is_finite()) {
        let value = (t.bpm.round() - 60.0).clamp(0.0, 127.0) as u8;
        out(MidiMessage::Cc {
            cc: TEMPO_CC,
            value,
        });
    }
    if let Some(k) = key {
        let (number, letter) = k.camelot();
        let value = 2 * (number - 1) + if letter == 'B' { 2 } else { 1 };
        out(MidiMessage::Cc { cc: KEY_CC, value });
    }
}

/// The audio thread's end of the queue.
pub struct MidiOut {
    queue: HeapCons<MidiEvent>,
}

impl MidiOut {
    pub fn new(queue: HeapCons<MidiEvent>) -> Self {
        Self { queue }
    }

    /// Sends every queued event whose position falls before the end of the block that starts
    /// at stream frame `start` and is `len` frames long, at its offset in the block (late
    /// ones at 0); `send` says whether the host took it. Allocation- and lock-free.
    #[inline]
    pub fn emit(
        &mut self,
        start: u64,
        len: usize,
        meters: &Meters,
        mut send: impl FnMut(u32, MidiMessage) -> bool,
    ) {
        if self.queue.is_empty() || len == 0 {
            return;
        }
        let end = start + len as u64;
        let (mut sent, mut late, mut refused) = (0u64, 0u64, 0u64);
        while let Some(e) = self.queue.first().copied() {
            if e.position >= end {
                break;
            }
            let offset = match e.position.checked_sub(start) {
                Some(o) => o as u32,
                None => {
                    late += 1;
                    0
                }
            };
            if send(offset, e.message) {
                sent += 1;
            } else {
                refused += 1;
            }
            self.queue.skip(1);
        }
        meters.add_midi(sent, late, refused);
    }
}
