//! The bound on memory: at most
//! [`LibraryOptions::max_pending_windows`](super::LibraryOptions::max_pending_windows)
//! windows on their way through the network at once, as permits that both paths take
//! before handing a window on, with the highest count reached.

use super::messages::Halt;
use crossbeam_channel::{bounded, select, Receiver, Sender};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Room for windows on their way through the network: one permit per window, taken
/// before the window is handed on and given back once the network is through with it.
/// The permits are the slots of a bounded channel, so taking one waits when none is left.
pub(super) struct Permits {
    slots: Sender<()>,
    returned: Receiver<()>,
    held: AtomicUsize,
    pub(super) peak: AtomicUsize,
}

impl Permits {
    pub(super) fn new(n: usize) -> Self {
        let (slots, returned) = bounded(n);
        Self {
            slots,
            returned,
            held: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Waits for a permit; [`Halt::Stop`] when the run ends first.
    pub(super) fn take(&self, stop: &Receiver<()>) -> Result<(), Halt> {
        select! {
            send(self.slots, ()) -> sent => sent.map_err(|_| Halt::Stop)?,
            recv(stop) -> _ => return Err(Halt::Stop),
        }
        self.note_taken();
        Ok(())
    }

    /// A permit if one is free now.
    pub(super) fn try_take(&self) -> bool {
        let ok = self.slots.try_send(()).is_ok();
        if ok {
            self.note_taken();
        }
        ok
    }

    fn note_taken(&self) {
        let held = self.held.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(held, Ordering::Relaxed);
    }

    pub(super) fn give_back(&self, n: usize) {
        self.held.fetch_sub(n, Ordering::Relaxed);
        for _ in 0..n {
            // Each of the `n` was sent by its taker, so it is there to receive.
            let _ = self.returned.recv();
        }
    }
}
