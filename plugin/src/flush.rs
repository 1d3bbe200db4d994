//! How audio leaves the plugin: bit-exact, except that subnormal samples are flushed to
//! zero (keeping their sign), as hosts that run with flush-to-zero do. Subnormals are
//! inaudible (below 1.2e-38), slow down the next processor's arithmetic on many CPUs, and
//! the CLAP reference validator rejects them in a plugin's output.

/// Flushes the subnormal samples of `channels` in place; returns how many there were.
#[inline]
pub fn flush_subnormals<S: AsMut<[f32]>>(channels: &mut [S]) -> u64 {
    let mut flushed = 0u64;
    for ch in channels {
        for s in ch.as_mut() {
            if s.is_subnormal() {
                *s = 0.0f32.copysign(*s);
                flushed += 1;
            }
        }
    }
    flushed
}
