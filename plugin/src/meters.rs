//! Audio-thread meters: counters and the input peak that only the audio thread writes
//! (relaxed atomic adds and stores, real-time safe) and the editor, the console and tests
//! read.

use atomic_float::AtomicF32;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Meters {
    queued: AtomicU64,
    dropped: AtomicU64,
    non_finite: AtomicU64,
    flushed: AtomicU64,
    midi_sent: AtomicU64,
    midi_late: AtomicU64,
    midi_refused: AtomicU64,
    /// The largest |sample| of the input since the editor last took it (linear, 1 = 0 dBFS).
    peak: AtomicF32,
}

impl Meters {
    /// Mono frames queued for analysis.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Acquire)
    }
    /// Mono frames the audio thread could not queue because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
    /// NaN/inf input samples seen (analysed as 0; they pass to the output untouched).
    pub fn non_finite(&self) -> u64 {
        self.non_finite.load(Ordering::Relaxed)
    }
    /// Subnormal samples flushed to zero on their way out.
    pub fn flushed(&self) -> u64 {
        self.flushed.load(Ordering::Relaxed)
    }
    /// MIDI events handed to the host.
    pub fn midi_sent(&self) -> u64 {
        self.midi_sent.load(Ordering::Relaxed)
    }
    /// MIDI events that reached the audio thread after their sample position had passed
    /// (sent at the start of the block instead).
    pub fn midi_late(&self) -> u64 {
        self.midi_late.load(Ordering::Relaxed)
    }

    /// MIDI events the host's output queue refused.
    pub fn midi_refused(&self) -> u64 {
        self.midi_refused.load(Ordering::Relaxed)
    }

    /// The input's largest |sample| since the last call (linear; 1.0 is 0 dBFS), and a new
    /// hold from now. One reader takes it: the editor's meter.
    pub fn take_peak(&self) -> f32 {
        self.peak.swap(0.0, Ordering::Relaxed)
    }

    /// Raises the held peak to `peak` if it is larger. The audio thread is the only
    /// writer, so a load and a store do it, wait-free (atomic_float's `fetch_max` is a
    /// compare-and-swap loop); a reader's take racing between them at worst keeps one
    /// block's peak for one more read.
    pub(crate) fn hold_peak(&self, peak: f32) {
        if peak > self.peak.load(Ordering::Relaxed) {
            self.peak.store(peak, Ordering::Relaxed);
        }
    }

    pub(crate) fn add_queued(&self, n: u64) {
        self.queued.fetch_add(n, Ordering::Release);
    }
    pub(crate) fn add_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn add_non_finite(&self, n: u64) {
        self.non_finite.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn add_flushed(&self, n: u64) {
        self.flushed.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn add_midi(&self, sent: u64, late: u64, refused: u64) {
        for (counter, n) in [
            (&self.midi_sent, sent),
            (&self.midi_late, late),
            (&self.midi_refused, refused),
        ] {
            if n > 0 {
                counter.fetch_add(n, Ordering::Relaxed);
            }
        }
    }
}
