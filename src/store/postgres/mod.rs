//! The PostgreSQL backend, for several emulator replicas on one database: every read goes to
//! PostgreSQL but a credential's (each replica's cache of those is emptied everywhere before a
//! write that may change one is answered, see [`credentials`]), so a write acknowledged by one
//! replica is seen by the next read on any other.
//!
//! How replicas share the work:
//! - validation requests for one number are serialized by a transaction-level advisory lock on
//!   the number ([`number_lock`]), so supersede and the already-verified rule hold as with
//!   SQLite's single writer; `UNIQUE (account_sid, phone_number)` is the last word;
//! - due calls are read and moved on with `FOR UPDATE SKIP LOCKED`: a call another replica is
//!   moving on right now is skipped (reported `Stale`), and each update applies only if the call
//!   is still in the state it was read in, so each step is taken by exactly one replica;
//! - StatusCallbacks are claimed with `FOR UPDATE SKIP LOCKED` as `sending`, by this replica
//!   ([`PgStore::replica`]) for a lease of an attempt's timeout and [`LEASE_MARGIN`]; a lease that ran out makes the
//!   callback claimable by any replica, which sends it again with the same idempotency token;
//! - each replica holds a session advisory lock on its id on a connection of its own for as
//!   long as it lives, so `resume_interrupted_callbacks` can tell a replica that died (its lock
//!   is gone) from one still delivering;
//! - the calls and callbacks a replica makes due reach the others over `LISTEN/NOTIFY`
//!   ([`notify`]), and so do the events it publishes while another replica has a reader of
//!   `/_emulator/events` ([`listeners`], which says what a reader is guaranteed to see); the
//!   request journal is a table ([`journal`]).
//!
//! Migrations (`migrations/postgres/`) run at start-up through sqlx's migrator. In sqlx 0.8,
//! `Migrator::run` (sqlx-core `migrate/migrator.rs`; `locking` is true by default) first calls
//! `lock()`, which for PostgreSQL is `SELECT pg_advisory_lock($1)` with a key derived from the
//! database's name (sqlx-postgres `migrate.rs`), before it even creates `_sqlx_migrations`, and
//! unlocks only once every migration is applied: replicas starting together apply each
//! migration once, the others wait for it and then find nothing left to do.

mod accounts;
mod callbacks;
mod caller_ids;
mod calls;
mod credentials;
mod journal;
mod lean;
mod listeners;
mod notify;
use super::rows;
mod updates;
mod wire;
mod writes;

pub use listeners::Interest;

use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection;

use tokio::sync::mpsc;

use super::{Announcement, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a claimed StatusCallback stays this replica's until [`Store::set_callback_timeout`]
/// says how long an attempt takes: longer than an attempt's default timeout (15 s) and its
/// recording, with room to spare. A replica that dies is noticed at start-up of the next one
/// through its advisory lock; the lease bounds how long any replica waits for a callback held
/// by one that is stuck or gone.
///
/// [`Store::set_callback_timeout`]: super::Store::set_callback_timeout
pub const CALLBACK_LEASE_SECONDS: f64 = 60.0;

/// What a lease adds to an attempt's timeout: the time to record the attempt (the recorder
/// batches them) and to hand the callback on, with room for a slow database.
pub const LEASE_MARGIN: Duration = Duration::from_secs(10);

/// The first key of the advisory locks the replicas hold on their ids ("CEMU").
pub(super) const REPLICA_LOCK_SPACE: i32 = 0x4345_4D55;

/// The first key of the transaction locks on a number being verified ("CEMN").
const NUMBER_LOCK_SPACE: i32 = 0x4345_4D4E;

/// The settings of every session the emulator opens: a statement runs 10 s at most on the
/// server, a transaction left idle is ended after 30 s, and plans take the indexes (see
/// [`PgStore::connect`]).
pub const SESSION_SETTINGS: [(&str, &str); 3] = [
    ("statement_timeout", "10000"),
    ("enable_seqscan", "off"),
    ("idle_in_transaction_session_timeout", "30000"),
];

/// How long a request waits for a pool connection (or for the database to accept one).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the replica checks the connection that holds its advisory lock.
const HOLDER_CHECK_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    options: PgConnectOptions,
    /// This process's id among the replicas.
    replica: i32,
    /// The connection holding the advisory lock on `replica`; `None` once closed.
    holder: tokio::sync::Mutex<Option<PgConnection>>,
    /// Announcements for the other replicas ([`notify`]), and their receiver until the
    /// announcer takes it.
    outbox: mpsc::Sender<Announcement>,
    outbox_receiver: std::sync::Mutex<Option<mpsc::Receiver<Announcement>>>,
    /// The other replicas' announcements, until the service takes them.
    inbox: std::sync::Mutex<Option<mpsc::Receiver<Announcement>>>,
    inbox_sender: mpsc::Sender<Announcement>,
    /// The one connection that `LISTEN`s, apart from the pool requests use.
    listen_pool: PgPool,
    /// The lease of a claimed callback, in milliseconds.
    lease_ms: AtomicU64,
    /// Which replicas have readers of their events, this one included.
    listeners: listeners::Registry,
    /// The credentials read lately, kept while no replica changes any ([`credentials`]).
    credentials: credentials::Cache,
    /// Turns on numbers within this process, by [`number_lock`] key: a validation request
    /// waits here for others on the same number before it takes a connection, so that a
    /// burst for one number holds one pool connection waiting on the number's advisory lock,
    /// not the whole pool (which would leave other requests to time out waiting for one).
    number_turns: Box<[tokio::sync::Mutex<()>]>,
    /// Where this replica's deletes from the request journal stand ([`journal`]).
    journal_trim: std::sync::Mutex<journal::Trim>,
    /// Connections for the statements of API requests, released without a ping ([`lean`]).
    lean: lean::Lean,
}

/// The stripes of [`Inner::number_turns`]; two numbers may share one, which only orders them.
const NUMBER_TURNS: usize = 64;

impl PgStore {
    /// Connects to the database at `url` (which must exist), runs the migrations and registers
    /// this process as a replica. The pool has `2 × read_connections` connections (at least 4):
    /// reads and writes share it.
    ///
    /// Every statement is prepared once per connection, and after five executions PostgreSQL
    /// keeps a generic plan for it, made from the table sizes of that moment. A plan made
    /// while a table was small is a sequential scan, and stays one for the connection's life
    /// as the table grows. `enable_seqscan = off` makes each plan take the index the statement
    /// was written for (each statement has one); a statement with none still scans.
    pub async fn connect(url: &str, read_connections: u32) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)?
            .application_name("callerid-emulator")
            .options(SESSION_SETTINGS);
        // No ping before each acquire (a round trip per query): sqlx pings a connection when
        // it goes back to the pool and drops it if broken, so after the database restarts
        // only connections that were idle then fail, once each.
        let pool_size = read_connections.saturating_mul(2).max(4);
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let replica: i32 = sqlx::query_scalar("SELECT nextval('replica_ids')::integer")
            .fetch_one(&pool)
            .await?;
        let holder = hold_replica_lock(&options, replica).await?;
        tracing::info!(replica, "PostgreSQL store ready");
        let (outbox, outbox_receiver) = mpsc::channel(notify::OUTBOX_LIMIT);
        let (inbox_sender, inbox) = mpsc::channel(notify::INBOX_LIMIT);
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options.clone());
        let lean = lean::Lean::new(options.clone(), pool_size as usize);
        let store = PgStore {
            inner: Arc::new(Inner {
                pool,
                options,
                replica,
                holder: tokio::sync::Mutex::new(Some(holder)),
                outbox,
                outbox_receiver: std::sync::Mutex::new(Some(outbox_receiver)),
                inbox: std::sync::Mutex::new(Some(inbox)),
                inbox_sender,
                listen_pool,
                lease_ms: AtomicU64::new((CALLBACK_LEASE_SECONDS * 1000.0) as u64),
                listeners: listeners::Registry::new(),
                credentials: credentials::Cache::new(),
                number_turns: (0..NUMBER_TURNS)
                    .map(|_| tokio::sync::Mutex::new(()))
                    .collect(),
                journal_trim: std::sync::Mutex::default(),
                lean,
            }),
        };
        // Before the first request is served, and with this replica's lock held: a replica
        // that registered its event readers before the lock was taken did not wait for this
        // one's acknowledgement, so this read is how this one knows of it.
        store.read_listeners(false).await?;
        Ok(store)
    }

    pub(super) fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    fn lean(&self) -> &lean::Lean {
        &self.inner.lean
    }

    /// Leases of callbacks claimed from now on last an attempt's `timeout` and
    /// [`LEASE_MARGIN`], so that the callbacks of a replica that died are sent again soon.
    pub fn set_callback_timeout(&self, timeout: Duration) {
        let lease = timeout.saturating_add(LEASE_MARGIN).as_millis();
        self.inner
            .lease_ms
            .store(u64::try_from(lease).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The lease of a callback claimed now, in seconds.
    pub(super) fn lease_seconds(&self) -> f64 {
        self.inner.lease_ms.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// Waits for this process's turn on the number whose advisory-lock key is `lock`.
    pub(super) async fn number_turn(&self, lock: i32) -> tokio::sync::MutexGuard<'_, ()> {
        let stripe = (lock as u32 as usize) % NUMBER_TURNS;
        self.inner.number_turns[stripe].lock().await
    }

    /// This process's replica id: the `claimed_by` of the callbacks it claims.
    pub(super) fn replica(&self) -> i32 {
        self.inner.replica
    }

    /// Keeps the advisory lock on this replica's id held until `stop` turns true: when its
    /// connection is lost (the database restarted), it is opened and locked again.
    async fn keep_replica_lock(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(HOLDER_CHECK_INTERVAL) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
            let mut holder = self.inner.holder.lock().await;
            let alive = match holder.as_mut() {
                Some(conn) => conn.ping().await.is_ok(),
                None => return,
            };
            if alive {
                continue;
            }
            match hold_replica_lock(&self.inner.options, self.inner.replica).await {
                Ok(conn) => {
                    tracing::info!(replica = self.inner.replica, "replica lock held again");
                    *holder = Some(conn);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not take the replica lock again");
                }
            }
        }
    }

    async fn close(&self) {
        if let Some(conn) = self.inner.holder.lock().await.take() {
            let _ = conn.close().await;
        }
        self.inner.listen_pool.close().await;
        self.inner.lean.close().await;
        self.inner.pool.close().await;
    }
}

/// The longest one store operation may take on the client's side: a database that stops
/// answering without closing its connections (a network partition, a frozen server) fails the
/// operation instead of holding a request or a worker until TCP gives up. Above the acquire
/// and statement timeouts, which bound the usual cases on their own.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);

/// An operation's outcome when it took too long.
pub trait Bounded {
    fn timed_out(operation: &'static str) -> Self;
}

impl<T> Bounded for Result<T, StoreError> {
    fn timed_out(operation: &'static str) -> Self {
        Err(StoreError::Backend(
            format!("the database did not answer {operation} within {OPERATION_TIMEOUT:?}").into(),
        ))
    }
}

impl Bounded for () {
    fn timed_out(_: &'static str) -> Self {}
}

/// Runs the store operation `name`, at most [`OPERATION_TIMEOUT`]; the long-running ones (the
/// upkeep, closing, resuming at start-up, which may wait for other replicas) are not bounded.
pub async fn bounded<T: Bounded>(name: &'static str, operation: impl Future<Output = T>) -> T {
    if matches!(
        name,
        "run_upkeep" | "close" | "resume_interrupted_callbacks"
    ) {
        return operation.await;
    }
    match tokio::time::timeout(OPERATION_TIMEOUT, operation).await {
        Ok(done) => done,
        Err(_) => T::timed_out(name),
    }
}

/// A connection of its own holding the session advisory lock on `replica`.
async fn hold_replica_lock(
    options: &PgConnectOptions,
    replica: i32,
) -> Result<PgConnection, StoreError> {
    let mut conn = PgConnection::connect_with(options).await?;
    sqlx::query("SELECT pg_advisory_lock($1, $2)")
        .bind(REPLICA_LOCK_SPACE)
        .bind(replica)
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

/// The key of the transaction lock that serializes the writes verifying `phone` on `account`
/// (and the validation requests for it): a hash, so two numbers may share a lock, which only
/// serializes them.
pub(super) fn number_lock(account: &str, phone: &str) -> i32 {
    // FNV-1a, stable across processes and versions (std's hasher is neither).
    let mut hash: u32 = 0x811c_9dc5;
    for byte in account.bytes().chain([0]).chain(phone.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash as i32
}

/// The statement that begins a transaction holding the number locks `keys` (taken in order,
/// so that two transactions never wait for each other).
pub(super) fn begin_with_number_locks(mut keys: Vec<i32>) -> String {
    keys.sort_unstable();
    keys.dedup();
    let mut sql = String::from("BEGIN");
    for key in keys {
        sql.push_str(&format!(
            "; SELECT pg_advisory_xact_lock({NUMBER_LOCK_SPACE}, {key})"
        ));
    }
    sql
}
