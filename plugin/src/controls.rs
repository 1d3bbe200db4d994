//! Editor (and host automation) → worker requests. The worker only reads these.

use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, Default)]
pub struct Controls {
    resets: AtomicU32,
}

impl Controls {
    /// Asks the worker to forget the analysed stream and the smoothed state. Atomics only:
    /// the reset parameter's callback may run on the audio thread.
    pub fn request_reset(&self) {
        self.resets.fetch_add(1, Ordering::AcqRel);
    }

    /// Resets requested so far (the worker acts when this moves).
    pub(crate) fn resets(&self) -> u32 {
        self.resets.load(Ordering::Acquire)
    }
}
