//! The in-process channel of change events, built so that listeners cost the API next to
//! nothing:
//!
//! - publishing costs one atomic load while nobody listens, and otherwise one push onto a
//!   queue under a short lock: the same work whatever the number of subscribers;
//! - a task of its own (the dispatcher) takes what is queued as one [`Batch`] and hands it to
//!   every subscriber at once: at once when idle, then at most about every 10 ms while events
//!   keep coming, and at most every 50 ms while only `request.journalled` events wait (the
//!   per-request ones, which come by the thousand per second under load) or while batches are
//!   large (a busy API);
//! - a batch renders each view of it (all events, or one account's) once, lazily, for every
//!   subscriber that wants that view ([`Batch::view`]).
//!
//! Memory is bounded: at most `backlog` events wait for the dispatcher (more are dropped and
//! counted), and a subscriber that stops reading keeps at most [`RING`] batches; either way its
//! next read tells it how many events it missed, so it can resynchronise.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{broadcast, Notify};
use tokio::time::Instant;

use crate::domain::event::Event;
use crate::domain::sid::AccountSid;

/// Batches a subscriber may fall behind before it misses some.
pub const RING: usize = 16;
/// Sends the dispatcher may make in a row before it paces itself.
const BURST: f64 = 8.0;
/// The pace of sends while events keep coming.
const PACE: Duration = Duration::from_millis(10);
/// The least time between sends while only `request.journalled` events wait, or while the
/// last batch was a busy one.
const SLOW_PACE: Duration = Duration::from_millis(50);
/// A batch this large means a busy API: the next one waits [`SLOW_PACE`], so that writes to
/// the subscribers stay few and large.
const BUSY: usize = 256;

/// Events published between two sends, in order. Each event has a sequence number (counting
/// dropped ones), so that a subscriber can tell how many it missed.
pub struct Batch {
    /// The number of the first event of this batch.
    pub start: u64,
    pub events: Vec<Event>,
    /// Events published into this batch but dropped because the queue was full (after
    /// `events` in order).
    pub dropped: u64,
    /// The requests journalled in this process since the previous batch, by their numbers in
    /// the request journal (see [`Events::journal_advanced`]): their `request.journalled`
    /// events are taken from the journal when the batch is rendered.
    pub journal: std::ops::Range<u64>,
    /// For each of `events`, the number of the newest request journalled when it was
    /// published: the journal's events go between the batch's events in that order.
    pub journal_at: Vec<u64>,
    /// The views rendered so far, by account filter.
    views: Mutex<Vec<(Option<AccountSid>, Bytes)>>,
}

impl Batch {
    /// The number of the first event after this batch.
    pub fn end(&self) -> u64 {
        self.start + self.events.len() as u64 + self.dropped
    }

    /// The view of this batch for `filter`, rendered by `render` the first time one is asked
    /// for; every later subscriber with the same filter shares it.
    pub fn view(
        &self,
        filter: Option<&AccountSid>,
        render: impl FnOnce(&[Event]) -> Bytes,
    ) -> Bytes {
        let mut views = self.views.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, text)) = views.iter().find(|(f, _)| f.as_ref() == filter) {
            return text.clone();
        }
        let text = render(&self.events);
        views.push((filter.cloned(), text.clone()));
        text
    }
}

#[derive(Default)]
struct Queue {
    events: Vec<Event>,
    /// Whether an event other than `request.journalled` waits.
    urgent: bool,
    dropped: u64,
    /// The number of the first event waiting.
    start: u64,
    /// The journal's number at the last batch taken.
    journal_taken: u64,
    /// The journal's number when each of `events` was published.
    journal_at: Vec<u64>,
}

struct Shared {
    queue: Mutex<Queue>,
    backlog: usize,
    /// Wakes the dispatcher: when the queue gets its first event, or its first urgent one.
    wake: Notify,
    sender: broadcast::Sender<Arc<Batch>>,
    /// Subscriptions alive, kept beside the channel's own count, which takes a lock to read.
    listeners: AtomicUsize,
    dispatching: AtomicBool,
    /// The number of the newest request in the request journal.
    journal: AtomicU64,
    /// Whether requests were journalled since the last batch was taken.
    journal_pending: AtomicBool,
}

pub struct Events {
    shared: Arc<Shared>,
}

/// A receiver of every batch sent from now on; counted while it lives.
pub struct Subscription {
    receiver: broadcast::Receiver<Arc<Batch>>,
    shared: Arc<Shared>,
    /// What is left of the batch [`Subscription::recv`] reads from.
    current: Option<(Arc<Batch>, usize)>,
    /// On a shared store, what makes the other replicas announce their events while this
    /// subscription lives.
    _interest: Option<crate::store::EventInterest>,
}

impl Subscription {
    /// The next batch; `Lagged` when this subscription missed some (the next batch tells how
    /// many events), `Closed` when the channel is gone.
    pub async fn recv_batch(&mut self) -> Result<Arc<Batch>, broadcast::error::RecvError> {
        self.receiver.recv().await
    }

    /// The next event, one at a time (batches unpacked); the errors as
    /// [`Subscription::recv_batch`] has them.
    pub async fn recv(&mut self) -> Result<Event, broadcast::error::RecvError> {
        loop {
            if let Some((batch, at)) = &mut self.current {
                if let Some(event) = batch.events.get(*at) {
                    *at += 1;
                    return Ok(event.clone());
                }
                self.current = None;
            }
            self.current = Some((self.receiver.recv().await?, 0));
        }
    }
}

impl Subscription {
    /// Keeps `interest` for as long as this subscription lives.
    pub fn holding(mut self, interest: crate::store::EventInterest) -> Subscription {
        self._interest = Some(interest);
        self
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.shared.listeners.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Events {
    /// `backlog`: how many events may wait for the dispatcher at most.
    pub fn new(backlog: usize) -> Events {
        Events {
            shared: Arc::new(Shared {
                queue: Mutex::default(),
                backlog: backlog.max(1),
                wake: Notify::new(),
                sender: broadcast::channel(RING).0,
                listeners: AtomicUsize::new(0),
                dispatching: AtomicBool::new(false),
                journal: AtomicU64::new(0),
                journal_pending: AtomicBool::new(false),
            }),
        }
    }

    /// Subscribes, and starts the dispatcher on the first subscription (so it runs on the
    /// server's runtime, and only once someone listens).
    pub fn subscribe(&self) -> Subscription {
        if self.shared.listeners.fetch_add(1, Ordering::Relaxed) == 0 {
            // Requests journalled while nobody listened are not news to the first listener.
            let mut queue = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.journal_taken = self.shared.journal.load(Ordering::Acquire);
        }
        let receiver = self.shared.sender.subscribe();
        if !self.shared.dispatching.swap(true, Ordering::AcqRel) {
            tokio::spawn(dispatch(self.shared.clone()));
        }
        Subscription {
            receiver,
            shared: self.shared.clone(),
            current: None,
            _interest: None,
        }
    }

    /// Whether anyone listens.
    pub fn is_listened(&self) -> bool {
        self.shared.listeners.load(Ordering::Relaxed) > 0
    }

    /// Publishes what `make` builds, if anyone listens.
    pub fn publish(&self, make: impl FnOnce() -> Vec<Event>) {
        if self.is_listened() {
            self.enqueue(make());
        }
    }

    /// Publishes the one event `make` builds, if anyone listens.
    pub fn publish_one(&self, make: impl FnOnce() -> Event) {
        if self.is_listened() {
            self.enqueue([make()]);
        }
    }

    /// Notes that the request journal's newest request is now number `seq` (the journal
    /// numbers its requests from 1, in the order it holds them). A request costs the stream
    /// only this: its `request.journalled` event is read from the journal when the batch is
    /// rendered, instead of being built and queued per request.
    pub fn journal_advanced(&self, seq: u64) {
        self.shared.journal.fetch_max(seq, Ordering::AcqRel);
        if self.is_listened() && !self.shared.journal_pending.swap(true, Ordering::AcqRel) {
            self.shared.wake.notify_one();
        }
    }

    fn enqueue(&self, events: impl IntoIterator<Item = Event>) {
        let wake = {
            let mut queue = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            let was = (queue.events.is_empty() && queue.dropped == 0, queue.urgent);
            let journal_at = self.shared.journal.load(Ordering::Acquire);
            for event in events {
                if queue.events.len() < self.shared.backlog {
                    queue.urgent |= !matches!(event, Event::RequestJournalled { .. });
                    queue.events.push(event);
                    queue.journal_at.push(journal_at);
                } else {
                    queue.dropped += 1;
                }
            }
            was.0 || (queue.urgent && !was.1)
        };
        if wake {
            self.shared.wake.notify_one();
        }
    }
}

impl Shared {
    /// Whether anything waits, and whether it is urgent.
    fn waiting(&self) -> Option<bool> {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let journalled = self.journal_pending.load(Ordering::Acquire);
        (!queue.events.is_empty() || queue.dropped > 0 || journalled).then_some(queue.urgent)
    }

    fn take(&self) -> Batch {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let start = queue.start;
        let capacity = queue.events.len();
        let events = std::mem::replace(&mut queue.events, Vec::with_capacity(capacity));
        let journal_at = std::mem::replace(&mut queue.journal_at, Vec::with_capacity(capacity));
        let dropped = std::mem::take(&mut queue.dropped);
        queue.urgent = false;
        queue.start += events.len() as u64 + dropped;
        self.journal_pending.store(false, Ordering::Release);
        let journal_end = self
            .journal
            .load(Ordering::Acquire)
            .max(queue.journal_taken);
        let journal = queue.journal_taken..journal_end;
        queue.journal_taken = journal_end;
        Batch {
            start,
            events,
            dropped,
            journal,
            journal_at,
            views: Mutex::default(),
        }
    }
}

/// Sends what is queued as batches, paced as the module says; runs as long as the server.
async fn dispatch(shared: Arc<Shared>) {
    let mut tokens = BURST;
    let mut refilled = Instant::now();
    let mut last_send = Instant::now() - SLOW_PACE;
    let mut last_len = 0;
    let refill = |tokens: f64, since: Instant, now: Instant| {
        (tokens + (now - since).as_secs_f64() / PACE.as_secs_f64()).min(BURST)
    };
    loop {
        let Some(urgent) = shared.waiting() else {
            shared.wake.notified().await;
            continue;
        };
        let now = Instant::now();
        let due = if urgent && last_len < BUSY {
            now + PACE.mul_f64((1.0 - refill(tokens, refilled, now)).max(0.0))
        } else {
            last_send + SLOW_PACE
        };
        if due > now {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                // An urgent event while only journal events waited: look again.
                _ = shared.wake.notified() => continue,
            }
        }
        let now = Instant::now();
        tokens = (refill(tokens, refilled, now) - 1.0).max(0.0);
        refilled = now;
        last_send = now;
        // Fails only when nobody listens any more: the batch is dropped then.
        let batch = shared.take();
        last_len = batch.events.len();
        let _ = shared.sender.send(Arc::new(batch));
    }
}
