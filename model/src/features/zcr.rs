//! Zero-crossing rate, as `librosa.feature.zero_crossing_rate(y, frame_length=2048,
//! hop_length=512, center=True)` computes it: the signal is padded by repeating its first
//! and last samples (`np.pad(mode="edge")`, not the STFT's zeros), values with
//! `|y| ≤ 1e-10` count as zero, zero counts as positive (`signbit`), and the crossings
//! among a frame's `n − 1` neighbour pairs are divided by `n`.

/// What the stream knows about the signal's edges.
#[derive(Default)]
pub(super) struct Zcr {
    /// The first sample, once one has arrived.
    first: Option<f32>,
    /// The latest sample.
    last: Option<f32>,
    /// Whether the signal has ended (`finish`): frames may now reach past its last sample.
    ended: bool,
    /// Samples pushed so far.
    len: usize,
    /// The next frame's index.
    frame: usize,
}

impl Zcr {
    pub fn push(&mut self, samples: &[f32]) {
        if self.first.is_none() {
            self.first = samples.first().copied();
        }
        self.last = samples.last().copied().or(self.last);
        self.len += samples.len();
    }

    /// The signal has ended: frames from now on may reach past its last sample.
    pub fn end(&mut self) {
        self.ended = true;
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// The rate of the next frame, whose samples (`raw`, the STFT's zero padding
    /// included) start `raw.len() / 2` samples before sample `frame · hop`.
    pub fn frame(&mut self, raw: &[f32], hop: usize) -> f32 {
        let n = raw.len();
        let start = (self.frame * hop) as isize - (n / 2) as isize;
        self.frame += 1;
        let (first, last) = (self.first.unwrap_or(0.0), self.last.unwrap_or(0.0));
        let (len, ended) = (self.len as isize, self.ended);
        let negative = |i: usize| {
            let at = start + i as isize;
            let x = if at < 0 {
                first
            } else if ended && at >= len {
                last
            } else {
                raw[i]
            };
            x.abs() > 1e-10 && x.is_sign_negative()
        };
        let mut prev = negative(0);
        let mut crossings = 0u32;
        for i in 1..n {
            let s = negative(i);
            crossings += (s != prev) as u32;
            prev = s;
        }
        crossings as f32 / n as f32
    }
}
