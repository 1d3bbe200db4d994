//! Live teaching: what a player (the plugin's worker) keeps while the user teaches by
//! example. The user starts a segment with a label ("this is house"), every analysed window
//! until they stop goes into the [`ExampleStore`] under it, and [`TeachSession::model`]
//! refits the taught decision on the default network. Segments are the unit of undo.
//!
//! The session is the whole of what was taught: [`TeachSession::to_bytes`] is what a saved
//! plugin state holds, and [`TeachSession::export`] the model file a user takes elsewhere
//! (`tag --model`, Python, another plugin instance).

use super::fit::{fit, model_labels, network_tensors, Taught, TeachConfig};
use super::store::{ExampleStore, StoreError};
use crate::nets::efficientat::MnConfig;
use crate::weights::LoadedModel;
use crate::Result;
use candle_core::{Device, Tensor};
use std::collections::HashMap;

/// Where a saved session's segments and source counter live in its bytes.
const SESSION_KEY: &str = "session";

/// One live teaching session (see the module docs).
pub struct TeachSession {
    store: ExampleStore,
    config: TeachConfig,
    /// Taught segments, oldest first: (label, source id); the last is undone first.
    segments: Vec<(String, u64)>,
    next_source: u64,
    /// The segment being taught now.
    active: Option<(String, u64)>,
    /// The default network's tensors, read once when the first model is built.
    network: Option<HashMap<String, Tensor>>,
    /// The examples changed since the last [`Self::model`].
    changed: bool,
}

impl Default for TeachSession {
    fn default() -> Self {
        Self::new()
    }
}

impl TeachSession {
    /// Nothing taught, teaching the default network (mn04's logits and embedding), fitted
    /// with [`TeachConfig::live`].
    pub fn new() -> Self {
        let net = MnConfig::mn04_as();
        Self {
            store: ExampleStore::new(net.num_classes + net.embedding_dim()),
            config: TeachConfig::live(),
            segments: Vec::new(),
            next_source: 0,
            active: None,
            network: None,
            changed: false,
        }
    }

    /// As [`Self::new`], fitting with `config`.
    pub fn with_config(config: TeachConfig) -> Self {
        Self {
            config,
            ..Self::new()
        }
    }

    /// Values per taught window ([`crate::net::NetOutput::teach_features`]'s width).
    pub fn width(&self) -> usize {
        self.store.width()
    }

    /// Starts a segment of `label` (trimmed; any name, the ten genres or new ones): the
    /// windows offered from now on are examples of it. Ends the segment before.
    pub fn start(&mut self, label: &str) -> std::result::Result<(), StoreError> {
        let label = label.trim();
        if label.is_empty() {
            return Err(StoreError::BlankLabel);
        }
        self.stop();
        self.active = Some((label.to_string(), self.next_source));
        self.next_source += 1;
        Ok(())
    }

    /// Ends the segment being taught (a segment that got no window leaves no trace).
    pub fn stop(&mut self) {
        self.active = None;
    }

    /// The label being taught now.
    pub fn teaching(&self) -> Option<&str> {
        self.active.as_ref().map(|(l, _)| l.as_str())
    }

    /// Offers one analysed window's features; kept (`Ok(true)`) while a segment is being
    /// taught. A window of the wrong width or with a non-finite value is refused.
    pub fn offer(&mut self, features: &[f32]) -> std::result::Result<bool, StoreError> {
        let Some((label, source)) = self.active.clone() else {
            return Ok(false);
        };
        self.store.add(&label, source, features)?;
        if self.segments.last().map(|s| s.1) != Some(source) {
            self.segments.push((label, source));
        }
        self.changed = true;
        Ok(true)
    }

    /// Forgets the last taught segment (the one being taught, if it has windows); its label.
    pub fn undo(&mut self) -> Option<String> {
        let (label, source) = self.segments.pop()?;
        if self.active.as_ref().is_some_and(|a| a.1 == source) {
            self.active = None;
        }
        self.store.forget_source(source);
        self.changed = true;
        Some(label)
    }

    /// Forgets every example of `label`; whether there were any.
    pub fn forget(&mut self, label: &str) -> bool {
        let label = label.trim();
        if self.active.as_ref().is_some_and(|a| a.0 == label) {
            self.active = None;
        }
        self.segments.retain(|s| s.0 != label);
        let had = self.store.forget(label);
        self.changed |= had;
        had
    }

    /// Forgets everything taught: back to the default.
    pub fn clear(&mut self) {
        let had = !self.store.is_empty();
        *self = Self {
            network: self.network.take(),
            next_source: self.next_source,
            ..Self::new()
        };
        self.changed = had;
    }

    /// The taught labels with their kept windows, in the order first taught.
    pub fn labels(&self) -> Vec<(String, usize)> {
        self.store
            .labels()
            .into_iter()
            .map(|l| (l.to_string(), self.store.windows(l)))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// The labels the taught model will have (`None` when nothing is taught: the
    /// default's), without fitting it.
    pub fn model_labels(&self) -> Option<Vec<String>> {
        (!self.store.is_empty()).then(|| model_labels(&self.store))
    }

    /// Whether the examples changed since the last [`Self::model`].
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The taught model on `device` (`None` when nothing is taught: use the default), fitted
    /// afresh; clears [`Self::changed`].
    pub fn model(&mut self, device: &Device) -> Result<Option<LoadedModel>> {
        self.changed = false;
        self.fitted(|taught, network, trained_on| taught.model(network, trained_on, device))
    }

    /// The taught model as a model file's bytes (`None` when nothing is taught).
    pub fn export(&mut self) -> Result<Option<Vec<u8>>> {
        self.fitted(|taught, network, trained_on| taught.model_bytes(network, trained_on))
    }

    /// Fits the examples and hands the fit, the default network's tensors (read once, then
    /// kept) and the model's provenance to `make`; `None` when nothing is taught.
    fn fitted<T>(
        &mut self,
        make: impl FnOnce(&Taught, &HashMap<String, Tensor>, &str) -> Result<T>,
    ) -> Result<Option<T>> {
        if self.store.is_empty() {
            return Ok(None);
        }
        let taught = fit(&self.store, &self.config)?;
        let network = match self.network.take() {
            Some(n) => n,
            None => network_tensors(&Device::Cpu)?,
        };
        let made = make(&taught, &network, &self.trained_on());
        self.network = Some(network);
        made.map(Some)
    }

    fn trained_on(&self) -> String {
        let labels: Vec<String> = self
            .labels()
            .into_iter()
            .map(|(l, n)| format!("{l} ({n} windows)"))
            .collect();
        format!("taught live: {}", labels.join(", "))
    }

    /// The session as bytes: the examples and the segments (not the segment being taught:
    /// a restored session is not teaching).
    pub fn to_bytes(&self) -> std::result::Result<Vec<u8>, String> {
        let store = self.store.to_bytes()?;
        let meta = serde_json::json!({
            "segments": self.segments,
            "next_source": self.next_source,
        });
        // The store's bytes, then the session's JSON and its length: one blob, read back in
        // the same order.
        let meta = meta.to_string().into_bytes();
        let mut out = store;
        out.extend_from_slice(&meta);
        out.extend_from_slice(&(meta.len() as u64).to_le_bytes());
        out.extend_from_slice(SESSION_KEY.as_bytes());
        Ok(out)
    }

    /// A session read back from [`Self::to_bytes`]; a clear error for anything else.
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Self, String> {
        let bad = |why: &str| format!("not a saved teaching session: {why}");
        let rest = bytes
            .strip_suffix(SESSION_KEY.as_bytes())
            .ok_or_else(|| bad("no session marker"))?;
        let (rest, len) = rest
            .split_last_chunk::<8>()
            .ok_or_else(|| bad("too short"))?;
        let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| bad("bad length"))?;
        let split = rest
            .len()
            .checked_sub(len)
            .ok_or_else(|| bad("bad length"))?;
        let (store, meta) = rest.split_at(split);
        let meta: serde_json::Value =
            serde_json::from_slice(meta).map_err(|_| bad("unreadable segments"))?;
        let segments: Vec<(String, u64)> = serde_json::from_value(meta["segments"].clone())
            .map_err(|_| bad("unreadable segments"))?;
        let next_source = meta["next_source"]
            .as_u64()
            .ok_or_else(|| bad("no source counter"))?;
        let store = ExampleStore::from_bytes(store)?;
        let fresh = Self::new();
        if store.width() != fresh.width() {
            return Err(format!(
                "the saved examples hold {} values per window; the default network gives {}",
                store.width(),
                fresh.width()
            ));
        }
        let changed = !store.is_empty();
        Ok(Self {
            store,
            segments,
            next_source,
            changed,
            ..fresh
        })
    }
}
