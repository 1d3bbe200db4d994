//! The audio-thread side: downmix to mono and queue for the analysis worker.
//!
//! [`Tap::process`] is all the audio thread does. It reads the host's buffers (never writes
//! them: audio passes through bit-exact), averages the channels into a small stack buffer and
//! pushes that into a preallocated lock-free SPSC ring. When the ring is full the samples are
//! dropped and counted. No allocation, no lock, no syscall, no blocking.

use crate::shared::Shared;
use ringbuf::traits::Producer;
use ringbuf::HeapProd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Stack chunk for the downmix (samples per ring push).
const CHUNK: usize = 256;

pub struct Tap {
    ring: HeapProd<f32>,
    shared: Arc<Shared>,
}

impl Tap {
    pub fn new(ring: HeapProd<f32>, shared: Arc<Shared>) -> Self {
        Self { ring, shared }
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
        let mut start = 0;
        while start < n {
            let len = CHUNK.min(n - start);
            let out = &mut chunk[..len];
            out.fill(0.0);
            for ch in channels {
                for (o, &s) in out.iter_mut().zip(&ch.as_ref()[start..start + len]) {
                    if s.is_finite() {
                        *o += s;
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
        let shared = &*self.shared;
        shared
            .queued
            .fetch_add(n as u64 - dropped, Ordering::Relaxed);
        if dropped > 0 {
            shared.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        if bad > 0 {
            shared.non_finite.fetch_add(bad, Ordering::Relaxed);
        }
    }
}
