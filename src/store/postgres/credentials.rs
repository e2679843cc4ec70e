//! Each replica's cache of credentials (an account's or key's secret, kind and statuses, which
//! every request is authenticated with), never stale once a write is answered.
//!
//! How a write that may change a credential (an account's status or deletion, a key's
//! deletion, the configured accounts, a reset) reaches every cache before it is answered:
//! - its transaction NOTIFYs an invalidation on [`CHANNEL`] with a number of the writer's
//!   own, so the notification goes out exactly when the write commits;
//! - after the commit, the writer empties its own cache and waits for an acknowledgement of
//!   that number from every replica alive (holding its advisory lock), re-reading who is alive
//!   meanwhile, for at most [`ACK_WAIT`];
//! - a replica that hears an invalidation empties its cache, then acknowledges it.
//!
//! A replica that does not acknowledge has a `LISTEN` connection that is down or far behind,
//! and then it does not use its cache either: each replica NOTIFYs a heartbeat every
//! [`HEARTBEAT`] with the time it sent it, and uses its cache only until [`FRESH`] after the
//! sending of the last heartbeat of its own that it heard. Notifications reach a listener in
//! commit order, so hearing a heartbeat sent after a write committed means the write's
//! invalidation was heard before it; and a writer that got no answer waits longer than
//! [`FRESH`]. A listener that lost its connection (and missed what was sent meanwhile)
//! empties the cache at once. A credential read from the database goes into the cache only if
//! no invalidation came while it was read.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::{PgStore, REPLICA_LOCK_SPACE};
use crate::domain::account::Credential;
use crate::store::StoreError;

/// The channel of invalidations, acknowledgements and heartbeats.
pub const CHANNEL: &str = "callerid_credentials";

/// How often each replica sends its heartbeat.
const HEARTBEAT: Duration = Duration::from_millis(500);

/// How long after sending a heartbeat that it heard a replica may use its cache.
const FRESH: Duration = Duration::from_secs(2);

/// The longest a write waits for the acknowledgements: past [`FRESH`], a replica that has
/// not heard the invalidation no longer uses its cache.
const ACK_WAIT: Duration = Duration::from_millis(3_000);

/// How often a writer waiting for acknowledgements reads again who is alive.
const ALIVE_EVERY: Duration = Duration::from_millis(250);

/// One notification on [`CHANNEL`]: from replica `r`, a heartbeat sent at `h` (milliseconds
/// of `r`'s own clock), an invalidation numbered `i`, or the acknowledgement `a` of replica
/// `a.0`'s invalidation `a.1`.
#[derive(Serialize, Deserialize, Default)]
struct Message {
    r: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    h: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    i: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<(i32, u64)>,
}

impl Message {
    fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(Default)]
struct Entries {
    by_user: HashMap<String, Arc<Credential>>,
    /// Counts the invalidations: a read that began under another number is not kept.
    generation: u64,
}

/// A replica's cache and what it knows of the invalidations under way.
pub(super) struct Cache {
    started: Instant,
    entries: Mutex<Entries>,
    /// Milliseconds since `started` until which the cache may be used (0: not now).
    fresh_until: AtomicU64,
    next_invalidation: AtomicU64,
    /// This replica's invalidations under way, with the replicas that acknowledged each.
    acks: Mutex<HashMap<u64, HashSet<i32>>>,
    acked: Notify,
}

impl Cache {
    pub fn new() -> Cache {
        Cache {
            started: Instant::now(),
            entries: Mutex::new(Entries::default()),
            fresh_until: AtomicU64::new(0),
            next_invalidation: AtomicU64::new(1),
            acks: Mutex::new(HashMap::new()),
            acked: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn fresh(&self) -> bool {
        self.now_ms() < self.fresh_until.load(Ordering::Acquire)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn acks(&self) -> std::sync::MutexGuard<'_, HashMap<u64, HashSet<i32>>> {
        self.acks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached credential of `user`, or the generation a read from the database must
    /// hand back to [`Cache::keep`].
    pub fn get(&self, user: &str) -> Result<Arc<Credential>, u64> {
        let entries = self.entries();
        match entries.by_user.get(user) {
            Some(found) if self.fresh() => Ok(found.clone()),
            _ => Err(entries.generation),
        }
    }

    /// Keeps `credential`, read from the database since [`Cache::get`] gave `generation`,
    /// unless an invalidation came meanwhile.
    pub fn keep(&self, user: &str, credential: &Arc<Credential>, generation: u64) {
        let mut entries = self.entries();
        if entries.generation == generation && self.fresh() {
            entries.by_user.insert(user.to_string(), credential.clone());
        }
    }

    pub fn clear(&self) {
        let mut entries = self.entries();
        entries.generation += 1;
        entries.by_user.clear();
    }

    /// The listening connection was lost: what was sent meanwhile is lost to it.
    pub fn lost_listener(&self) {
        self.fresh_until.store(0, Ordering::Release);
        self.clear();
    }

    fn heard_own_heartbeat(&self, sent_ms: u64) {
        let until = sent_ms.saturating_add(FRESH.as_millis() as u64);
        self.fresh_until.fetch_max(until, Ordering::AcqRel);
    }
}

impl PgStore {
    fn cache(&self) -> &Cache {
        &self.inner.credentials
    }

    /// The credential of `user` from the cache, or read by `read` and kept.
    pub(super) async fn cached_credential<F>(
        &self,
        user: &str,
        read: F,
    ) -> Result<Option<Arc<Credential>>, StoreError>
    where
        F: std::future::Future<Output = Result<Option<Arc<Credential>>, StoreError>>,
    {
        let generation = match self.cache().get(user) {
            Ok(found) => return Ok(Some(found)),
            Err(generation) => generation,
        };
        let read = read.await?;
        if let Some(credential) = &read {
            self.cache().keep(user, credential, generation);
        }
        Ok(read)
    }

    /// Begins the transaction of a write that may change a credential; its
    /// [`InvalidatingTx::commit`] announces the change to every replica's cache.
    pub(super) async fn begin_invalidating(&self) -> Result<InvalidatingTx, StoreError> {
        let invalidation = self.invalidation();
        Ok(InvalidatingTx {
            tx: self.pool().begin().await?,
            invalidation,
        })
    }

    /// A new invalidation, to be announced at a write's commit ([`InvalidatingTx::commit`],
    /// or [`Invalidation::statement`] in a simple query) and waited for after it
    /// ([`PgStore::invalidated`]).
    pub(super) fn invalidation(&self) -> Invalidation {
        let n = self
            .cache()
            .next_invalidation
            .fetch_add(1, Ordering::Relaxed);
        self.cache().acks().insert(n, HashSet::new());
        Invalidation {
            store: self.clone(),
            n,
        }
    }

    /// After the commit of `invalidation`: empties this cache and waits until every replica
    /// alive acknowledged it (at most [`ACK_WAIT`]).
    pub(super) async fn invalidated(&self, invalidation: Invalidation) {
        self.cache().clear();
        let n = invalidation.n;
        let deadline = Instant::now() + ACK_WAIT;
        let mut alive: Vec<i32> = Vec::new();
        let mut read_at: Option<Instant> = None;
        loop {
            let wake = self.cache().acked.notified();
            if read_at.is_none_or(|at| at.elapsed() >= ALIVE_EVERY) {
                read_at = Some(Instant::now());
                if let Ok(now) = self.alive_replicas().await {
                    alive = now;
                }
            }
            let missing: Vec<i32> = {
                let acks = self.cache().acks();
                let got = acks.get(&n);
                alive
                    .iter()
                    .copied()
                    .filter(|r| got.is_none_or(|g| !g.contains(r)))
                    .collect()
            };
            if missing.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    ?missing,
                    "replicas did not acknowledge a credential change; they stopped using their caches"
                );
                return;
            }
            let _ = tokio::time::timeout(ALIVE_EVERY, wake).await;
        }
    }

    async fn alive_replicas(&self) -> Result<Vec<i32>, sqlx::Error> {
        let alive: Vec<i64> = sqlx::query_scalar(super::listeners::ALIVE)
            .bind(i64::from(REPLICA_LOCK_SPACE))
            .bind(i64::from(self.replica()))
            .fetch_all(self.pool())
            .await?;
        Ok(alive
            .into_iter()
            .filter_map(|r| i32::try_from(r).ok())
            .collect())
    }

    /// What the listener heard on [`CHANNEL`].
    pub(super) fn heard_credentials(&self, payload: &str) {
        let Ok(m) = serde_json::from_str::<Message>(payload) else {
            return;
        };
        let me = self.replica();
        if let (Some(sent), true) = (m.h, m.r == me) {
            self.cache().heard_own_heartbeat(sent);
        }
        if let (Some(n), false) = (m.i, m.r == me) {
            self.cache().clear();
            let ack = Message {
                r: me,
                a: Some((m.r, n)),
                ..Message::default()
            };
            let store = self.clone();
            tokio::spawn(async move { store.send(&ack).await });
        }
        if let Some((_, n)) = m.a.filter(|(to, _)| *to == me) {
            if let Some(got) = self.cache().acks().get_mut(&n) {
                got.insert(m.r);
            }
            self.cache().acked.notify_waiters();
        }
    }

    async fn send(&self, message: &Message) {
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(message.text())
            .execute(self.pool())
            .await;
        if let Err(e) = sent {
            tracing::debug!(error = %e, "could not send a credential notification");
        }
    }

    /// Sends this replica's heartbeat every [`HEARTBEAT`] until `stop` turns true.
    pub(super) async fn run_heartbeat(&self, mut stop: watch::Receiver<bool>) {
        let mut every = tokio::time::interval(HEARTBEAT);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            let beat = Message {
                r: self.replica(),
                h: Some(self.cache().now_ms()),
                ..Message::default()
            };
            self.send(&beat).await;
        }
    }
}

/// An invalidation under way: its acknowledgements are collected until it is dropped.
pub(super) struct Invalidation {
    store: PgStore,
    n: u64,
}

impl Invalidation {
    fn payload(&self) -> String {
        Message {
            r: self.store.replica(),
            i: Some(self.n),
            ..Message::default()
        }
        .text()
    }

    /// The same NOTIFY as one statement of a simple query (its payload is digits and JSON
    /// punctuation only, so it needs no quoting).
    pub fn statement(&self) -> String {
        format!("SELECT pg_notify('{CHANNEL}', '{}')", self.payload())
    }
}

/// The transaction of a write that may change a credential ([`PgStore::begin_invalidating`]).
pub(super) struct InvalidatingTx {
    pub tx: sqlx::Transaction<'static, sqlx::Postgres>,
    invalidation: Invalidation,
}

impl InvalidatingTx {
    /// NOTIFYs the invalidation in the transaction (the other replicas hear it at the commit,
    /// and not at all without one), commits, and waits for it to be heard
    /// ([`PgStore::invalidated`]).
    pub async fn commit(self) -> Result<(), StoreError> {
        let InvalidatingTx {
            mut tx,
            invalidation,
        } = self;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(invalidation.payload())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let store = invalidation.store.clone();
        store.invalidated(invalidation).await;
        Ok(())
    }
}

impl Drop for Invalidation {
    fn drop(&mut self) {
        self.store.cache().acks().remove(&self.n);
    }
}

#[cfg(test)]
mod tests;
