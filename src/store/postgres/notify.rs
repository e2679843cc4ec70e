//! Events and wake-ups shared between the replicas over PostgreSQL's `LISTEN/NOTIFY`.
//!
//! The request path only pushes an [`Announcement`] on an in-process queue
//! ([`PgStore::announce`]); the announcer task sends what has queued up as few NOTIFYs on
//! [`CHANNEL`] as fit it (a payload is at most [`PAYLOAD_LIMIT`] bytes), each naming this
//! replica. The listener task holds a connection of its own `LISTEN`ing on the channel
//! (sqlx's `PgListener`, which reconnects after the connection is lost) and hands the other
//! replicas' announcements to [`PgStore::remote_announcements`]. NOTIFY is delivered once the
//! sending transaction commits and only to sessions listening then: an announcement made while
//! a replica's listener is reconnecting is lost to it (its workers' fallback poll still finds
//! the work; a live view misses the events).

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::{mpsc, watch};

use super::{credentials, listeners, wire, PgStore};
use crate::store::Announcement;

/// The channel every replica listens on.
pub const CHANNEL: &str = "callerid_events";

/// The most bytes of one NOTIFY payload: PostgreSQL refuses 8000 and more.
pub(super) const PAYLOAD_LIMIT: usize = 7_900;

/// The most announcements waiting to be sent; past it new ones are dropped (and logged), so a
/// database that stops answering never holds memory without bound.
pub(super) const OUTBOX_LIMIT: usize = 65_536;

/// The most announcements received and not yet taken by the service.
pub(super) const INBOX_LIMIT: usize = 65_536;

/// The most announcements sent in one round trip.
const PER_SEND: usize = 1_024;

/// Wait after a failed send or listen, before trying again.
const RETRY: Duration = Duration::from_millis(500);

impl PgStore {
    /// Queues `announcement` for the other replicas; never waits.
    pub fn announce(&self, announcement: Announcement) {
        if self.inner.outbox.try_send(announcement).is_err() {
            tracing::warn!("the announcement queue is full; an announcement is dropped");
        }
    }

    /// The other replicas' announcements; the first call takes the receiver, later ones get
    /// `None`.
    pub fn remote_announcements(&self) -> Option<mpsc::Receiver<Announcement>> {
        self.inner
            .inbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Sends queued announcements until `stop` turns true.
    pub(super) async fn run_announcer(&self, mut stop: watch::Receiver<bool>) {
        let Some(mut queue) = self
            .inner
            .outbox_receiver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        let mut batch = Vec::new();
        loop {
            tokio::select! {
                got = queue.recv_many(&mut batch, PER_SEND) => if got == 0 { return },
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                // What is queued at shutdown still goes out, once.
                while let Ok(a) = queue.try_recv() {
                    batch.push(a);
                }
                let _ = self.notify(&batch).await;
                return;
            }
            if let Err(e) = self.notify(&batch).await {
                tracing::warn!(error = %e, "could not announce to the other replicas");
                tokio::time::sleep(RETRY).await;
            }
            batch.clear();
        }
    }

    async fn notify(&self, batch: &[Announcement]) -> Result<(), sqlx::Error> {
        let payloads = wire::encode(self.replica(), batch, PAYLOAD_LIMIT);
        if payloads.is_empty() {
            return Ok(());
        }
        sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
            .bind(CHANNEL)
            .bind(payloads)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Listens to the other replicas until `stop` turns true. Each time `LISTEN` begins, and
    /// every [`listeners::REFRESH`], it reads which replicas have event readers
    /// ([`super::listeners`]), in turn with the notifications.
    pub(super) async fn run_listener(&self, mut stop: watch::Receiver<bool>) {
        let inbox = self.inner.inbox_sender.clone();
        loop {
            let mut listener = match self.listen().await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "could not listen to the other replicas");
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => continue,
                        _ = stop.changed() => return,
                    }
                }
            };
            if let Err(e) = self.read_listeners(true).await {
                tracing::warn!(error = %e, "could not read which replicas have event readers");
            }
            let mut refresh = tokio::time::interval(listeners::REFRESH);
            refresh.reset();
            loop {
                let received = tokio::select! {
                    r = listener.try_recv() => r,
                    _ = refresh.tick() => {
                        if let Err(e) = self.read_listeners(false).await {
                            tracing::warn!(error = %e, "could not read which replicas have event readers");
                        }
                        continue;
                    }
                    _ = stop.changed() => return,
                };
                match received {
                    // The connection was lost and is open again: what was sent meanwhile is
                    // lost to this replica.
                    Ok(None) => {
                        self.inner.credentials.lost_listener();
                        if let Err(e) = self.read_listeners(true).await {
                            tracing::warn!(error = %e, "could not read which replicas have event readers");
                        }
                    }
                    Ok(Some(n)) if n.channel() == credentials::CHANNEL => {
                        self.heard_credentials(n.payload());
                    }
                    Ok(Some(n)) => {
                        let Some(got) = wire::decode(self.replica(), n.payload()) else {
                            continue;
                        };
                        if got.listening.is_some() || !got.acks.is_empty() {
                            self.heard_of_listeners(got.from, got.listening, &got.acks)
                                .await;
                        }
                        let a = got.announcement;
                        if (a.calls_due || a.callbacks_due || !a.events.is_empty())
                            && inbox.try_send(a).is_err()
                        {
                            tracing::warn!("the received announcements are not taken");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "listening to the other replicas failed");
                        self.inner.credentials.lost_listener();
                        break;
                    }
                }
            }
        }
    }

    async fn listen(&self) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.inner.listen_pool).await?;
        listener.listen_all([CHANNEL, credentials::CHANNEL]).await?;
        Ok(listener)
    }
}
