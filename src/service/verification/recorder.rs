//! Records callback attempts in groups: each delivery hands its attempt to a task of its own,
//! which writes every attempt waiting in one transaction, then counts and publishes them. A
//! callback stays `sending` until its attempt is recorded, so a crash before then sends it
//! again after the restart, with the same idempotency token.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::domain::callback::{Attempted, CallbackState};
use crate::domain::event::Event;
use crate::domain::sid::{AccountSid, CallSid};
use crate::service::Service;

/// The most attempts recorded together.
const PER_TRANSACTION: usize = 256;

/// Attempts waiting to be recorded, at most; a delivery waits for room beyond that.
const BACKLOG: usize = 1024;

/// One finished attempt, with the call it belongs to for its event.
pub(super) struct Finished {
    pub account_sid: AccountSid,
    pub call_sid: CallSid,
    pub attempted: Attempted,
}

/// Where deliveries hand their attempts; the task ends once every clone is gone and what they
/// handed over is recorded.
#[derive(Clone)]
pub(super) struct Recorder(mpsc::Sender<Finished>);

impl Recorder {
    pub fn start(service: Arc<Service>) -> (Recorder, JoinHandle<()>) {
        let (queue, finished) = mpsc::channel(BACKLOG);
        (Recorder(queue), tokio::spawn(run(service, finished)))
    }

    pub async fn record(&self, finished: Finished) {
        if self.0.send(finished).await.is_err() {
            tracing::warn!("an attempt was finished after the recorder stopped");
        }
    }
}

async fn run(service: Arc<Service>, mut finished: mpsc::Receiver<Finished>) {
    let mut group = Vec::with_capacity(PER_TRANSACTION);
    while finished.recv_many(&mut group, PER_TRANSACTION).await > 0 {
        let attempts: Vec<Attempted> = group.iter().map(|f| f.attempted.clone()).collect();
        if let Err(e) = service.store.record_attempts(&attempts).await {
            tracing::warn!(attempts = attempts.len(), error = %e, "could not record callback attempts");
        }
        for f in &group {
            service
                .metrics
                .callback_attempted(f.attempted.state == CallbackState::Delivered);
        }
        // A retry is queued in the store now: the sender reads when it is due.
        if group
            .iter()
            .any(|f| f.attempted.state == CallbackState::Pending)
        {
            service.wake_callbacks();
        }
        service.publish(|| {
            group
                .drain(..)
                .map(|f| Event::CallbackAttempted {
                    account_sid: f.account_sid,
                    call_sid: f.call_sid,
                    attempt: f.attempted.attempt,
                    state: f.attempted.state,
                })
                .collect()
        });
        group.clear();
    }
}
