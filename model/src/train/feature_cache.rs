//! An on-disk cache of backbone features per clip, so that a second `train` on the same
//! data (another learning rate, seed or head input) skips the backbone. The backbone is
//! 95 % of a musicnn training run: with MTT, 5 levels and a 2-s hop, ~2.6 s per 30-s clip
//! on one core, against seconds for the whole head training.
//!
//! A clip's entry is keyed by the SHA-256 of everything its features depend on — the
//! backbone's tensors, the clip's mel and frame energies (so a changed audio file or front
//! end misses, whatever its path), the front-end/window settings, the head input, the hop
//! and the levels — so a stale entry cannot be read, only missed. Entries are written
//! atomically (temporary file, then rename); an unreadable or mismatched entry is reported
//! and recomputed, never trusted.

use crate::weights::ModelCard;
use crate::Result;
use candle_core::{DType, Device, Tensor};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bump when the backbone's forward pass or the feature selection changes in a way the
/// key cannot see (code, not data): every older entry then misses.
const FORMAT_VERSION: u32 = 1;

pub struct FeatureCache {
    dir: PathBuf,
    /// Hash of the backbone's tensors, names and all.
    backbone: [u8; 32],
    hits: AtomicUsize,
    misses: AtomicUsize,
}

/// What an entry's features were computed from, besides the clip's mel.
pub struct FeatureRecipe<'a> {
    pub card: &'a ModelCard,
    /// Which output of the backbone
    /// ([`FeatureBackbone::describe`](super::FeatureBackbone::describe)).
    pub features: serde_json::Value,
    pub hop_frames: usize,
    pub levels_db: &'a [f32],
}

impl FeatureCache {
    /// A cache in `dir` (created when first written) for the backbone made of `tensors`.
    pub fn new(dir: impl Into<PathBuf>, tensors: &HashMap<String, Tensor>) -> Result<Self> {
        let mut names: Vec<&String> = tensors.keys().collect();
        names.sort();
        let mut h = Sha256::new();
        for name in names {
            let t = tensors[name]
                .to_dtype(DType::F32)?
                .to_device(&Device::Cpu)?;
            h.update(name.as_bytes());
            h.update(format!("{:?}", t.dims()).as_bytes());
            for v in t.flatten_all()?.to_vec1::<f32>()? {
                h.update(v.to_le_bytes());
            }
        }
        Ok(Self {
            dir: dir.into(),
            backbone: h.finalize().into(),
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Entries found / computed since this cache was opened.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> usize {
        self.misses.load(Ordering::Relaxed)
    }

    /// The entry's file for one clip's mel under `recipe`.
    pub fn entry(&self, mel: &crate::mel::Mel, recipe: &FeatureRecipe<'_>) -> PathBuf {
        let mut h = Sha256::new();
        h.update(FORMAT_VERSION.to_le_bytes());
        h.update(self.backbone);
        // The settings as JSON: every field the card serialises is part of the key.
        let settings = serde_json::json!({
            "mel": recipe.card.front_end, "norm": recipe.card.norm,
            "window_frames": recipe.card.window_frames,
            "input": recipe.features, "hop_frames": recipe.hop_frames,
            "levels_db": recipe.levels_db,
        });
        h.update(settings.to_string().as_bytes());
        h.update((mel.n_mels as u64).to_le_bytes());
        for v in mel.data.iter().chain(&mel.energy) {
            h.update(v.to_le_bytes());
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(&hex[..2]).join(format!("{hex}.safetensors"))
    }

    /// The cached `[rows, dim]` features at `path`, or `None` when there is no entry. An
    /// entry that cannot be read or has the wrong shape is an error the caller reports
    /// before recomputing. Both count as misses.
    pub fn load(
        &self,
        path: &Path,
        rows: usize,
        dim: usize,
    ) -> std::result::Result<Option<Vec<f32>>, String> {
        let found = Self::read(path, rows, dim);
        let counter = if matches!(found, Ok(Some(_))) {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn read(path: &Path, rows: usize, dim: usize) -> std::result::Result<Option<Vec<f32>>, String> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let t = st
            .tensor("features")
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if t.dtype() != safetensors::Dtype::F32 || t.shape() != [rows, dim] {
            return Err(format!(
                "{}: {:?} {:?}, expected F32 [{rows}, {dim}]",
                path.display(),
                t.dtype(),
                t.shape()
            ));
        }
        let x: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if x.iter().any(|v| !v.is_finite()) {
            return Err(format!("{}: non-finite features", path.display()));
        }
        Ok(Some(x))
    }

    /// Writes `[rows, dim]` features to `path` atomically.
    pub fn store(&self, path: &Path, x: &[f32], rows: usize, dim: usize) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir)?;
        let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view =
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![rows, dim], &bytes)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        let data = safetensors::serialize([("features", view)], None)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
            std::process::id()
        ));
        std::fs::write(&tmp, data)?;
        std::fs::rename(&tmp, path)
    }
}
