//! Every SQL statement the emulator runs. SQLite in WAL mode: reads go through a small pool,
//! writes through a pool of exactly one connection, so writers queue in the process instead of
//! meeting SQLITE_BUSY, and every request's write is one transaction. Caller IDs are read from
//! an in-memory index ([`index`]) that the writer keeps in step with the table.

mod index;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Connection, FromRow, QueryBuilder, Row, Sqlite, Transaction};

use index::CallerIdIndex;

use crate::wire::sid::{AccountSid, CallSid, CallerIdSid};
use crate::wire::PhoneNumber;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct Store {
    read: SqlitePool,
    write: SqlitePool,
    credentials: Arc<CredentialCache>,
    caller_ids: Arc<RwLock<CallerIdIndex>>,
    /// Callee behaviours set per account and number, in memory like the caller IDs.
    behaviors: Arc<RwLock<Behaviors>>,
    /// How to open the checkpointer's connection; `None` for an in-memory database.
    checkpointer: Option<SqliteConnectOptions>,
    /// The queue of the validation requests' group commit.
    creates: tokio::sync::mpsc::UnboundedSender<CreateJob>,
}

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// The WAL length (in 4 KiB frames) from which the checkpointer makes the writer start the WAL
/// again from the beginning.
const RESTART_WAL_AT_FRAMES: i64 = 256;

/// What authenticates a username (an AccountSid or an API key sid): its secret and the account
/// it acts for.
#[derive(Debug)]
pub struct Credential {
    pub secret: String,
    pub account_sid: String,
}

/// Credentials by username, read from the database on first use and kept until an account or
/// key changes, so that authenticating a request costs no query. `generation` moves on with
/// every change, so a lookup that raced with a change does not cache what it read.
#[derive(Default)]
struct CredentialCache {
    generation: AtomicU64,
    map: RwLock<HashMap<String, Arc<Credential>>>,
}

/// Callee behaviours by account, then number.
type Behaviors = HashMap<String, HashMap<String, String>>;

/// The most usernames the credential cache holds.
const CREDENTIAL_CACHE_LIMIT: usize = 10_000;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Account {
    pub sid: String,
    pub auth_token: String,
    pub friendly_name: String,
    pub configured: bool,
    pub date_created: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ApiKey {
    pub sid: String,
    pub account_sid: String,
    pub secret: String,
    pub friendly_name: String,
    pub date_created: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CallerId {
    pub sid: String,
    pub account_sid: String,
    pub phone_number: String,
    pub friendly_name: String,
    pub date_created: i64,
    pub date_updated: i64,
    /// Its JSON representation, rendered once on first use: a row is never changed in place
    /// (an update makes a new one), so lists copy each row's text instead of rendering it.
    #[sqlx(skip)]
    pub json: std::sync::OnceLock<Option<Box<serde_json::value::RawValue>>>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Call {
    pub sid: String,
    pub account_sid: String,
    pub to_number: String,
    pub friendly_name: String,
    pub validation_code: String,
    pub extension: Option<String>,
    pub call_delay: i64,
    pub status_callback: Option<String>,
    pub status_callback_method: String,
    pub behavior: String,
    pub status: String,
    pub verification_status: Option<String>,
    pub digits: Option<String>,
    pub next_action_at: Option<i64>,
    pub outgoing_caller_id_sid: Option<String>,
    pub date_created: i64,
    pub date_updated: i64,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub duration: Option<i64>,
}

#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct CallEvent {
    pub at: i64,
    pub status: String,
    pub note: String,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Callback {
    pub id: i64,
    pub account_sid: String,
    pub call_sid: String,
    pub url: String,
    pub method: String,
    pub params: String,
    pub idempotency_token: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CallbackAttempt {
    pub callback_id: i64,
    pub attempt: i64,
    pub at: i64,
    pub url: String,
    pub signature: String,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// Which slice of a caller-ID list to read.
#[derive(Clone, Debug)]
pub enum Cursor {
    /// From the first row.
    Start,
    /// Rows after this sid (a `PA` token).
    After(CallerIdSid),
    /// Rows before this sid (a `PB` token).
    Before(CallerIdSid),
}

pub struct ListFilter<'a> {
    pub phone_number: Option<&'a PhoneNumber>,
    pub friendly_name: Option<&'a str>,
}

/// One page of caller IDs in list order, with whether rows exist beyond each end.
pub struct Page {
    pub rows: Vec<Arc<CallerId>>,
    pub has_more_after: bool,
    pub has_more_before: bool,
}

/// A verification call to create: as its steps due at creation leave it (at time scale 0, the
/// whole call), with one timeline event per step, `queued` first.
pub struct NewCall {
    pub call: Call,
    pub events: Vec<(&'static str, String)>,
    /// The call succeeded: create its caller ID in the same transaction.
    pub create_caller_id: bool,
}

/// What a new validation request did.
pub struct CreatedCall {
    /// Calls that were pending for the same number and ended `canceled`.
    pub superseded: Vec<Call>,
    /// The caller ID, when the call succeeded at creation.
    pub caller_id: Option<Arc<CallerId>>,
}

/// The outcome of creating a validation request.
pub enum CreateCallOutcome {
    Created(CreatedCall),
    AlreadyVerified,
}

/// How a call moves on, as decided by the verification state machine: from the state it was
/// read in to the state its steps leave it in, each step a timeline event.
pub struct CallUpdate<'a> {
    /// The call as read; the update applies only if it is still in this status, step and
    /// digits (digits keyed meanwhile make the scheduler read the call again).
    pub from: &'a Call,
    /// The call after its steps.
    pub to: Call,
    /// One `(status, note)` timeline event per step, in order.
    pub events: Vec<(&'static str, String)>,
    /// On success: create the caller ID in the same transaction.
    pub create_caller_id: bool,
}

/// A StatusCallback request to queue with the call's final state.
pub struct NewCallback {
    pub url: String,
    pub method: String,
    pub params: Vec<(String, String)>,
}

/// What applying a call update did.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// The call was not in the expected state (moved on by someone else); nothing written.
    Stale,
    Done,
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl Store {
    /// Opens (creating if missing) the database at `url` and runs the migrations.
    pub async fn connect(url: &str, read_connections: u32) -> Result<Store, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let (creates, create_jobs) = tokio::sync::mpsc::unbounded_channel();
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let store = if in_memory {
            // Every connection to an in-memory database is a database of its own: keep one,
            // forever.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .test_before_acquire(false)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            Store {
                read: pool.clone(),
                write: pool,
                credentials: Arc::default(),
                caller_ids: Arc::default(),
                behaviors: Arc::default(),
                checkpointer: None,
                creates: creates.clone(),
            }
        } else {
            // No ping before each acquire: a SQLite connection cannot go stale, and the ping is
            // a round trip to the connection's thread that doubled the cost of a fetch.
            // The writer never checkpoints: a checkpoint copies pages back into the database
            // file and syncs it, which in the writer's commit path held every queued write for
            // milliseconds. The checkpointer does it beside the writer instead.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(read_connections.max(1))
                .test_before_acquire(false)
                .connect_with(options.clone().read_only(true))
                .await?;
            Store {
                read,
                write,
                credentials: Arc::default(),
                caller_ids: Arc::default(),
                behaviors: Arc::default(),
                checkpointer: Some(options),
                creates: creates.clone(),
            }
        };
        MIGRATOR.run(&store.write).await?;
        let started = std::time::Instant::now();
        let rows = load_caller_ids(&store.write).await?;
        let count = rows.len();
        *store.ids_mut() = CallerIdIndex::load(rows);
        tracing::info!(caller_ids = count, elapsed = ?started.elapsed(), "caller IDs loaded");
        tokio::spawn(run_creates(
            store.write.clone(),
            store.caller_ids.clone(),
            create_jobs,
        ));
        let set: Vec<(String, String, String)> =
            sqlx::query_as("SELECT account_sid, phone_number, behavior FROM phone_behaviors")
                .fetch_all(&store.write)
                .await?;
        let mut behaviors = store.behaviors_mut();
        for (account, number, behavior) in set {
            behaviors
                .entry(account)
                .or_default()
                .insert(number, behavior);
        }
        drop(behaviors);
        Ok(store)
    }

    fn ids(&self) -> RwLockReadGuard<'_, CallerIdIndex> {
        // The index is changed by infallible code only; a panic elsewhere cannot leave it half
        // changed, so a poisoned lock still guards a whole index.
        self.caller_ids.read().unwrap_or_else(|e| e.into_inner())
    }

    fn ids_mut(&self) -> RwLockWriteGuard<'_, CallerIdIndex> {
        self.caller_ids.write().unwrap_or_else(|e| e.into_inner())
    }

    fn behaviors_mut(&self) -> RwLockWriteGuard<'_, Behaviors> {
        self.behaviors.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets what memory holds for `account`, deleted.
    fn forget_account(&self, account: &str) {
        self.ids_mut().remove_account(account);
        self.behaviors_mut().remove(account);
    }

    /// The one writer connection. Whoever changes caller IDs holds it until the index is
    /// changed too, so the index takes changes in the order they committed.
    async fn writer(&self) -> Result<PoolConnection<Sqlite>, sqlx::Error> {
        self.write.acquire().await
    }

    /// Keeps the WAL short until `stop` turns true, every [`CHECKPOINT_INTERVAL`]. A passive
    /// checkpoint on a connection of its own copies what the WAL holds beside the writer. Once
    /// the WAL is [`RESTART_WAL_AT_FRAMES`] long, a second one runs on the writer connection,
    /// between two writes: it copies only what was committed meanwhile, and the writer's next
    /// write then starts the WAL again from the beginning instead of growing it. (SQLite
    /// restarted the WAL only after a checkpoint made by the writer itself, in measurements.)
    /// Nothing to do in memory.
    pub async fn run_checkpoints(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let Some(options) = self.checkpointer.clone() else {
            return;
        };
        let mut conn: Option<SqliteConnection> = None;
        // The WAL's length when the writer last checkpointed: the WAL starts again with the
        // next write, so until that write comes the writer has nothing left to do.
        let mut restarted_at = 0;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(CHECKPOINT_INTERVAL) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
            if conn.is_none() {
                match SqliteConnection::connect_with(&options).await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        tracing::warn!(error = %e, "checkpointer could not open the database");
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            let result = self.checkpoint_round(c, &mut restarted_at).await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                conn = None;
            }
        }
        if let Some(c) = conn {
            let _ = c.close().await;
        }
    }

    /// One round of [`Store::run_checkpoints`]: passive checkpoints beside the writer until
    /// what was committed during the last one is little, then, if the WAL is long, the last
    /// one on the writer, so that the writer holds up requests only for that little.
    async fn checkpoint_round(
        &self,
        conn: &mut SqliteConnection,
        restarted_at: &mut i64,
    ) -> Result<(), sqlx::Error> {
        /// Passes beside the writer at most, each copying what came during the one before.
        const PASSES: usize = 4;
        /// Frames committed during a pass that are few enough to copy holding the writer.
        const FEW_FRAMES: i64 = 128;
        let started = std::time::Instant::now();
        let mut frames = checkpoint(conn).await?;
        let mut passes = 1;
        for _ in 1..PASSES {
            passes += 1;
            let now = checkpoint(conn).await?;
            let grown = now - frames;
            frames = now;
            // A WAL that started again meanwhile is shorter than before: little came.
            if grown < FEW_FRAMES {
                break;
            }
        }
        if frames < RESTART_WAL_AT_FRAMES || frames == *restarted_at {
            return Ok(());
        }
        let beside = started.elapsed();
        let mut writer = self.writer().await?;
        let held = std::time::Instant::now();
        *restarted_at = checkpoint(&mut writer).await?;
        tracing::debug!(frames, passes, ?beside, writer_held = ?held.elapsed(), "WAL checkpointed");
        Ok(())
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// A cheap query proving the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map(|_| ())
    }

    // ---- accounts and keys ----------------------------------------------------------------

    /// Makes `accounts` exactly the set of configured accounts: an account configured on an
    /// earlier start but not now (the development account, once accounts are configured) is
    /// removed with its data; accounts made through the control API stay as they are.
    pub async fn sync_configured_accounts(
        &self,
        accounts: &[(AccountSid, String, String)],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        let mut keep = QueryBuilder::<Sqlite>::new(
            "DELETE FROM accounts WHERE configured = 1 AND sid NOT IN (",
        );
        let mut list = keep.separated(", ");
        for (sid, _, _) in accounts {
            list.push_bind(sid.as_str());
        }
        list.push_unseparated(") RETURNING sid");
        let removed: Vec<String> = keep.build_query_scalar().fetch_all(&mut *tx).await?;
        for (sid, token, name) in accounts {
            sqlx::query(
                "INSERT INTO accounts (sid, auth_token, friendly_name, configured, date_created)
                 VALUES (?, ?, ?, 1, ?)
                 ON CONFLICT (sid) DO UPDATE SET auth_token = excluded.auth_token, configured = 1",
            )
            .bind(sid.as_str())
            .bind(token)
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        for sid in removed {
            self.forget_account(&sid);
        }
        drop(conn);
        self.credentials_changed();
        Ok(())
    }

    /// The credential of an `AC…` or `SK…` username, from the cache when it is there.
    pub async fn credential(&self, user: &str) -> Result<Option<Arc<Credential>>, sqlx::Error> {
        if let Some(hit) = self
            .credentials
            .map
            .read()
            .ok()
            .and_then(|map| map.get(user).cloned())
        {
            return Ok(Some(hit));
        }
        let generation = self.credentials.generation.load(Ordering::Acquire);
        let found = if user.starts_with("AC") {
            self.account(user).await?.map(|a| Credential {
                secret: a.auth_token,
                account_sid: a.sid,
            })
        } else if user.starts_with("SK") {
            self.api_key(user).await?.map(|k| Credential {
                secret: k.secret,
                account_sid: k.account_sid,
            })
        } else {
            None
        };
        let Some(found) = found.map(Arc::new) else {
            return Ok(None);
        };
        if let Ok(mut map) = self.credentials.map.write() {
            if self.credentials.generation.load(Ordering::Acquire) == generation
                && map.len() < CREDENTIAL_CACHE_LIMIT
            {
                map.insert(user.to_string(), found.clone());
            }
        }
        Ok(Some(found))
    }

    /// Forgets every cached credential; called after any write to accounts or keys commits.
    fn credentials_changed(&self) {
        if let Ok(mut map) = self.credentials.map.write() {
            self.credentials.generation.fetch_add(1, Ordering::AcqRel);
            map.clear();
        }
    }

    pub async fn account(&self, sid: &str) -> Result<Option<Account>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM accounts WHERE sid = ?")
            .bind(sid)
            .fetch_optional(&self.read)
            .await
    }

    pub async fn api_key(&self, sid: &str) -> Result<Option<ApiKey>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM api_keys WHERE sid = ?")
            .bind(sid)
            .fetch_optional(&self.read)
            .await
    }

    /// Inserts an account; `false` when the sid is taken.
    pub async fn create_account(&self, account: &Account) -> Result<bool, sqlx::Error> {
        let result = sqlx::query(
            "INSERT INTO accounts (sid, auth_token, friendly_name, configured, date_created)
             VALUES (?, ?, ?, 0, ?)",
        )
        .bind(&account.sid)
        .bind(&account.auth_token)
        .bind(&account.friendly_name)
        .bind(account.date_created)
        .execute(&self.write)
        .await;
        match result {
            Ok(_) => {
                self.credentials_changed();
                Ok(true)
            }
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes an account and, by cascade, everything it owns. `false` when there was none.
    pub async fn delete_account(&self, sid: &AccountSid) -> Result<bool, sqlx::Error> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        // callback_attempts cascade from callbacks, call_events from calls.
        let done = sqlx::query("DELETE FROM accounts WHERE sid = ?")
            .bind(sid.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        tx.commit().await?;
        self.forget_account(sid.as_str());
        drop(conn);
        self.credentials_changed();
        Ok(done)
    }

    pub async fn create_api_key(&self, key: &ApiKey) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO api_keys (sid, account_sid, secret, friendly_name, date_created)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&key.sid)
        .bind(&key.account_sid)
        .bind(&key.secret)
        .bind(&key.friendly_name)
        .bind(key.date_created)
        .execute(&self.write)
        .await?;
        self.credentials_changed();
        Ok(())
    }

    /// Wipes every caller ID, call, callback, key and non-configured account.
    pub async fn reset(&self) -> Result<(), sqlx::Error> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        for statement in [
            "DELETE FROM callback_attempts",
            "DELETE FROM callbacks",
            "DELETE FROM call_events",
            "DELETE FROM calls",
            "DELETE FROM phone_behaviors",
            "DELETE FROM outgoing_caller_ids",
            "DELETE FROM api_keys",
            "DELETE FROM accounts WHERE configured = 0",
        ] {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.ids_mut().clear();
        self.behaviors_mut().clear();
        drop(conn);
        self.credentials_changed();
        Ok(())
    }

    // ---- caller IDs -----------------------------------------------------------------------

    pub fn caller_id(&self, account: &AccountSid, sid: &CallerIdSid) -> Option<Arc<CallerId>> {
        self.ids().get(account.as_str(), sid.as_str())
    }

    /// The account owning a caller-ID sid, if the sid exists.
    pub fn caller_id_owner(&self, sid: &CallerIdSid) -> Option<String> {
        self.ids().owner(sid.as_str())
    }

    /// Inserts a verified caller ID; `None` when the account already has that number.
    pub async fn insert_caller_id(
        &self,
        account: &AccountSid,
        phone: &PhoneNumber,
        friendly_name: &str,
        now: i64,
    ) -> Result<Option<Arc<CallerId>>, sqlx::Error> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        let sid = CallerIdSid::generate();
        let row = insert_caller_id_tx(&mut tx, &sid, account, phone, friendly_name, now).await?;
        tx.commit().await?;
        Ok(row.map(|row| self.ids_mut().put(row)))
    }

    pub async fn update_caller_id(
        &self,
        account: &AccountSid,
        sid: &CallerIdSid,
        friendly_name: Option<&str>,
        now: i64,
    ) -> Result<Option<Arc<CallerId>>, sqlx::Error> {
        let Some(name) = friendly_name else {
            return Ok(self.caller_id(account, sid));
        };
        // One statement in autocommit mode: as atomic as an explicit transaction, without the
        // BEGIN and COMMIT round trips to the writer's thread.
        // fetch_all rather than fetch_optional: an UPDATE … RETURNING left unfinished by
        // fetch_optional keeps its statement open, which was measured to stall WAL checkpoints.
        let mut conn = self.writer().await?;
        let mut rows: Vec<CallerId> = sqlx::query_as(
            "UPDATE outgoing_caller_ids SET friendly_name = ?, date_updated = ?
             WHERE sid = ? AND account_sid = ? RETURNING *",
        )
        .bind(name)
        .bind(now)
        .bind(sid.as_str())
        .bind(account.as_str())
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.pop().map(|row| self.ids_mut().put(row)))
    }

    pub async fn delete_caller_id(
        &self,
        account: &AccountSid,
        sid: &CallerIdSid,
    ) -> Result<bool, sqlx::Error> {
        let mut conn = self.writer().await?;
        let result =
            sqlx::query("DELETE FROM outgoing_caller_ids WHERE sid = ? AND account_sid = ?")
                .bind(sid.as_str())
                .bind(account.as_str())
                .execute(&mut *conn)
                .await?;
        let deleted = result.rows_affected() > 0;
        if deleted {
            self.ids_mut().remove(account.as_str(), sid.as_str());
        }
        Ok(deleted)
    }

    /// One page of an account's caller IDs in sid order, with whether rows exist beyond each
    /// end of it.
    pub fn list_caller_ids(
        &self,
        account: &AccountSid,
        filter: &ListFilter<'_>,
        cursor: &Cursor,
        page_size: u32,
    ) -> Page {
        self.ids().page(account.as_str(), filter, cursor, page_size)
    }

    // ---- callee behaviours ----------------------------------------------------------------

    pub async fn set_behavior(
        &self,
        account: &AccountSid,
        phone: &PhoneNumber,
        behavior: &str,
    ) -> Result<(), sqlx::Error> {
        let mut conn = self.writer().await?;
        sqlx::query(
            "INSERT INTO phone_behaviors (account_sid, phone_number, behavior) VALUES (?, ?, ?)
             ON CONFLICT (account_sid, phone_number) DO UPDATE SET behavior = excluded.behavior",
        )
        .bind(account.as_str())
        .bind(phone.as_str())
        .bind(behavior)
        .execute(&mut *conn)
        .await?;
        self.behaviors_mut()
            .entry(account.to_string())
            .or_default()
            .insert(phone.to_string(), behavior.to_string());
        Ok(())
    }

    pub fn behavior(&self, account: &AccountSid, phone: &PhoneNumber) -> Option<String> {
        self.behaviors
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(account.as_str())?
            .get(phone.as_str())
            .cloned()
    }

    // ---- calls ----------------------------------------------------------------------------

    /// Creates a verification call, unless the number is already verified on the account. Calls
    /// still pending for the same number end as `canceled` in the same transaction, each with
    /// its callback queued; so is the new call's, if it ended at creation.
    ///
    /// Validation requests are committed in groups: a task of their own takes every request
    /// waiting and writes them in one transaction, each inside a savepoint, and answers each
    /// once the group is committed. A request writes about eight pages (the call, its
    /// timeline, the caller ID and their indexes); a group shares those pages and one commit.
    pub async fn create_call(
        &self,
        new: NewCall,
        callback: CallbackOf,
        now_ms: i64,
    ) -> Result<CreateCallOutcome, sqlx::Error> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = CreateJob {
            new,
            callback,
            now_ms,
            reply,
        };
        self.creates
            .send(job)
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }

    pub async fn call(&self, sid: &CallSid) -> Result<Option<Call>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM calls WHERE sid = ?")
            .bind(sid.as_str())
            .fetch_optional(&self.read)
            .await
    }

    pub async fn call_events(&self, sid: &CallSid) -> Result<Vec<CallEvent>, sqlx::Error> {
        sqlx::query_as("SELECT at, status, note FROM call_events WHERE call_sid = ? ORDER BY id")
            .bind(sid.as_str())
            .fetch_all(&self.read)
            .await
    }

    /// Calls whose next step is due at `now_ms`.
    pub async fn due_calls(&self, now_ms: i64, limit: i64) -> Result<Vec<Call>, sqlx::Error> {
        sqlx::query_as(
            "SELECT * FROM calls WHERE next_action_at IS NOT NULL AND next_action_at <= ?
             ORDER BY next_action_at LIMIT ?",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.write)
        .await
    }

    /// When the next pending call is due, if any is pending.
    pub async fn next_call_due(&self) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT MIN(next_action_at) FROM calls WHERE next_action_at IS NOT NULL")
            .fetch_one(&self.write)
            .await
    }

    pub async fn pending_calls(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM calls WHERE next_action_at IS NOT NULL")
            .fetch_one(&self.read)
            .await
    }

    /// Moves calls on, all in one transaction: each provided it is still in the state it was
    /// read in. On success the caller ID is created here; if the number got verified meanwhile
    /// (through the control API), the call ends as a failed verification instead. The
    /// callback of a call that ends, if it has one, is queued in the same transaction.
    pub async fn apply_call_updates(
        &self,
        updates: Vec<CallUpdate<'_>>,
        callback: impl Fn(&Call) -> Option<NewCallback>,
        now_ms: i64,
    ) -> Result<Vec<Applied>, sqlx::Error> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        let mut applied = Vec::with_capacity(updates.len());
        let mut created: Vec<CallerId> = Vec::new();
        for mut update in updates {
            // Holding the writer, the index and this batch's own inserts are every number
            // verified so far.
            let exists = update.create_caller_id && number_taken(&self.ids(), &created, &update.to);
            let caller_id_sid = (update.create_caller_id && !exists).then(CallerIdSid::generate);
            if exists {
                update.to.verification_status = Some("failed".into());
                if let Some((_, note)) = update.events.last_mut() {
                    note.push_str(
                        "; the number was already verified on this account, so nothing was created",
                    );
                }
            }
            let to = &update.to;
            let from = update.from;
            let mut rows: Vec<Call> = sqlx::query_as(
                "UPDATE calls SET status = ?, verification_status = ?, next_action_at = ?,
                 start_time = ?, end_time = ?, duration = ?, digits = ?,
                 outgoing_caller_id_sid = ?, date_updated = ?
                 WHERE sid = ? AND status = ? AND next_action_at IS ? AND digits IS ?
                 RETURNING *",
            )
            .bind(&to.status)
            .bind(&to.verification_status)
            .bind(to.next_action_at)
            .bind(to.start_time)
            .bind(to.end_time)
            .bind(to.duration)
            .bind(&to.digits)
            .bind(caller_id_sid.as_ref().map(CallerIdSid::as_str))
            .bind(now_ms)
            .bind(&from.sid)
            .bind(&from.status)
            .bind(from.next_action_at)
            .bind(&from.digits)
            .fetch_all(&mut *tx)
            .await?;
            let Some(ended) = rows.pop() else {
                applied.push(Applied::Stale);
                continue;
            };
            if let Some(sid) = &caller_id_sid {
                let account = AccountSid::from_trusted(ended.account_sid.clone());
                let phone = PhoneNumber::from_trusted(ended.to_number.clone());
                // The number was checked free above, while holding the writer.
                let row = insert_caller_id_tx(
                    &mut tx,
                    sid,
                    &account,
                    &phone,
                    &ended.friendly_name,
                    now_ms / 1000,
                )
                .await?
                .ok_or(sqlx::Error::RowNotFound)?;
                created.push(row);
            }
            if !update.events.is_empty() {
                let mut events = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO call_events (call_sid, at, status, note) ",
                );
                events.push_values(update.events, |mut row, (status, note)| {
                    row.push_bind(&ended.sid)
                        .push_bind(now_ms)
                        .push_bind(status)
                        .push_bind(note);
                });
                events.build().execute(&mut *tx).await?;
            }
            if ended.next_action_at.is_none() {
                if let Some(cb) = callback(&ended) {
                    insert_callback(&mut tx, &ended.account_sid, &ended.sid, &cb, now_ms).await?;
                }
            }
            applied.push(Applied::Done);
        }
        tx.commit().await?;
        let mut ids = self.ids_mut();
        for row in created {
            ids.put(row);
        }
        Ok(applied)
    }

    /// Records digits keyed by the callee and makes the call due now if it is waiting for
    /// them. `None` when the call has ended (or does not exist).
    pub async fn key_digits(
        &self,
        sid: &CallSid,
        digits: &str,
        now_ms: i64,
    ) -> Result<Option<Call>, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let rows: Vec<Call> = sqlx::query_as(
            "UPDATE calls SET digits = ?, date_updated = ?,
             next_action_at = CASE WHEN status = 'in-progress' THEN ? ELSE next_action_at END
             WHERE sid = ? AND next_action_at IS NOT NULL RETURNING *",
        )
        .bind(digits)
        .bind(now_ms)
        .bind(now_ms)
        .bind(sid.as_str())
        .fetch_all(&mut *tx)
        .await?;
        if !rows.is_empty() {
            insert_event(
                &mut tx,
                sid.as_str(),
                now_ms,
                "digits",
                format!("callee keyed {digits:?}"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(rows.into_iter().next())
    }

    // ---- callbacks ------------------------------------------------------------------------

    /// Takes up to `limit` due callbacks and marks them `sending` with no next attempt, so
    /// that nothing claims them again while this process lives; [`Store::record_attempt`] sets
    /// their next state. After a crash, [`Store::resume_interrupted_callbacks`] requeues them.
    pub async fn claim_due_callbacks(
        &self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<Callback>, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let rows: Vec<Callback> = sqlx::query_as(
            "UPDATE callbacks SET state = 'sending', next_attempt_at = NULL WHERE id IN (
                SELECT id FROM callbacks WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?
                ORDER BY next_attempt_at LIMIT ?)
             RETURNING *",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Requeues, due at `now_ms`, every callback left `sending`: its delivery was cut short by
    /// a crash (a graceful shutdown waits for deliveries), so it is sent again, with the same
    /// idempotency token. Call once at start-up, before the sender runs.
    pub async fn resume_interrupted_callbacks(&self, now_ms: i64) -> Result<u64, sqlx::Error> {
        sqlx::query(
            "UPDATE callbacks SET state = 'pending', next_attempt_at = ? WHERE state = 'sending'",
        )
        .bind(now_ms)
        .execute(&self.write)
        .await
        .map(|done| done.rows_affected())
    }

    /// Puts a claimed callback back in the queue, due at `at`, without counting an attempt
    /// (nothing was sent).
    pub async fn requeue_callback(&self, id: i64, at: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE callbacks SET state = 'pending', next_attempt_at = ?
             WHERE id = ? AND state = 'sending'",
        )
        .bind(at)
        .bind(id)
        .execute(&self.write)
        .await
        .map(|_| ())
    }

    pub async fn next_callback_due(&self) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM callbacks WHERE next_attempt_at IS NOT NULL",
        )
        .fetch_one(&self.write)
        .await
    }

    /// Records one delivery attempt and the callback's new state in one transaction.
    pub async fn record_attempt(
        &self,
        attempt: &CallbackAttempt,
        state: &str,
        next_attempt_at: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO callback_attempts (callback_id, attempt, at, url, signature, status_code,
             latency_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(attempt.callback_id)
        .bind(attempt.attempt)
        .bind(attempt.at)
        .bind(&attempt.url)
        .bind(&attempt.signature)
        .bind(attempt.status_code)
        .bind(attempt.latency_ms)
        .bind(&attempt.error)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE callbacks SET state = ?, attempts = ?, next_attempt_at = ? WHERE id = ?",
        )
        .bind(state)
        .bind(attempt.attempt)
        .bind(next_attempt_at)
        .bind(attempt.callback_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// The callback journal, newest first, optionally for one account and/or call.
    pub async fn callbacks(
        &self,
        account: Option<&AccountSid>,
        call: Option<&CallSid>,
        limit: i64,
    ) -> Result<Vec<(Callback, Vec<CallbackAttempt>)>, sqlx::Error> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM callbacks WHERE 1 = 1");
        if let Some(a) = account {
            q.push(" AND account_sid = ").push_bind(a.as_str());
        }
        if let Some(c) = call {
            q.push(" AND call_sid = ").push_bind(c.as_str());
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        let callbacks: Vec<Callback> = q.build_query_as().fetch_all(&self.read).await?;
        let mut out = Vec::with_capacity(callbacks.len());
        for cb in callbacks {
            let attempts = sqlx::query_as(
                "SELECT callback_id, attempt, at, url, signature, status_code, latency_ms, error
                 FROM callback_attempts WHERE callback_id = ? ORDER BY id",
            )
            .bind(cb.id)
            .fetch_all(&self.read)
            .await?;
            out.push((cb, attempts));
        }
        Ok(out)
    }

    /// Callbacks delivered, failed, and not yet settled (`pending` or `sending`).
    pub async fn callback_counts(&self) -> Result<(i64, i64, i64), sqlx::Error> {
        sqlx::query_as(
            "SELECT COALESCE(SUM(state = 'delivered'), 0), COALESCE(SUM(state = 'failed'), 0),
                    COALESCE(SUM(state IN ('pending', 'sending')), 0) FROM callbacks",
        )
        .fetch_one(&self.read)
        .await
    }
}

/// The StatusCallback a call that ends makes, if any (see `verification::status_callback`).
pub type CallbackOf = fn(&Call) -> Option<NewCallback>;

/// A validation request waiting for the group commit.
struct CreateJob {
    new: NewCall,
    callback: CallbackOf,
    now_ms: i64,
    reply: tokio::sync::oneshot::Sender<Result<CreateCallOutcome, sqlx::Error>>,
}

/// The most validation requests committed together.
const CREATES_PER_COMMIT: usize = 64;

/// The group commit of validation requests (see [`Store::create_call`]); ends when every
/// `Store` is gone.
async fn run_creates(
    write: SqlitePool,
    caller_ids: Arc<RwLock<CallerIdIndex>>,
    mut jobs: tokio::sync::mpsc::UnboundedReceiver<CreateJob>,
) {
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        while group.len() < CREATES_PER_COMMIT {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        match create_group(&write, &caller_ids, &mut group).await {
            Ok(outcomes) => {
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    let _ = job.reply.send(outcome);
                }
            }
            Err(e) => {
                let message = e.to_string();
                for job in group {
                    let _ = job.reply.send(Err(sqlx::Error::Protocol(message.clone())));
                }
            }
        }
    }
}

/// Writes `group` in one transaction; the outcome of each, or the error that failed them all.
async fn create_group(
    write: &SqlitePool,
    caller_ids: &RwLock<CallerIdIndex>,
    group: &mut [CreateJob],
) -> Result<Vec<Result<CreateCallOutcome, sqlx::Error>>, sqlx::Error> {
    // Holding the writer, the index is exactly what is committed; numbers verified earlier in
    // this group are added to it.
    let mut conn = write.acquire().await?;
    let mut tx = conn.begin().await?;
    let mut outcomes = Vec::with_capacity(group.len());
    let mut created: Vec<CallerId> = Vec::new();
    for job in group.iter_mut() {
        let verified = number_taken(
            &caller_ids.read().unwrap_or_else(|e| e.into_inner()),
            &created,
            &job.new.call,
        );
        if verified {
            outcomes.push(Ok(CreateCallOutcome::AlreadyVerified));
            continue;
        }
        match create_one(&mut tx, job).await {
            Ok((superseded, caller_id)) => {
                for ended in &superseded {
                    if let Some(cb) = (job.callback)(ended) {
                        insert_callback(&mut tx, &ended.account_sid, &ended.sid, &cb, job.now_ms)
                            .await?;
                    }
                }
                created.extend(caller_id.clone());
                outcomes.push(Ok(CreateCallOutcome::Created(CreatedCall {
                    superseded,
                    caller_id: None,
                })));
            }
            Err(e) => {
                sqlx::query("ROLLBACK TO one_create; RELEASE one_create")
                    .execute(&mut *tx)
                    .await?;
                outcomes.push(Err(e));
            }
        }
    }
    tx.commit().await?;
    let mut ids = caller_ids.write().unwrap_or_else(|e| e.into_inner());
    let mut rows = created
        .into_iter()
        .map(|row| ids.put(row))
        .collect::<Vec<_>>()
        .into_iter();
    drop(ids);
    // The caller IDs were made in the order of the requests that made them.
    for (job, outcome) in group.iter().zip(outcomes.iter_mut()) {
        if let Ok(CreateCallOutcome::Created(made)) = outcome {
            if job.new.create_caller_id {
                made.caller_id = rows.next();
            }
        }
    }
    Ok(outcomes)
}

/// One validation request's statements, inside a savepoint, in one round trip: supersede the
/// calls pending for the number (their events and the UPDATE … RETURNING), insert the call,
/// its events, the caller ID and the callback. Returns the superseded calls and the caller ID.
async fn create_one(
    tx: &mut Transaction<'_, Sqlite>,
    job: &mut CreateJob,
) -> Result<(Vec<Call>, Option<CallerId>), sqlx::Error> {
    let now_ms = job.now_ms;
    let caller_id_sid = job.new.create_caller_id.then(CallerIdSid::generate);
    job.new.call.outgoing_caller_id_sid = caller_id_sid.as_ref().map(ToString::to_string);
    let events = std::mem::take(&mut job.new.events);
    let call = &job.new.call;
    let mut q = QueryBuilder::<Sqlite>::new(
        "SAVEPOINT one_create; INSERT INTO call_events (call_sid, at, status, note) SELECT sid, ",
    );
    q.push_bind(now_ms)
        .push(", 'canceled', ")
        .push_bind(format!("superseded by validation request {}", call.sid))
        .push(" FROM calls WHERE account_sid = ")
        .push_bind(&call.account_sid)
        .push(" AND to_number = ")
        .push_bind(&call.to_number)
        .push(" AND next_action_at IS NOT NULL; ");
    q.push(
        "UPDATE calls SET status = 'canceled', verification_status = 'failed',
         next_action_at = NULL, end_time = ",
    )
    .push_bind(now_ms)
    .push(", date_updated = ")
    .push_bind(now_ms)
    .push(" WHERE account_sid = ")
    .push_bind(&call.account_sid)
    .push(" AND to_number = ")
    .push_bind(&call.to_number)
    .push(" AND next_action_at IS NOT NULL RETURNING 'superseded' AS kind, *; ");
    q.push(
        "INSERT INTO calls (sid, account_sid, to_number, friendly_name, validation_code,
         extension, call_delay, status_callback, status_callback_method, behavior, status,
         verification_status, digits, next_action_at, outgoing_caller_id_sid, date_created,
         date_updated, start_time, end_time, duration) ",
    );
    q.push_values([&call], |mut row, c| {
        row.push_bind(&c.sid)
            .push_bind(&c.account_sid)
            .push_bind(&c.to_number)
            .push_bind(&c.friendly_name)
            .push_bind(&c.validation_code)
            .push_bind(&c.extension)
            .push_bind(c.call_delay)
            .push_bind(&c.status_callback)
            .push_bind(&c.status_callback_method)
            .push_bind(&c.behavior)
            .push_bind(&c.status)
            .push_bind(&c.verification_status)
            .push_bind(&c.digits)
            .push_bind(c.next_action_at)
            .push_bind(&c.outgoing_caller_id_sid)
            .push_bind(c.date_created)
            .push_bind(c.date_updated)
            .push_bind(c.start_time)
            .push_bind(c.end_time)
            .push_bind(c.duration);
    });
    q.push("; INSERT INTO call_events (call_sid, at, status, note) ");
    q.push_values(events, |mut row, (status, note)| {
        row.push_bind(&call.sid)
            .push_bind(now_ms)
            .push_bind(status)
            .push_bind(note);
    });
    if let Some(sid) = &caller_id_sid {
        q.push(
            "; INSERT INTO outgoing_caller_ids (sid, account_sid, phone_number, friendly_name,
             date_created, date_updated) ",
        );
        q.push_values([&call], |mut row, c| {
            row.push_bind(sid.as_str())
                .push_bind(&c.account_sid)
                .push_bind(&c.to_number)
                .push_bind(&c.friendly_name)
                .push_bind(now_ms / 1000)
                .push_bind(now_ms / 1000);
        });
        q.push(" RETURNING 'caller_id' AS kind, *");
    }
    let own_callback = call
        .next_action_at
        .is_none()
        .then(|| (job.callback)(call))
        .flatten();
    if let Some(cb) = &own_callback {
        q.push("; ");
        push_insert_callback(&mut q, &call.account_sid, &call.sid, cb, now_ms);
    }
    q.push("; RELEASE one_create");
    let rows = q.build().fetch_all(&mut **tx).await?;
    let mut superseded = Vec::new();
    let mut caller_id = None;
    for row in &rows {
        match row.try_get::<&str, _>("kind")? {
            "superseded" => superseded.push(Call::from_row(row)?),
            _ => caller_id = Some(CallerId::from_row(row)?),
        }
    }
    Ok((superseded, caller_id))
}

/// Every caller ID in sid order, for the index. The rows come as one JSON array made by
/// SQLite: sqlx hands rows over one at a time from its connection thread, about 6 µs each,
/// which was 60 ms of a 10,000-row start-up.
async fn load_caller_ids(pool: &SqlitePool) -> Result<Vec<CallerId>, sqlx::Error> {
    type Row = (String, String, String, String, i64, i64);
    let text: Option<String> = sqlx::query_scalar(
        "SELECT json_group_array(json_array(sid, account_sid, phone_number, friendly_name,
                date_created, date_updated))
         FROM (SELECT * FROM outgoing_caller_ids ORDER BY sid)",
    )
    .fetch_one(pool)
    .await?;
    let rows: Vec<Row> = serde_json::from_str(text.as_deref().unwrap_or("[]"))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(rows
        .into_iter()
        .map(
            |(sid, account_sid, phone_number, friendly_name, date_created, date_updated)| {
                CallerId {
                    sid,
                    account_sid,
                    phone_number,
                    friendly_name,
                    date_created,
                    date_updated,
                    json: Default::default(),
                }
            },
        )
        .collect())
}

/// A passive checkpoint; returns how many frames the WAL holds.
async fn checkpoint(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    // fetch_all: a statement left unfinished keeps its connection's read snapshot open.
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.first().map_or(0, |(_busy, frames, _copied)| *frames))
}

/// Whether `call`'s number is verified on its account: committed (the index, read while the
/// writer is held) or made earlier in the same transaction (`made`).
fn number_taken(index: &CallerIdIndex, made: &[CallerId], call: &Call) -> bool {
    index.has_number(&call.account_sid, &call.to_number)
        || made
            .iter()
            .any(|c| c.account_sid == call.account_sid && c.phone_number == call.to_number)
}

/// Inserts a caller ID as `sid`; `None` when the account already has the number.
async fn insert_caller_id_tx(
    tx: &mut Transaction<'_, Sqlite>,
    sid: &CallerIdSid,
    account: &AccountSid,
    phone: &PhoneNumber,
    friendly_name: &str,
    now: i64,
) -> Result<Option<CallerId>, sqlx::Error> {
    let result: Result<Vec<CallerId>, _> = sqlx::query_as(
        "INSERT INTO outgoing_caller_ids (sid, account_sid, phone_number, friendly_name,
         date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
    )
    .bind(sid.as_str())
    .bind(account.as_str())
    .bind(phone.as_str())
    .bind(friendly_name)
    .bind(now)
    .bind(now)
    .fetch_all(&mut **tx)
    .await;
    match result {
        Ok(mut rows) => Ok(rows.pop()),
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn insert_event(
    tx: &mut Transaction<'_, Sqlite>,
    call_sid: &str,
    at: i64,
    status: &str,
    note: String,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO call_events (call_sid, at, status, note) VALUES (?, ?, ?, ?)")
        .bind(call_sid)
        .bind(at)
        .bind(status)
        .bind(note)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

async fn insert_callback(
    tx: &mut Transaction<'_, Sqlite>,
    account_sid: &str,
    call_sid: &str,
    cb: &NewCallback,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let mut q = QueryBuilder::<Sqlite>::new("");
    push_insert_callback(&mut q, account_sid, call_sid, cb, now_ms);
    q.build().execute(&mut **tx).await.map(|_| ())
}

/// Appends the statement that queues `cb`, due now, to `q`.
fn push_insert_callback<'a>(
    q: &mut QueryBuilder<'a, Sqlite>,
    account_sid: &'a str,
    call_sid: &'a str,
    cb: &NewCallback,
    now_ms: i64,
) {
    let params = serde_json::to_string(&cb.params).unwrap_or_else(|_| "[]".into());
    q.push(
        "INSERT INTO callbacks (account_sid, call_sid, url, method, params, idempotency_token,
         state, attempts, next_attempt_at, created_at) VALUES (",
    );
    q.separated(", ")
        .push_bind(account_sid)
        .push_bind(call_sid)
        .push_bind(cb.url.clone())
        .push_bind(cb.method.clone())
        .push_bind(params)
        .push_bind(uuid::Uuid::new_v4().to_string())
        .push_unseparated(", 'pending', 0, ")
        .push_bind_unseparated(now_ms)
        .push_unseparated(", ")
        .push_bind_unseparated(now_ms)
        .push_unseparated(")");
}
