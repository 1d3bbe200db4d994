//! Editor (and host automation) → worker requests. The worker only reads these.

use crate::teach::{TeachRequest, REQUEST_CAPACITY};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug)]
pub struct Controls {
    resets: AtomicU32,
    teach_tx: Sender<TeachRequest>,
    teach_rx: Receiver<TeachRequest>,
}

impl Default for Controls {
    fn default() -> Self {
        let (teach_tx, teach_rx) = crossbeam_channel::bounded(REQUEST_CAPACITY);
        Self {
            resets: AtomicU32::new(0),
            teach_tx,
            teach_rx,
        }
    }
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

    /// Asks the worker to teach (see [`TeachRequest`]); whether it was queued. Never
    /// waits: not for the audio thread (which never calls it), nor for a busy worker.
    pub fn teach(&self, request: TeachRequest) -> bool {
        !matches!(
            self.teach_tx.try_send(request),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_))
        )
    }

    /// The next teaching request, if any (the worker drains these between windows).
    pub(crate) fn next_teach_request(&self) -> Option<TeachRequest> {
        self.teach_rx.try_recv().ok()
    }
}
