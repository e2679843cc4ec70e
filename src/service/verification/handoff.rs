//! Callbacks handed from the validation request that queued them straight to the sender: the
//! group commit stores them already claimed (`sending`), so the sender delivers them without a
//! statement to claim them. Bounded: past [`LIMIT`] waiting, new callbacks are queued in the
//! store for the sender to claim as usual. One still waiting at a crash or a shutdown is
//! `sending` in the store, and is sent after the restart with the same idempotency token.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::domain::callback::Callback;

/// The most callbacks waiting here.
const LIMIT: usize = 4096;

#[derive(Default)]
pub struct Handoff {
    waiting: Mutex<VecDeque<Callback>>,
    /// A callback was queued in the store since the sender last claimed.
    queued: AtomicBool,
}

impl Handoff {
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Callback>> {
        // Only pushes and pops run under the lock: a poisoned one still holds a whole queue.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes that a callback was queued in the store for the sender to claim.
    pub fn mark_queued(&self) {
        self.queued.store(true, Ordering::Release);
    }

    /// Whether a callback was queued in the store since the last call.
    pub fn take_queued(&self) -> bool {
        self.queued.swap(false, Ordering::AcqRel)
    }

    /// Whether callbacks wait for the sender: handed over, or queued in the store.
    pub fn is_waiting(&self) -> bool {
        self.queued.load(Ordering::Acquire) || !self.queue().is_empty()
    }

    /// Whether a callback handed over now would be taken.
    pub fn has_room(&self) -> bool {
        self.queue().len() < LIMIT
    }

    pub fn push(&self, callback: Callback) {
        self.queue().push_back(callback);
    }

    /// Up to `n` callbacks, oldest first.
    pub fn take(&self, n: usize) -> Vec<Callback> {
        let mut queue = self.queue();
        let n = n.min(queue.len());
        queue.drain(..n).collect()
    }
}
