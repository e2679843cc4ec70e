//! Delivers queued StatusCallback requests. The callbacks taken at once are delivered by
//! receiver, a task per receiver and batch ([`super::batch`]), bounded in number, so a
//! receiver that is slow or down never holds up the API or other callbacks; each attempt is
//! recorded by the [`Recorder`] with the others finished meanwhile. On shutdown the sender
//! waits for the deliveries in flight and their records, so that each is recorded before the
//! database closes and none is sent again after a restart.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::batch::{by_receiver, deliver_batch, Urls};
use super::recorder::Recorder;
use crate::domain::callback::Callback;
use crate::domain::time::now_millis;
use crate::service::Service;

/// Deliveries in flight at once.
pub(super) const MAX_IN_FLIGHT: usize = 64;

/// On a shared store, how often the sender reads when the next callback is due even when
/// nothing here queued one: another replica may have queued it and died, or a lease ended.
const SHARED_POLL: Duration = Duration::from_secs(1);

/// The least time between two takes of callbacks: while they keep coming, each take gathers
/// a couple of milliseconds' worth, sent as one batch per receiver (one task and one first
/// connection each) instead of one at a time. A callback that comes alone is taken at once.
const GATHER: Duration = Duration::from_millis(2);

impl Service {
    /// Runs the callback sender until `shutdown` turns true, then waits for the deliveries in
    /// flight (at most one attempt's timeout and a second) before returning.
    pub async fn run_callbacks(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        run(self, shutdown).await;
    }
}

async fn run(service: Arc<Service>, mut shutdown: watch::Receiver<bool>) {
    let (recorder, recording) = Recorder::start(service.clone());
    let mut in_flight = JoinSet::new();
    // Callbacks taken and not yet settled, in the batches of `in_flight`.
    let busy = Arc::new(AtomicUsize::new(0));
    let mut urls = Urls::default();
    // When the store's next callback is due, as last read: claiming is a write, made only when
    // one is due; the time is read again after a claim and whenever one was queued meanwhile.
    let mut due_at = Some(0);
    let shared = service.store.is_shared();
    let mut read_at = Instant::now();
    let mut taken_at = Instant::now() - GATHER;
    loop {
        if *shutdown.borrow() {
            break;
        }
        while in_flight.try_join_next().is_some() {}
        let since = taken_at.elapsed();
        if since < GATHER {
            tokio::select! {
                _ = tokio::time::sleep(GATHER - since) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        // First what was handed over already claimed, then what the store has due.
        let handed = service
            .handoff
            .take(MAX_IN_FLIGHT.saturating_sub(busy.load(Ordering::Acquire)));
        let free = MAX_IN_FLIGHT.saturating_sub(busy.load(Ordering::Acquire) + handed.len()) as i64;
        // While every slot is busy, nothing could be claimed: the due time is read once one
        // frees up (the flag stays set until then), not on every wake-up.
        if free > 0
            && (service.handoff.take_queued() || (shared && read_at.elapsed() >= SHARED_POLL))
        {
            due_at = next_due(&service).await;
            read_at = Instant::now();
        }
        let now = now_millis();
        let claimed = if free > 0 && due_at.is_some_and(|at| at <= now) {
            let claimed = match service.store.claim_due_callbacks(now, free).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim due callbacks");
                    Vec::new()
                }
            };
            due_at = next_due(&service).await;
            read_at = Instant::now();
            claimed
        } else {
            Vec::new()
        };
        let taken: Vec<Callback> = handed.into_iter().chain(claimed).collect();
        if !taken.is_empty() {
            taken_at = Instant::now();
        }
        for batch in by_receiver(&mut urls, taken) {
            busy.fetch_add(batch.len(), Ordering::AcqRel);
            let (service, recorder, busy) = (service.clone(), recorder.clone(), busy.clone());
            in_flight.spawn(deliver_batch(service, recorder, busy, batch));
        }
        // With every slot busy, a settled callback wakes the loop: nothing to time until then.
        let full = busy.load(Ordering::Acquire) >= MAX_IN_FLIGHT;
        let wait = match due_at {
            Some(at) if !full => (at - now_millis()).clamp(1, 1_000),
            _ => 1_000,
        };
        tokio::select! {
            // A callback was handed over or queued, or a delivery ended: a slot is free (and
            // a retry may be due).
            _ = service.callbacks_due.notified() => {}
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            _ = shutdown.changed() => {}
        }
    }
    if !in_flight.is_empty() {
        drain(&service, &mut in_flight).await;
    }
    // Every delivery has handed over its attempt, or was cut short: record what was handed.
    drop(recorder);
    let _ = recording.await;
}

/// When the store's next callback is due (on a shared store, or the soonest lease runs out);
/// after a failed read, shortly (so that it is tried).
async fn next_due(service: &Service) -> Option<i64> {
    let read = async {
        let due = service.store.next_callback_due().await?;
        if !service.store.is_shared() {
            return Ok(due);
        }
        let lease_end = service.store.next_lease_end().await?;
        Ok::<_, crate::store::StoreError>(due.into_iter().chain(lease_end).min())
    };
    match read.await {
        Ok(at) => at,
        Err(e) => {
            tracing::warn!(error = %e, "could not read when the next callback is due");
            Some(now_millis().saturating_add(250))
        }
    }
}

/// Waits for the deliveries in flight, at most one attempt's timeout and a second.
async fn drain(service: &Service, in_flight: &mut JoinSet<()>) {
    let grace = service.policy.timeout + Duration::from_secs(1);
    tracing::info!(
        deliveries = in_flight.len(),
        "waiting for status callbacks in flight"
    );
    let drained = tokio::time::timeout(grace, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            deliveries = in_flight.len(),
            "status callbacks still in flight at shutdown; they will be sent again on restart"
        );
        in_flight.shutdown().await;
    }
}

/// The URL a callback's attempts request, before any GET parameters: the stored URL without
/// user info or fragment.
pub(super) fn base_url(stored: &str) -> Option<Url> {
    let mut url = Url::parse(stored).ok()?;
    // Never send credentials, and keep reqwest from turning user info into Authorization.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    Some(url)
}
