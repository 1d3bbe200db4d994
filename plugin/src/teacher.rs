//! The worker's side of teaching: it owns the [`TeachSession`], turns the editor's
//! [`TeachRequest`]s into changes of it, offers it the windows being taught, and says when
//! a refitted model should be swapped into the Tagger — the taught one, or the model the
//! worker loaded when nothing is taught any more. Every change is written into the
//! parameters' [`TaughtState`] so the host saves it (and, in the standalone with
//! `--taught`, into that file).
//!
//! A saved state the host loads while the worker runs is noticed by its generation (see
//! [`TaughtState::generation`]) and read again.
//!
//! Refits are immediate for a request (stop, undo, forget, clear, a reload) and at most every
//! [`REFIT_EVERY`] while a segment grows: a fit of a full store takes a few tenths of a
//! second, which the 8-s ring absorbs, but not at every window.

use crate::params::TaggerParams;
use crate::teach::{TaughtState, TeachRequest};
use model::tagger::WindowResult;
use model::teach::TeachSession;
use model::weights::LoadedModel;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Generations handed to teachers: each reads or writes the saved state under its own.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// How often a growing segment is refitted.
pub const REFIT_EVERY: Duration = Duration::from_secs(3);

pub struct Teacher {
    session: TeachSession,
    /// The model the worker loaded: what plays when nothing is taught.
    base: Arc<LoadedModel>,
    /// A request asked for a refit now.
    refit_now: bool,
    /// Counts changes to what [`Self::teaching`] and [`Self::taught`] say, so the worker
    /// rebuilds its snapshot of them only when they moved.
    revision: u64,
    last_fit: Option<Instant>,
    /// The generation this teacher stamps on the saved state (see [`TaughtState`]).
    generation: u64,
    /// The standalone's `--taught` file, written after every refit.
    file: Option<PathBuf>,
}

impl Teacher {
    /// A teacher on `base`, with what `params` saved; an unreadable saved session is
    /// reported and left in the parameters untouched (nothing lost) until the user teaches.
    pub fn new(
        base: Arc<LoadedModel>,
        params: &TaggerParams,
        file: Option<PathBuf>,
    ) -> (Self, Option<String>) {
        let mut t = Self {
            session: TeachSession::new(),
            base,
            refit_now: false,
            revision: 0,
            last_fit: None,
            generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
            file,
        };
        let error = t.reload(params).err();
        (t, error)
    }

    /// Whether the saved state was replaced since this teacher last read or wrote it (the
    /// host loaded a session).
    pub fn stale(&self, params: &TaggerParams) -> bool {
        params
            .taught
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .generation
            != self.generation
    }

    /// Reads the saved state again (after the host loaded one).
    pub fn reload(&mut self, params: &TaggerParams) -> Result<(), String> {
        let saved = {
            let mut state = params.taught.write().unwrap_or_else(|e| e.into_inner());
            state.generation = self.generation;
            state.session()
        };
        let session = saved.map_err(|e| {
            format!("what was taught could not be restored ({e}); teaching starts afresh")
        })?;
        self.session = session.unwrap_or_default();
        self.refit_now = true;
        self.revision += 1;
        Ok(())
    }

    /// The label being taught now.
    pub fn teaching(&self) -> Option<&str> {
        self.session.teaching()
    }

    /// The taught labels and their windows.
    pub fn taught(&self) -> Vec<(String, usize)> {
        self.session.labels()
    }

    /// Moves whenever [`Self::teaching`] or [`Self::taught`] may have changed.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Acts on one request; an error says what could not be done.
    pub fn handle(&mut self, request: TeachRequest) -> Result<(), String> {
        match request {
            TeachRequest::Start(label) => {
                if !self.can_teach() {
                    return Err(format!(
                        "{} cannot be taught: teaching needs the default (EfficientAT) network",
                        self.base.source
                    ));
                }
                self.session.start(&label).map_err(|e| e.to_string())?;
            }
            TeachRequest::Stop => self.session.stop(),
            TeachRequest::Undo => {
                self.session.undo();
            }
            TeachRequest::Forget(label) => {
                self.session.forget(&label);
            }
            TeachRequest::Clear => self.session.clear(),
        }
        self.refit_now = true;
        self.revision += 1;
        Ok(())
    }

    /// Whether the loaded model's windows can be taught (it is the default network, as a
    /// model file's card says before any window is seen).
    fn can_teach(&self) -> bool {
        matches!(self.base.card.arch, model::arch::Arch::EfficientAt(_))
    }

    /// Offers an analysed window while a segment is being taught (silent ones are not
    /// music of the label).
    pub fn offer(&mut self, w: &WindowResult) -> Result<(), String> {
        if self.session.teaching().is_none() || w.silent {
            return Ok(());
        }
        let kept = self
            .session
            .offer(&w.features)
            .map_err(|e| format!("a window could not be taught: {e}"))?;
        self.revision += u64::from(kept);
        Ok(())
    }

    /// The model to swap in, when one is due: refitted from the session (the base model
    /// once nothing is taught). The saved state follows every refit.
    pub fn refit(&mut self, params: &TaggerParams) -> Option<Result<Arc<LoadedModel>, String>> {
        let growing =
            self.session.changed() && self.last_fit.is_none_or(|t| t.elapsed() >= REFIT_EVERY);
        if !(self.refit_now || growing) {
            return None;
        }
        self.refit_now = false;
        self.last_fit = Some(Instant::now());
        let fitted = match self.session.model(&self.base.device) {
            Ok(Some(m)) => Arc::new(m),
            Ok(None) => self.base.clone(),
            Err(e) => return Some(Err(format!("teaching could not refit: {e}"))),
        };
        // Serialised once, for the parameters and the standalone's file alike.
        let bytes = match (!self.session.is_empty()).then(|| self.session.to_bytes()) {
            None => None,
            Some(Ok(b)) => Some(b),
            Some(Err(e)) => return Some(Err(format!("what was taught could not be saved: {e}"))),
        };
        *params.taught.write().unwrap_or_else(|e| e.into_inner()) = TaughtState {
            generation: self.generation,
            ..bytes
                .as_deref()
                .map(TaughtState::encode)
                .unwrap_or_default()
        };
        if let Some(path) = &self.file {
            if let Err(e) = write_file(path, bytes.as_deref()) {
                return Some(Err(format!(
                    "cannot keep what was taught in {}: {e}",
                    path.display()
                )));
            }
        }
        Some(Ok(fitted))
    }
}

/// A session's bytes into `path`, whole or not at all (a temporary file renamed over it);
/// `None` (nothing taught) removes it.
fn write_file(path: &Path, bytes: Option<&[u8]>) -> Result<(), String> {
    let Some(bytes) = bytes else {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
            _ => Ok(()),
        };
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}
