//! The key tracker: chroma accumulated with exponential decay (time constant
//! [`MEMORY_S`]) and correlated (Pearson) with the 24 rotations of a major and a minor key
//! profile; the best one is the key.
//!
//! Three published profile sets, compared on gtzan-mini in `docs/rhythm.md`:
//! Krumhansl & Kessler (1982, probe-tone ratings), Temperley (1999, "What's key for
//! key?", revised for corpus statistics of classical music) and Faraldo et al.'s EDMA
//! (2016, pitch-class statistics of electronic dance music); values as Essentia's `Key`
//! lists them.

/// Seconds of memory: a key holds for minutes, and a chord progression needs several
/// seconds to show its scale.
const MEMORY_S: f64 = 20.0;
/// No key before this much non-silent audio.
const MIN_SECONDS: f64 = 3.0;
/// A frame quieter than this (dBFS) adds nothing; a memory this quiet is silence.
const SILENCE_DB: f64 = -60.0;
/// Below this contrast (standard deviation over mean of the accumulated chroma) there is
/// no pitch: white noise gives ~0.02, music 0.2 and more.
const MIN_CONTRAST: f64 = 0.1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Major,
    Minor,
}

/// A key estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Key {
    /// Pitch class of the tonic, 0 = C … 11 = B.
    pub tonic: u8,
    pub mode: Mode,
    /// Correlation of the chroma with the key's profile (0–1).
    pub confidence: f32,
}

const TONICS: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

impl Key {
    pub fn tonic_name(&self) -> &'static str {
        TONICS[self.tonic as usize % 12]
    }

    /// "C major", "F# minor" (sharps, as the GTZAN key labels spell them).
    pub fn name(&self) -> String {
        let mode = match self.mode {
            Mode::Major => "major",
            Mode::Minor => "minor",
        };
        format!("{} {mode}", self.tonic_name())
    }

    /// The Camelot wheel position: number 1–12 (a step is a fifth) and `B` for major,
    /// `A` for minor; C major is 8B, A minor (its relative) 8A.
    pub fn camelot(&self) -> (u8, char) {
        let (major_tonic, letter) = match self.mode {
            Mode::Major => (self.tonic as u32, 'B'),
            Mode::Minor => (self.tonic as u32 + 3, 'A'),
        };
        let fifths = (7 * major_tonic) % 12; // C 0, G 1, D 2, …
        (((fifths + 7) % 12 + 1) as u8, letter)
    }

    /// [`Key::camelot`] as text: "8B".
    pub fn camelot_code(&self) -> String {
        let (n, l) = self.camelot();
        format!("{n}{l}")
    }

    /// The key as one number 0–23 (tonic, plus 12 for minor): how logs store it and
    /// votes count it. The confidence is not part of it.
    pub fn index(&self) -> u8 {
        self.tonic % 12
            + match self.mode {
                Mode::Major => 0,
                Mode::Minor => 12,
            }
    }

    /// The key of [`Key::index`] `i` (`None` past 23), with `confidence`.
    pub fn from_index(i: u8, confidence: f32) -> Option<Key> {
        (i < 24).then_some(Key {
            tonic: i % 12,
            mode: if i < 12 { Mode::Major } else { Mode::Minor },
            confidence,
        })
    }
}

/// A pair of key profiles: the weight of each pitch class above the tonic in a major and
/// in a minor key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyProfile {
    Krumhansl,
    Temperley,
    Edma,
}

impl KeyProfile {
    pub const ALL: [KeyProfile; 3] = [Self::Krumhansl, Self::Temperley, Self::Edma];
    /// The profile [`super::Rhythm::key`] uses: the best on gtzan-mini (`docs/rhythm.md`).
    pub const DEFAULT: KeyProfile = KeyProfile::Edma;

    pub fn name(self) -> &'static str {
        match self {
            Self::Krumhansl => "Krumhansl-Kessler 1982",
            Self::Temperley => "Temperley 1999",
            Self::Edma => "EDMA (Faraldo 2016)",
        }
    }

    /// (major, minor), index 0 = the tonic.
    fn weights(self) -> (&'static [f64; 12], &'static [f64; 12]) {
        match self {
            Self::Krumhansl => (
                &[
                    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
                ],
                &[
                    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
                ],
            ),
            Self::Temperley => (
                &[5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0],
                &[5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0],
            ),
            Self::Edma => (
                &[
                    0.16519551, 0.04749026, 0.08293076, 0.06687112, 0.09994645, 0.09274123,
                    0.05294487, 0.13159476, 0.05218986, 0.07443653, 0.06940723, 0.0642515,
                ],
                &[
                    0.17235348, 0.05336489, 0.0761009, 0.10043649, 0.05621498, 0.08527853,
                    0.0497915, 0.13451001, 0.07458916, 0.05003023, 0.09187879, 0.05545106,
                ],
            ),
        }
    }
}

pub(super) struct KeyTracker {
    /// Weight of a new frame in the decayed sums.
    alpha: f64,
    chroma: [f64; 12],
    /// Decayed mean-square level.
    level: f64,
    frames: usize,
    min_frames: usize,
}

impl KeyTracker {
    pub(super) fn new(fps: f64) -> Self {
        Self {
            alpha: 1.0 - (-1.0 / (MEMORY_S * fps)).exp(),
            chroma: [0.0; 12],
            level: 0.0,
            frames: 0,
            min_frames: (MIN_SECONDS * fps).ceil() as usize,
        }
    }

    pub(super) fn reset(&mut self) {
        self.chroma = [0.0; 12];
        self.level = 0.0;
        self.frames = 0;
    }

    /// One frame's pitch-class magnitudes and mean-square level.
    pub(super) fn push(&mut self, chroma: &[f32; 12], energy: f32) {
        self.level += self.alpha * (energy as f64 - self.level);
        let sum: f32 = chroma.iter().sum();
        if 10.0 * (energy as f64).max(1e-12).log10() < SILENCE_DB || sum <= 0.0 {
            // Silence decays the memory (so it ends in "no key") but adds nothing.
            self.chroma.iter_mut().for_each(|c| *c *= 1.0 - self.alpha);
            return;
        }
        for (c, &x) in self.chroma.iter_mut().zip(chroma) {
            *c += self.alpha * ((x / sum) as f64 - *c);
        }
        self.frames += 1;
    }

    /// The key now with `profile`.
    pub(super) fn estimate(&self, profile: KeyProfile) -> Option<Key> {
        if self.frames < self.min_frames || 10.0 * self.level.max(1e-12).log10() < SILENCE_DB {
            return None;
        }
        let chroma = standardize(&self.chroma)?;
        let mean = self.chroma.iter().sum::<f64>() / 12.0;
        let sd = (self.chroma.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / 12.0).sqrt();
        if sd / mean < MIN_CONTRAST {
            return None;
        }
        let (major, minor) = profile.weights();
        let mut best = (f64::NEG_INFINITY, 0u8, Mode::Major);
        for (weights, mode) in [(major, Mode::Major), (minor, Mode::Minor)] {
            let z = standardize(weights)?;
            for tonic in 0..12 {
                let r = (0..12)
                    .map(|i| chroma[(tonic + i) % 12] * z[i])
                    .sum::<f64>()
                    / 12.0;
                if r > best.0 {
                    best = (r, tonic as u8, mode);
                }
            }
        }
        Some(Key {
            tonic: best.1,
            mode: best.2,
            confidence: best.0.clamp(0.0, 1.0) as f32,
        })
    }
}

/// `(x − mean) / sd` (population sd); `None` when `x` is flat.
fn standardize(x: &[f64; 12]) -> Option<[f64; 12]> {
    let mean = x.iter().sum::<f64>() / 12.0;
    let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 12.0).sqrt();
    if sd <= 1e-12 * mean.abs().max(1e-30) {
        return None;
    }
    let mut z = [0.0; 12];
    for (z, v) in z.iter_mut().zip(x) {
        *z = (v - mean) / sd;
    }
    Some(z)
}
