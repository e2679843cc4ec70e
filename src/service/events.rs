//! The in-process channel of change events. Publishing costs nothing but a check while nobody
//! listens; a subscriber that falls more than the backlog behind loses the oldest events and is
//! told how many (tokio's `RecvError::Lagged`), so a slow one never holds memory without bound.

use tokio::sync::broadcast;

use crate::domain::event::Event;

pub struct Events {
    sender: broadcast::Sender<Event>,
}

impl Events {
    pub fn new(backlog: usize) -> Events {
        Events {
            sender: broadcast::channel(backlog.max(1)).0,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// Whether anyone listens.
    pub fn is_listened(&self) -> bool {
        self.sender.receiver_count() > 0
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
