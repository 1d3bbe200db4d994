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

    /// Forgets every window that came from `source` (a label left with none goes); how
    /// many there were.
    pub fn forget_source(&mut self, source: u64) -> usize {
        let w = self.width;
        let mut gone = 0;
        for l in &mut self.labels {
            let keep: Vec<bool> = l.sources.iter().map(|&s| s != source).collect();
            gone += keep.iter().filter(|k| !**k).count();
            let mut k = keep.iter();
            l.sources.retain(|_| *k.next().unwrap_or(&true));
            let mut i = 0;
            l.rows.retain(|_| {
                let kept = keep[i / w];
                i += 1;
                kept
            });
        }
        self.labels.retain(|l| !l.sources.is_empty());
        gone
    }

    /// The store as bytes (safetensors: one `[windows, width]` f32 tensor and one
    /// `[windows]` u64 tensor of sources per label, the rest in the metadata), for the
    /// plugin's saved state.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let mut tensors = Vec::new();
        for (i, l) in self.labels.iter().enumerate() {
            let n = l.sources.len();
            let rows = candle_core::Tensor::from_slice(
                &l.rows,
                (n, self.width),
                &candle_core::Device::Cpu,
            )
            .map_err(|e| e.to_string())?;
            // safetensors has no u64 in candle's reach: sources are stored as i64.
            let sources: Vec<i64> = l.sources.iter().map(|&s| s as i64).collect();
            let sources = candle_core::Tensor::from_vec(sources, n, &candle_core::Device::Cpu)
                .map_err(|e| e.to_string())?;
            tensors.push((format!("rows.{i}"), rows));
            tensors.push((format!("sources.{i}"), sources));
        }
        let meta = StoreMeta {
            format: STORE_FORMAT.into(),
            width: self.width,
            cap: self.cap,
            labels: self
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.stride, l.offered))
                .collect(),
        };
        let meta = std::collections::HashMap::from([(
            "store".to_string(),
            serde_json::to_string(&meta).map_err(|e| e.to_string())?,
        )]);
        safetensors::serialize(tensors.iter().map(|(k, v)| (k.as_str(), v)), Some(meta))
            .map_err(|e| e.to_string())
    }

    /// A store read back from [`Self::to_bytes`]; every inconsistency is an error naming it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| format!("not a taught-examples file: {e}"))?;
        let meta: StoreMeta = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get("store"))
            .ok_or("not a taught-examples file: no store metadata")
            .and_then(|m| serde_json::from_str(m).map_err(|_| "unreadable store metadata"))?;
        if meta.format != STORE_FORMAT {
            return Err(format!("a {} file, not {STORE_FORMAT}", meta.format));
        }
        let tensors = candle_core::safetensors::load_buffer(bytes, &candle_core::Device::Cpu)
            .map_err(|e| e.to_string())?;
        let mut store = Self::with_cap(meta.width, meta.cap);
        for (i, (name, stride, offered)) in meta.labels.into_iter().enumerate() {
            let get = |k: &str| {
                tensors
                    .get(&format!("{k}.{i}"))
                    .ok_or(format!("label {name}: no {k}"))
            };
            let rows = get("rows")?
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| format!("label {name}: {e}"))?;
            let sources: Vec<u64> = get("sources")?
                .to_vec1::<i64>()
                .map_err(|e| format!("label {name}: {e}"))?
                .into_iter()
                .map(|s| s as u64)
                .collect();
            if rows.len() != sources.len() * meta.width || sources.is_empty() {
                return Err(format!(
                    "label {name}: {} values for {} windows of {}",
                    rows.len(),
                    sources.len(),
                    meta.width
                ));
            }
            if let Some(index) = rows.iter().position(|v| !v.is_finite()) {
                return Err(format!("label {name}: value {index} is not finite"));
            }
            if name.trim().is_empty() || stride == 0 {
                return Err(format!("label {i}: blank name or zero stride"));
            }
            store.labels.push(LabelWindows {
                name,
                rows,
                sources,
                stride,
                offered,
            });
        }
        Ok(store)
    }
}

const STORE_FORMAT: &str = "genre-tagger taught examples v1";

/// What [`ExampleStore::to_bytes`] keeps beside the tensors.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoreMeta {
    format: String,
    width: usize,
    cap: usize,
    /// Per label: name, stride, windows offered so far.
    labels: Vec<(String, usize, usize)>,
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
    fn a_store_survives_its_bytes_and_a_source_can_be_forgotten() {
        let mut s = ExampleStore::with_cap(3, 4);
        for i in 0..10u64 {
            s.add("house", i % 3, &[i as f32, 1.0, -1.0]).unwrap();
        }
        s.add("my wedding set", 7, &[0.5, 0.25, 0.125]).unwrap();
        let back = ExampleStore::from_bytes(&s.to_bytes().unwrap()).unwrap();
        assert_eq!(back.labels(), s.labels());
        assert_eq!(back.labels[0].rows, s.labels[0].rows);
        assert_eq!(back.labels[0].sources, s.labels[0].sources);
        assert_eq!(
            (back.labels[0].stride, back.labels[0].offered),
            (s.labels[0].stride, s.labels[0].offered)
        );
        assert_eq!((back.width, back.cap), (3, 4));

        let mut s = back;
        let from_7 = s.forget_source(7);
        assert_eq!(from_7, 1);
        assert_eq!(s.labels(), ["house"], "a label left empty goes");
        let n = s.windows("house");
        let from_0 = s.forget_source(0);
        assert!(from_0 > 0);
        assert_eq!(s.windows("house"), n - from_0);
        for (k, &src) in s.labels[0].sources.iter().enumerate() {
            assert_ne!(src, 0);
            assert_eq!(
                s.labels[0].rows[k * 3] as u64 % 3,
                src,
                "rows and sources stay paired"
            );
        }

        assert!(ExampleStore::from_bytes(b"not a store").is_err());
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
