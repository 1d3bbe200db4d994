//! What happens to samples before they are cut into frames: pre-emphasis, and the
//! centring pad at both ends of the signal. Streaming and batch share it, so they agree.
//!
//! Zero padding is known in advance, so the stream can start framing at once. Reflect
//! padding mirrors the signal about its first and last samples: the left pad needs the
//! first `n_fft/2 + 1` samples, so nothing is framed until they have arrived (16 ms at
//! 32 kHz); the right pad needs the signal's end, which only [`Edges::finish`] knows, so
//! the last `n_fft/(2·hop)` frames — the ones a batch computation reflects into — come out
//! only then. A live stream that never finishes simply has not produced them yet: every
//! frame it does produce is the batch frame, bit for bit.

use super::{MelConfig, PadMode};

pub(super) struct Edges {
    preemphasis: Option<f32>,
    /// The last raw sample, the pre-emphasis filter's state.
    prev: Option<f32>,
    pad: usize,
    mode: PadMode,
    /// Whether the left pad has been written (and samples now go straight through).
    started: bool,
    /// Reflect mode, before the left pad is written: the signal so far (`head`) and its
    /// level samples (`head_level`).
    head: Vec<f32>,
    head_level: Vec<f32>,
    /// Reflect mode: the most recent signal and level samples (at least `pad + 1` once
    /// that many have arrived), for the right pad.
    tail: Vec<f32>,
    tail_level: Vec<f32>,
}

impl Edges {
    pub fn new(cfg: &MelConfig) -> Self {
        let pad = if cfg.center { cfg.n_fft / 2 } else { 0 };
        let reflect = cfg.center && cfg.pad == PadMode::Reflect;
        let cap = if reflect { 2 * (pad + 1) } else { 0 };
        Self {
            preemphasis: cfg.preemphasis,
            prev: None,
            pad,
            mode: if reflect {
                PadMode::Reflect
            } else {
                PadMode::Zero
            },
            started: false,
            head: Vec::with_capacity(cap),
            head_level: Vec::with_capacity(cap),
            tail: Vec::with_capacity(cap),
            tail_level: Vec::with_capacity(cap),
        }
    }

    /// Appends `samples`, filtered and (at the start) padded, to `buf`, and the matching
    /// level samples — the raw signal, aligned with `buf`, for the frame energies that
    /// must not depend on the pre-emphasis — to `level`.
    pub fn push(&mut self, samples: &[f32], buf: &mut Vec<f32>, level: &mut Vec<f32>) {
        let from = buf.len();
        match self.preemphasis {
            None => {
                buf.extend_from_slice(samples);
                level.extend_from_slice(samples);
            }
            Some(c) => {
                // y[n] = x[n+1] − c·x[n], aligned with the raw x[n+1] for the level.
                for &x in samples {
                    if let Some(p) = self.prev {
                        buf.push(x - c * p);
                        level.push(x);
                    }
                    self.prev = Some(x);
                }
            }
        }
        if self.mode == PadMode::Reflect {
            keep_recent(&mut self.tail, &buf[from..], self.pad + 1);
            keep_recent(&mut self.tail_level, &level[from..], self.pad + 1);
        }
        if !self.started {
            match self.mode {
                PadMode::Zero => {
                    self.started = true;
                    let n = buf.len() - from;
                    for v in [&mut *buf, &mut *level] {
                        v.splice(from..from, std::iter::repeat_n(0.0, self.pad));
                        debug_assert_eq!(v.len(), from + self.pad + n);
                    }
                }
                PadMode::Reflect => {
                    self.head.extend(buf.drain(from..));
                    self.head_level.extend(level.drain(from..));
                    if self.head.len() > self.pad {
                        self.started = true;
                        for (v, h) in [(&mut *buf, &self.head), (&mut *level, &self.head_level)] {
                            v.extend((0..self.pad).map(|i| h[self.pad - i]));
                            v.extend_from_slice(h);
                        }
                        self.head.clear();
                        self.head_level.clear();
                    }
                }
            }
        }
    }

    /// Ends the signal: appends the right pad (and, for a signal too short to have
    /// started, its left pad too). Ready for a new signal afterwards.
    pub fn finish(&mut self, buf: &mut Vec<f32>, level: &mut Vec<f32>) {
        match self.mode {
            PadMode::Zero => {
                if !self.started {
                    self.push(&[], buf, level);
                }
                for v in [&mut *buf, &mut *level] {
                    v.resize(v.len() + self.pad, 0.0);
                }
            }
            PadMode::Reflect if !self.started => {
                // Shorter than the pad: mirror back and forth (NumPy's `reflect` for
                // pads longer than the signal; torch refuses these). Nothing at all:
                // zeros, like the zero-padded stream.
                for (v, h) in [(&mut *buf, &self.head), (&mut *level, &self.head_level)] {
                    let n = h.len() as isize;
                    let pad = self.pad as isize;
                    v.extend((-pad..n + pad).map(|i| reflect(i, h)));
                }
            }
            PadMode::Reflect => {
                // The last pad + 1 samples are in `tail`: mirror about the last one.
                for (v, t) in [(&mut *buf, &self.tail), (&mut *level, &self.tail_level)] {
                    let last = t.len() - 1;
                    v.extend((0..self.pad).map(|i| t[last - 1 - i]));
                }
            }
        }
        self.reset();
    }

    pub fn reset(&mut self) {
        self.prev = None;
        self.started = false;
        self.head.clear();
        self.head_level.clear();
        self.tail.clear();
        self.tail_level.clear();
    }
}

/// Appends `new` to `v`, keeping at least the last `keep` values; trims in amortised O(1)
/// by letting `v` grow to `2·keep` first.
fn keep_recent(v: &mut Vec<f32>, new: &[f32], keep: usize) {
    if new.len() >= keep {
        v.clear();
        v.extend_from_slice(&new[new.len() - keep..]);
        return;
    }
    if v.len() + new.len() > 2 * keep {
        v.drain(..v.len() + new.len() - keep);
    }
    v.extend_from_slice(new);
}

/// `h[i]` with `i` mirrored into range about the first and last samples (without
/// repeating them), as often as needed; 0 for an empty `h`.
fn reflect(i: isize, h: &[f32]) -> f32 {
    let n = h.len() as isize;
    match n {
        0 => 0.0,
        1 => h[0],
        _ => {
            let period = 2 * (n - 1);
            let j = i.rem_euclid(period);
            h[(if j < n { j } else { period - j }) as usize]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: &MelConfig, x: &[f32], chunk: usize) -> (Vec<f32>, Vec<f32>) {
        let mut e = Edges::new(cfg);
        let (mut buf, mut level) = (Vec::new(), Vec::new());
        for c in x.chunks(chunk.max(1)) {
            e.push(c, &mut buf, &mut level);
        }
        e.finish(&mut buf, &mut level);
        (buf, level)
    }

    fn cfg(pad: PadMode, n_fft: usize, pre: Option<f32>) -> MelConfig {
        MelConfig {
            n_fft,
            pad,
            preemphasis: pre,
            ..MelConfig::efficientat()
        }
    }

    #[test]
    fn reflect_pad_is_torchs() {
        // torch.nn.functional.pad(x, (2, 2), mode="reflect") on [1, 2, 3, 4, 5].
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        for chunk in [1, 2, 5] {
            let (buf, level) = run(&cfg(PadMode::Reflect, 4, None), &x, chunk);
            assert_eq!(buf, [3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 5.0, 4.0, 3.0]);
            assert_eq!(level, buf);
        }
        let (buf, _) = run(&cfg(PadMode::Zero, 4, None), &x, 2);
        assert_eq!(buf, [0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 0.0]);
    }

    #[test]
    fn preemphasis_is_one_sample_shorter_and_the_level_stays_raw() {
        let x = [1.0, 2.0, 4.0, 8.0];
        let (buf, level) = run(&cfg(PadMode::Zero, 2, Some(0.5)), &x, 1);
        assert_eq!(buf, [0.0, 1.5, 3.0, 6.0, 0.0]);
        assert_eq!(level, [0.0, 2.0, 4.0, 8.0, 0.0]);
    }

    #[test]
    fn signals_shorter_than_the_pad_bounce() {
        let (buf, _) = run(&cfg(PadMode::Reflect, 8, None), &[1.0, 2.0, 3.0], 1);
        // np.pad([1, 2, 3], 4, "reflect")
        assert_eq!(buf, [1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0]);
        assert_eq!(run(&cfg(PadMode::Reflect, 4, None), &[], 1).0, [0.0; 4]);
    }

    #[test]
    fn long_signals_in_any_chunking_give_the_same_samples() {
        let x: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.37).sin()).collect();
        let c = cfg(PadMode::Reflect, 1024, Some(0.97));
        let want = run(&c, &x, x.len());
        assert_eq!(want.0.len(), x.len() - 1 + 1024);
        for chunk in [1, 3, 511, 512, 513, 1000] {
            assert_eq!(run(&c, &x, chunk), want, "chunk {chunk}");
        }
    }
}
