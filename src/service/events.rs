//! The in-process channel of change events. Publishing costs one atomic load while nobody
//! listens; a subscriber that falls more than the backlog behind loses the oldest events and is
//! told how many (tokio's `RecvError::Lagged`), so a slow one never holds memory without bound.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::domain::event::Event;

pub struct Events {
    sender: broadcast::Sender<Event>,
    /// Subscriptions alive, kept beside the channel's own count, which takes a lock to read.
    listeners: Arc<AtomicUsize>,
}

/// A receiver of every event published from now on; counted while it lives.
pub struct Subscription {
    receiver: broadcast::Receiver<Event>,
    listeners: Arc<AtomicUsize>,
}

impl Deref for Subscription {
    type Target = broadcast::Receiver<Event>;
    fn deref(&self) -> &Self::Target {
        &self.receiver
    }
}

impl DerefMut for Subscription {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.receiver
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.listeners.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Events {
    pub fn new(backlog: usize) -> Events {
        Events {
            sender: broadcast::channel(backlog.max(1)).0,
            listeners: Arc::default(),
        }
    }

    pub fn subscribe(&self) -> Subscription {
        self.listeners.fetch_add(1, Ordering::Relaxed);
        Subscription {
            receiver: self.sender.subscribe(),
            listeners: self.listeners.clone(),
        }
    }

    /// Whether anyone listens.
    pub fn is_listened(&self) -> bool {
        self.listeners.load(Ordering::Relaxed) > 0
    }

    /// Publishes what `make` builds, if anyone listens.
    pub fn publish(&self, make: impl FnOnce() -> Vec<Event>) {
        if !self.is_listened() {
            return;
        }
        for event in make() {
            // Only fails when the last subscriber left meanwhile.
            let _ = self.sender.send(event);
        }
    }
}
