//! Teaching by example in the plugin: what the editor asks of the worker, and the taught
//! session as the saved state keeps it.
//!
//! The editor never touches the examples: it sends a [`TeachRequest`] through
//! [`Controls`](crate::controls::Controls) and the worker, which owns the
//! [`TeachSession`](model::teach::TeachSession), acts on it between windows, refits in its
//! own time and writes the session into [`TaughtState`] for the host to save. Nothing here
//! runs on the audio thread.

use base64::Engine as _;
use model::teach::TeachSession;
use serde::{Deserialize, Serialize};

/// Requests the channel holds before the editor's are refused (a person clicks far slower
/// than the worker drains).
pub const REQUEST_CAPACITY: usize = 64;

/// What the editor asks the worker to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeachRequest {
    /// From now on, every analysed window is an example of this label (new or known).
    Start(String),
    /// End the segment being taught.
    Stop,
    /// Forget the last taught segment.
    Undo,
    /// Forget every example of a label.
    Forget(String),
    /// Forget everything taught: back to the default model.
    Clear,
}

/// The taught session in the plugin's saved state: [`TeachSession::to_bytes`], base64
/// (the state is JSON); empty when nothing is taught.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaughtState {
    pub session: String,
    /// Which worker wrote or read this value last (0: neither — the host just loaded it,
    /// so the running worker must read it again). Not saved.
    #[serde(skip)]
    pub generation: u64,
}

impl TaughtState {
    /// The state of `session` (empty when nothing is taught).
    pub fn of(session: &TeachSession) -> Result<Self, String> {
        if session.is_empty() {
            return Ok(Self::default());
        }
        Ok(Self::encode(&session.to_bytes()?))
    }

    /// A state holding a session's bytes as [`TeachSession::to_bytes`] wrote them (the
    /// standalone's `--taught` file). Not checked here: [`Self::session`] is where they are
    /// read, and says what is wrong.
    pub fn encode(bytes: &[u8]) -> Self {
        Self {
            session: base64::engine::general_purpose::STANDARD.encode(bytes),
            generation: 0,
        }
    }

    /// The saved session (`Ok(None)` when nothing was taught); an error names what is wrong.
    pub fn session(&self) -> Result<Option<TeachSession>, String> {
        if self.session.is_empty() {
            return Ok(None);
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.session.trim())
            .map_err(|e| format!("the saved taught examples are not base64: {e}"))?;
        TeachSession::from_bytes(&bytes).map(Some)
    }
}
