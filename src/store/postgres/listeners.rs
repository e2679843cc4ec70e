//! Events cross to the other replicas only while one of them has a reader of
//! `/_emulator/events`: with nobody reading, a request builds no event and sends no NOTIFY for
//! it (the wake-ups workers need, calls and callbacks made due, go out either way).
//!
//! How a replica learns that another one listens:
//! - a replica that gains its first reader (an [`Interest`]) registers: one statement inserts
//!   its id into `event_listeners` and NOTIFYs `{"l":true}`, so the row and the notification
//!   become visible together at its commit;
//! - every other replica, on that notification, adds the id to the replicas it announces to
//!   ([`PgStore::others_listen`] turns true) and only then NOTIFYs an acknowledgement naming it;
//! - the registering replica reads which replicas are alive after its commit (the advisory locks
//!   on their ids, in this database) and waits for each one's acknowledgement (at most
//!   [`ACK_WAIT`], re-reading who is alive meanwhile) before its readers get `ready`;
//! - a replica that starts reads `event_listeners` once it holds its own lock and before it
//!   serves a request, and again (acknowledging what it finds) each time its `LISTEN` begins;
//!   every [`REFRESH`] it reads the table again, ignoring the ids whose lock is gone (a replica
//!   killed with readers);
//! - a replica whose last reader left (and no new one came for [`LINGER`]) deletes its row and
//!   NOTIFYs `{"l":false}`.
//!
//! The guarantee: once a reader on replica B got `ready`, every change made on another replica A
//! by a request A receives after that, and every step A's workers take after it, is announced to
//! B. A either acknowledged B (it had marked B before acknowledging), or was not alive when B
//! read the locks after its commit, so it took its lock later and read B's row before serving.
//! The one exception is the one NOTIFY has anyway: what is announced while B's own `LISTEN`
//! connection is being re-established is lost to B. A live replica that does not acknowledge
//! within [`ACK_WAIT`] (its listening connection is down) is logged, and `ready` is sent anyway.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::notify::CHANNEL;
use super::{wire, PgStore, REPLICA_LOCK_SPACE};
use crate::store::StoreError;

/// How long a replica whose last reader left keeps announcing itself as listening, so that a
/// page that reloads does not unregister and register again.
const LINGER: Duration = Duration::from_secs(2);

/// The longest a registration waits for the other replicas' acknowledgements.
pub(super) const ACK_WAIT: Duration = Duration::from_secs(5);

/// How often a registration waiting for acknowledgements reads again who is alive.
const ALIVE_EVERY: Duration = Duration::from_millis(250);

/// How often a replica reads again which replicas listen (and drops those that died).
pub(super) const REFRESH: Duration = Duration::from_secs(5);

/// Wait after a failed registration, before trying again.
const RETRY: Duration = Duration::from_millis(500);

/// The replicas alive on this database: who holds the advisory lock on a replica id.
pub(super) const ALIVE: &str =
    "SELECT DISTINCT objid::bigint FROM pg_locks WHERE locktype = 'advisory'
     AND granted AND objsubid = 2 AND classid::bigint = $1 AND objid::bigint <> $2
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

/// The other replicas that listen and are alive.
const LISTENING: &str = "SELECT l.replica FROM event_listeners l WHERE l.replica <> $2
     AND EXISTS (SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND k.granted
         AND k.objsubid = 2 AND k.classid::bigint = $1 AND k.objid::bigint = l.replica
         AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database()))";

/// What this replica knows about readers, its own and the other replicas'.
pub(super) struct Registry {
    /// The other replicas with readers, as last heard.
    others: Mutex<HashSet<i32>>,
    /// Whether `others` has any.
    any_other: std::sync::atomic::AtomicBool,
    /// This replica's readers and whether its registration is complete.
    local: Mutex<Local>,
    /// Wakes the registrar: a first reader came or the last one left.
    changed: tokio::sync::Notify,
    /// Mirrors `Local::registered`, for the readers waiting for it.
    registered: watch::Sender<bool>,
    /// The replicas that acknowledged the registration under way.
    acks: Mutex<HashSet<i32>>,
    acked: tokio::sync::Notify,
}

#[derive(Default)]
struct Local {
    count: usize,
    registered: bool,
}

impl Registry {
    pub fn new() -> Registry {
        Registry {
            others: Mutex::default(),
            any_other: std::sync::atomic::AtomicBool::new(false),
            local: Mutex::default(),
            changed: tokio::sync::Notify::new(),
            registered: watch::channel(false).0,
            acks: Mutex::default(),
            acked: tokio::sync::Notify::new(),
        }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_others(&self, update: impl FnOnce(&mut HashSet<i32>)) {
        let mut others = self.others.lock().unwrap_or_else(|e| e.into_inner());
        update(&mut others);
        self.any_other.store(!others.is_empty(), Ordering::SeqCst);
    }
}

/// A reader of this replica's events: while one lives, the other replicas announce theirs.
pub struct Interest {
    store: PgStore,
}

impl Drop for Interest {
    fn drop(&mut self) {
        let registry = &self.store.inner.listeners;
        let mut local = registry.local();
        local.count = local.count.saturating_sub(1);
        if local.count == 0 {
            registry.changed.notify_one();
        }
    }
}

impl PgStore {
    /// Whether some other replica has a reader of its events: then this one announces its own.
    pub fn others_listen(&self) -> bool {
        self.inner.listeners.any_other.load(Ordering::SeqCst)
    }

    /// Counts a reader of this replica's events; returns once the other replicas announce
    /// theirs to it (see the module's guarantee), or after a bounded wait.
    pub async fn hold_event_interest(&self) -> Interest {
        let registry = &self.inner.listeners;
        let ready = {
            let mut local = registry.local();
            local.count += 1;
            local.registered
        };
        let interest = Interest {
            store: self.clone(),
        };
        if !ready {
            registry.changed.notify_one();
            let mut registered = registry.registered.subscribe();
            let wait = ACK_WAIT + Duration::from_secs(5);
            if tokio::time::timeout(wait, registered.wait_for(|r| *r))
                .await
                .is_err()
            {
                tracing::warn!("event readers could not be registered with the other replicas");
            }
        }
        interest
    }

    /// Reads which other replicas listen, replacing what was known; with `acknowledge`, tells
    /// them that this one knows (for a registration that may be waiting for it).
    pub(super) async fn read_listeners(&self, acknowledge: bool) -> Result<(), StoreError> {
        let found: Vec<i32> = sqlx::query_scalar(LISTENING)
            .bind(i64::from(REPLICA_LOCK_SPACE))
            .bind(self.replica())
            .fetch_all(self.pool())
            .await?;
        self.inner.listeners.set_others(|others| {
            others.clear();
            others.extend(found.iter().copied());
        });
        if acknowledge && !found.is_empty() {
            self.tell(None, found).await?;
        }
        Ok(())
    }

    /// Takes in what another replica said about readers (see [`wire::Received`]).
    pub(super) async fn heard_of_listeners(
        &self,
        from: i32,
        listening: Option<bool>,
        acks: &[i32],
    ) {
        let registry = &self.inner.listeners;
        if acks.contains(&self.replica()) {
            registry
                .acks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(from);
            registry.acked.notify_one();
        }
        match listening {
            Some(true) => {
                registry.set_others(|others| {
                    others.insert(from);
                });
                if let Err(e) = self.tell(None, vec![from]).await {
                    tracing::warn!(error = %e, "could not acknowledge another replica's readers");
                }
            }
            Some(false) => registry.set_others(|others| {
                others.remove(&from);
            }),
            None => {}
        }
    }

    async fn tell(&self, listening: Option<bool>, acks: Vec<i32>) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(wire::listening(self.replica(), listening, acks))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Registers and unregisters this replica's readers as they come and go, until `stop`.
    pub(super) async fn run_registrar(&self, mut stop: watch::Receiver<bool>) {
        let registry = &self.inner.listeners;
        // Whether this replica's row may be in `event_listeners`.
        let mut in_table = false;
        loop {
            if *stop.borrow() {
                if in_table {
                    let _ = self.unregister().await;
                }
                return;
            }
            let (count, registered) = {
                let local = registry.local();
                (local.count, local.registered)
            };
            if count > 0 && !registered {
                in_table = true;
                match self.register().await {
                    Ok(()) => {
                        let mut local = registry.local();
                        local.registered = true;
                        registry.registered.send_replace(true);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not register the event readers");
                        tokio::select! {
                            _ = tokio::time::sleep(RETRY) => {}
                            _ = stop.changed() => {}
                        }
                    }
                }
                continue;
            }
            if count == 0 && registered {
                tokio::select! {
                    _ = tokio::time::sleep(LINGER) => {}
                    _ = stop.changed() => {}
                }
                let mut local = registry.local();
                if local.count == 0 {
                    local.registered = false;
                    registry.registered.send_replace(false);
                }
                continue;
            }
            if count == 0 && in_table {
                match self.unregister().await {
                    Ok(()) => in_table = false,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not unregister the event readers");
                        tokio::select! {
                            _ = tokio::time::sleep(RETRY) => {}
                            _ = stop.changed() => {}
                        }
                    }
                }
                continue;
            }
            tokio::select! {
                _ = registry.changed.notified() => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Registers this replica's readers and waits for the live replicas' acknowledgements.
    async fn register(&self) -> Result<(), StoreError> {
        let registry = &self.inner.listeners;
        registry
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        sqlx::query(
            "WITH r AS (INSERT INTO event_listeners (replica) VALUES ($1) ON CONFLICT DO NOTHING)
             SELECT pg_notify($2, $3)",
        )
        .bind(self.replica())
        .bind(CHANNEL)
        .bind(wire::listening(self.replica(), Some(true), Vec::new()))
        .execute(self.pool())
        .await?;
        let deadline = Instant::now() + ACK_WAIT;
        loop {
            let alive: Vec<i64> = sqlx::query_scalar(ALIVE)
                .bind(i64::from(REPLICA_LOCK_SPACE))
                .bind(i64::from(self.replica()))
                .fetch_all(self.pool())
                .await?;
            let missing: Vec<i64> = {
                let acks = registry.acks.lock().unwrap_or_else(|e| e.into_inner());
                alive
                    .into_iter()
                    .filter(|r| i32::try_from(*r).map_or(true, |r| !acks.contains(&r)))
                    .collect()
            };
            if missing.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    ?missing,
                    "replicas did not acknowledge the event readers; they may miss their events"
                );
                return Ok(());
            }
            let _ = tokio::time::timeout(ALIVE_EVERY, registry.acked.notified()).await;
        }
    }

    async fn unregister(&self) -> Result<(), StoreError> {
        sqlx::query(
            "WITH r AS (DELETE FROM event_listeners WHERE replica = $1) SELECT pg_notify($2, $3)",
        )
        .bind(self.replica())
        .bind(CHANNEL)
        .bind(wire::listening(self.replica(), Some(false), Vec::new()))
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
