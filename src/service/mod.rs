//! The services between HTTP and the store: what each request and each background worker does,
//! in domain terms. Every committed change is published as a typed [`Event`] on [`Events`].
//! [`verification`] holds the verification call: creating a validation request and moving due
//! calls on share one plan of what a step writes, and the StatusCallback sender.

mod accounts;
mod caller_ids;
pub mod events;
mod subaccounts;
pub mod verification;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

pub use events::Events;
pub use verification::CallbackPolicy;

use crate::domain::call::CallStatus;
use crate::domain::event::Event;
use crate::domain::machine::Timing;
use crate::domain::sid::{AccountSid, CallSid, CallerIdSid};
use crate::domain::PhoneNumber;
use crate::metrics::Metrics;
use crate::store::{Announcement, Store, StoreError};

/// Why a service call failed. A lookup that finds nothing is `Ok(None)`, not an error.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("phone number {0} is already verified on the account")]
    AlreadyVerified(PhoneNumber),
    #[error("account {0} already exists")]
    AccountExists(AccountSid),
    #[error("account {0} does not exist")]
    NoSuchAccount(AccountSid),
    /// A status change asked of a closed account.
    #[error("account {0} is closed")]
    AccountClosed(AccountSid),
    /// `POST /Accounts` by a subaccount: only a main account has subaccounts.
    #[error("account {0} is a subaccount and cannot create subaccounts")]
    SubaccountCannotCreate(AccountSid),
    /// Digits for a call that has ended (its status, when it was read).
    #[error("call {sid} has ended")]
    CallEnded {
        sid: CallSid,
        status: Option<CallStatus>,
    },
    /// A PageToken naming another account's caller ID.
    #[error("{0} is not in this list")]
    ForeignPageToken(CallerIdSid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The emulator's behaviour over one store.
pub struct Service {
    store: Store,
    events: Events,
    metrics: Arc<Metrics>,
    timing: Timing,
    policy: CallbackPolicy,
    /// The HTTP client callbacks are sent with.
    client: verification::client::CallbackClient,
    calls_due: Notify,
    callbacks_due: Notify,
    /// Callbacks the group commit stored as claimed, waiting for the sender.
    handoff: verification::handoff::Handoff,
}

impl Service {
    /// Fails if the callback client cannot be built (its timeout and no-redirect policy are
    /// not optional). `event_backlog` is how many events may wait for the event dispatcher
    /// before subscribers miss some and are told to resync.
    pub fn new(
        store: Store,
        metrics: Arc<Metrics>,
        timing: Timing,
        policy: CallbackPolicy,
        event_backlog: usize,
    ) -> Result<Service, reqwest::Error> {
        let client = verification::client::CallbackClient::new(policy.timeout)?;
        store.set_callback_timeout(policy.timeout);
        Ok(Service {
            store,
            events: Events::new(event_backlog),
            metrics,
            timing,
            policy,
            client,
            calls_due: Notify::new(),
            callbacks_due: Notify::new(),
            handoff: verification::handoff::Handoff::default(),
        })
    }

    pub fn events(&self) -> &Events {
        &self.events
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// Runs the call scheduler, the callback sender, the store's upkeep and (on a shared store)
    /// the intake of the other replicas' announcements until `stop` turns true; the sender then waits for the callbacks in flight to be recorded.
    pub async fn run_workers(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let calls = tokio::spawn(self.clone().run_calls(stop.clone()));
        let callbacks = tokio::spawn(self.clone().run_callbacks(stop.clone()));
        let remote = self
            .store
            .remote_announcements()
            .map(|remote| tokio::spawn(self.clone().run_remote(remote, stop.clone())));
        let store = self.store.clone();
        let upkeep = tokio::spawn(async move { store.run_upkeep(stop).await });
        if let Some(remote) = remote {
            let _ = remote.await;
        }
        let _ = calls.await;
        let _ = callbacks.await;
        let _ = upkeep.await;
    }

    /// Closes the store, once the workers have stopped.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Publishes the events `make` builds, if anyone listens here; while another replica on
    /// a shared store has a reader of events, they are announced to the others too.
    fn publish(&self, make: impl FnOnce() -> Vec<Event>) {
        if !self.store.others_listen() {
            return self.events.publish(make);
        }
        let events = make();
        if events.is_empty() {
            return;
        }
        self.store.announce(Announcement {
            events: events.clone(),
            ..Announcement::default()
        });
        self.events.publish(|| events);
    }

    /// Publishes events of a change made outside the service (a request journalled by the
    /// HTTP layer), as the service publishes its own.
    pub fn publish_events(&self, make: impl FnOnce() -> Vec<Event>) {
        self.publish(make);
    }

    /// Whether published events are built at all: someone listens here, or on another replica.
    fn is_published(&self) -> bool {
        self.events.is_listened() || self.store.others_listen()
    }

    /// Subscribes to the events, returning once the other replicas on a shared store announce
    /// theirs too (the store's guarantee; see `store::postgres::listeners`): the subscriber
    /// then sees what any replica does from now on.
    pub async fn subscribe_events(&self) -> events::Subscription {
        let subscription = self.events.subscribe();
        let interest = self.store.hold_event_interest().await;
        subscription.holding(interest)
    }

    /// Tells the other replicas (if any) that a call or a callback was made due, so that their
    /// workers look at the store now: when this process dies, they carry on with it.
    fn announce_due(&self, calls_due: bool, callbacks_due: bool) {
        if self.store.is_shared() && (calls_due || callbacks_due) {
            self.store.announce(Announcement {
                events: Vec::new(),
                calls_due,
                callbacks_due,
            });
        }
    }

    /// Takes what the other replicas announce until `stop` turns true: their events are
    /// published here as this process's own are; their wake-ups wake the workers.
    async fn run_remote(
        self: Arc<Self>,
        mut remote: tokio::sync::mpsc::Receiver<Announcement>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let announcement = tokio::select! {
                got = remote.recv() => match got {
                    Some(a) => a,
                    None => return,
                },
                _ = stop.changed() => return,
            };
            if announcement.calls_due {
                self.wake_calls();
            }
            if announcement.callbacks_due {
                self.wake_callbacks();
            }
            if !announcement.events.is_empty() {
                self.events.publish(|| announcement.events);
            }
        }
    }
}

/// A retry after `delay`, from now (milliseconds).
fn after(delay: Duration) -> i64 {
    crate::domain::time::now_millis().saturating_add(delay.as_millis() as i64)
}
