//! The audio-thread side: downmix to mono and queue for the analysis worker.
//!
//! [`Tap::process`] reads the host's buffers, averages the channels into a small stack
//! buffer and pushes that into a preallocated lock-free SPSC ring. When the ring is full the
//! samples are dropped and counted. On the way it holds the input's peak for the editor's
//! meter. No allocation, no lock, no syscall, no blocking.

use crate::meters::Meters;
use ringbuf::traits::Producer;
use ringbuf::HeapProd;
use std::sync::Arc;

/// Stack chunk for the downmix (samples per ring push).
const CHUNK: usize = 256;

pub struct Tap {
    ring: HeapProd<f32>,
    meters: Arc<Meters>,
    /// Frames queued into this ring so far: the analysis stream's clock, which the worker
    /// counts the same way as it pops (MIDI events are placed on it).
    position: u64,
}

impl Tap {
    pub fn new(ring: HeapProd<f32>, meters: Arc<Meters>) -> Self {
        Self {
            ring,
            meters,
            position: 0,
        }
    }

    /// The analysis-stream frame the next queued sample will be.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Queues the mono downmix of `channels` (any count, equal lengths; a shorter channel
    /// limits the block) for analysis. NaN/inf samples are analysed as 0 and counted.
    #[inline]
    pub fn process<S: AsRef<[f32]>>(&mut self, channels: &[S]) {
        let Some(first) = channels.first() else {
            return;
        };
        let n = channels
            .iter()
            .fold(first.as_ref().len(), |n, c| n.min(c.as_ref().len()));
        if n == 0 {
            return;
        }
        let scale = 1.0 / channels.len() as f32;
        let mut chunk = [0.0f32; CHUNK];
        let mut bad = 0u64;
        let mut dropped = 0u64;
        let mut peak = 0.0f32;
        let mut start = 0;
        while start < n {
            let len = CHUNK.min(n - start);
            let out = &mut chunk[..len];
            out.fill(0.0);
            for ch in channels {
                for (o, &s) in out.iter_mut().zip(&ch.as_ref()[start..start + len]) {
                    if s.is_finite() {
                        *o += s;
                        peak = peak.max(s.abs());
                    } else {
                        bad += 1;
                    }
                }
            }
            for o in out.iter_mut() {
                *o *= scale;
            }
            let pushed = self.ring.push_slice(out);
            dropped += (len - pushed) as u64;
            start += len;
        }
        self.meters.hold_peak(peak);
        self.position += n as u64 - dropped;
        self.meters.add_queued(n as u64 - dropped);
        if dropped > 0 {
            self.meters.add_dropped(dropped);
        }
        if bad > 0 {
            self.meters.add_non_finite(bad);
        }
    }
}
