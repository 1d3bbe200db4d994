//! The taught examples: for each label, the network's outputs (`[logits | embedding]`, as
//! [`EfficientAtFeatures`](crate::train::EfficientAtFeatures) and the feature cache give
//! them) for windows of the music the user said was that label, with the source each came
//! from (a file, or a taught segment of a track).
//!
//! Memory is bounded: a label keeps at most [`MAX_WINDOWS_PER_LABEL`] windows. When a label
//! fills up, every other window is dropped and from then on only every second window offered
//! is kept (then every fourth, …), so a label taught for an hour keeps windows spread over
//! the whole hour rather than its first minutes. With mn04's 911 outputs per window that is
//! 256 × 911 × 4 B ≈ 0.93 MB per label.

use std::fmt;

/// The most windows one label keeps.
pub const MAX_WINDOWS_PER_LABEL: usize = 256;

/// Why a window was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreError {
    /// The label is empty or only blanks.
    BlankLabel,
    /// The window's outputs are not `width` values.
    Width { got: usize, want: usize },
    /// An output is NaN or infinite.
    NotFinite { index: usize },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::BlankLabel => write!(f, "a taught label needs a name"),
            StoreError::Width { got, want } => {
                write!(
                    f,
                    "a taught window has {got} outputs, the network gives {want}"
                )
            }
            StoreError::NotFinite { index } => {
                write!(f, "output {index} of a taught window is not finite")
            }
        }
    }
}

impl std::error::Error for StoreError {}

/// One label's kept windows.
#[derive(Debug, Clone)]
pub(super) struct LabelWindows {
    pub name: String,
    /// `[windows, width]`, row-major.
    pub rows: Vec<f32>,
    pub sources: Vec<u64>,
    /// Keep one window in `stride` of those offered.
    stride: usize,
    offered: usize,
}

/// The examples a taught decision is fitted on.
#[derive(Debug, Clone)]
pub struct ExampleStore {
    /// Values per window: the network's logits, then its embedding.
    width: usize,
    cap: usize,
    pub(super) labels: Vec<LabelWindows>,
}

impl ExampleStore {
    /// A store for a network with `width` outputs per window (logits + embedding).
    pub fn new(width: usize) -> Self {
        Self::with_cap(width, MAX_WINDOWS_PER_LABEL)
    }

    /// As [`new`](Self::new), keeping at most `cap` (≥ 2) windows per label.
    pub fn with_cap(width: usize, cap: usize) -> Self {
        Self {
            width,
            cap: cap.max(2),
            labels: Vec::new(),
        }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Offers one window of `label` from `source` (`outputs`: `[logits | embedding]`).
    /// Labels are kept as given, trimmed; the first window of a label adds it.
    pub fn add(&mut self, label: &str, source: u64, outputs: &[f32]) -> Result<(), StoreError> {
        let label = label.trim();
        if label.is_empty() {
            return Err(StoreError::BlankLabel);
        }
        if outputs.len() != self.width {
            return Err(StoreError::Width {
                got: outputs.len(),
                want: self.width,
            });
        }
        if let Some(index) = outputs.iter().position(|v| !v.is_finite()) {
            return Err(StoreError::NotFinite { index });
        }
        let i = match self.labels.iter().position(|l| l.name == label) {
            Some(i) => i,
            None => {
                self.labels.push(LabelWindows {
                    name: label.to_string(),
                    rows: Vec::new(),
                    sources: Vec::new(),
                    stride: 1,
                    offered: 0,
                });
                self.labels.len() - 1
            }
        };
        let (w, cap) = (self.width, self.cap);
        let l = &mut self.labels[i];
        l.offered += 1;
        if !(l.offered - 1).is_multiple_of(l.stride) {
            return Ok(());
        }
        l.rows.extend_from_slice(outputs);
        l.sources.push(source);
        if l.sources.len() > cap {
            // Keep every other window, and from now on every other one offered.
            let keep: Vec<usize> = (0..l.sources.len()).step_by(2).collect();
            l.rows = keep
                .iter()
                .flat_map(|&k| l.rows[k * w..(k + 1) * w].iter().copied())
                .collect();
            l.sources = keep.iter().map(|&k| l.sources[k]).collect();
            l.stride *= 2;
        }
        Ok(())
    }

    /// Forgets every window of `label`; whether it had any.
    pub fn forget(&mut self, label: &str) -> bool {
        let before = self.labels.len();
        self.labels.retain(|l| l.name != label.trim());
        self.labels.len() != before
    }

    /// The taught labels, in the order they were first taught.
    pub fn labels(&self) -> Vec<&str> {
        self.labels.iter().map(|l| l.name.as_str()).collect()
    }

    /// Windows kept for `label`.
    pub fn windows(&self, label: &str) -> usize {
        self.labels
            .iter()
            .find(|l| l.name == label)
            .map_or(0, |l| l.sources.len())
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_keeps_at_most_its_cap_spread_over_all_it_was_offered() {
        let mut s = ExampleStore::with_cap(2, 8);
        for i in 0..100u64 {
            s.add(" house ", i, &[i as f32, 0.0]).unwrap();
        }
        assert_eq!(s.labels(), ["house"]);
        let n = s.windows("house");
        assert!((4..=8).contains(&n), "{n}");
        let l = &s.labels[0];
        assert_eq!(l.sources[0], 0);
        assert!(*l.sources.last().unwrap() >= 64, "{:?}", l.sources);
        for (k, &src) in l.sources.iter().enumerate() {
            assert_eq!(l.rows[k * 2], src as f32, "rows and sources stay paired");
        }
    }

    #[test]
    fn bad_windows_are_refused_with_the_reason() {
        let mut s = ExampleStore::new(3);
        assert_eq!(s.add("  ", 0, &[0.0; 3]), Err(StoreError::BlankLabel));
        assert_eq!(
            s.add("pop", 0, &[0.0; 2]),
            Err(StoreError::Width { got: 2, want: 3 })
        );
        assert_eq!(
            s.add("pop", 0, &[0.0, f32::NAN, 0.0]),
            Err(StoreError::NotFinite { index: 1 })
        );
        assert!(s.is_empty());
        s.add("pop", 0, &[0.0; 3]).unwrap();
        assert!(s.forget("pop"));
        assert!(!s.forget("pop"));
        assert!(s.is_empty());
    }
}
