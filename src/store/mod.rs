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
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, QueryBuilder, Sqlite, Transaction};

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
}

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

/// What a new validation request did to the calls already pending for its number.
pub struct NewCall {
    pub superseded: Vec<Call>,
}

/// The outcome of creating a validation request.
pub enum CreateCallOutcome {
    Created(NewCall),
    AlreadyVerified,
}

/// How a call moves on, as decided by the verification state machine.
pub struct CallUpdate<'a> {
    pub status: &'a str,
    pub verification_status: Option<&'a str>,
    pub next_action_at: Option<i64>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub duration: Option<i64>,
    pub digits: Option<&'a str>,
    pub note: String,
    /// On success: create this caller ID in the same transaction.
    pub create_caller_id: bool,
}

/// A StatusCallback request to queue with the call's final state.
pub struct NewCallback {
    pub url: String,
    pub method: String,
    pub params: Vec<(String, String)>,
}

/// What applying a call update did.
pub enum Applied {
    /// The call was not in the expected state (moved on by someone else); nothing written.
    Stale,
    Done {
        caller_id: Option<Arc<CallerId>>,
        verification_failed_because_exists: bool,
    },
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
            }
        } else {
            // No ping before each acquire: a SQLite connection cannot go stale, and the ping is
            // a round trip to the connection's thread that doubled the cost of a fetch.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .connect_with(options.clone())
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(read_connections.max(1))
                .test_before_acquire(false)
                .connect_with(options.read_only(true))
                .await?;
            Store {
                read,
                write,
                credentials: Arc::default(),
                caller_ids: Arc::default(),
            }
        };
        MIGRATOR.run(&store.write).await?;
        let rows: Vec<CallerId> = sqlx::query_as("SELECT * FROM outgoing_caller_ids")
            .fetch_all(&store.write)
            .await?;
        *store.ids_mut() = CallerIdIndex::load(rows);
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

    /// The one writer connection. Whoever changes caller IDs holds it until the index is
    /// changed too, so the index takes changes in the order they committed.
    async fn writer(&self) -> Result<PoolConnection<Sqlite>, sqlx::Error> {
        self.write.acquire().await
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
        let mut ids = self.ids_mut();
        for sid in removed {
            ids.remove_account(&sid);
        }
        drop(ids);
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
        self.ids_mut().remove_account(sid.as_str());
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
        let row = insert_caller_id_tx(&mut tx, account, phone, friendly_name, now).await?;
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
        sqlx::query(
            "INSERT INTO phone_behaviors (account_sid, phone_number, behavior) VALUES (?, ?, ?)
             ON CONFLICT (account_sid, phone_number) DO UPDATE SET behavior = excluded.behavior",
        )
        .bind(account.as_str())
        .bind(phone.as_str())
        .bind(behavior)
        .execute(&self.write)
        .await
        .map(|_| ())
    }

    pub async fn behavior(
        &self,
        account: &AccountSid,
        phone: &PhoneNumber,
    ) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT behavior FROM phone_behaviors WHERE account_sid = ? AND phone_number = ?",
        )
        .bind(account.as_str())
        .bind(phone.as_str())
        .fetch_optional(&self.read)
        .await
    }

    // ---- calls ----------------------------------------------------------------------------

    /// Creates a verification call, unless the number is already verified on the account. Calls
    /// still pending for the same number end as `canceled` in the same transaction, each with
    /// its callback queued.
    pub async fn create_call(
        &self,
        call: &Call,
        superseded_callback: impl Fn(&Call) -> Option<NewCallback>,
        now_ms: i64,
    ) -> Result<CreateCallOutcome, sqlx::Error> {
        // Holding the writer, the index is exactly what is committed.
        let mut conn = self.writer().await?;
        if self.ids().has_number(&call.account_sid, &call.to_number) {
            return Ok(CreateCallOutcome::AlreadyVerified);
        }
        let mut tx = conn.begin().await?;
        let pending: Vec<Call> = sqlx::query_as(
            "SELECT * FROM calls WHERE account_sid = ? AND to_number = ? AND next_action_at IS NOT NULL",
        )
        .bind(&call.account_sid)
        .bind(&call.to_number)
        .fetch_all(&mut *tx)
        .await?;
        let mut superseded = Vec::with_capacity(pending.len());
        for old in pending {
            sqlx::query(
                "UPDATE calls SET status = 'canceled', verification_status = 'failed',
                 next_action_at = NULL, end_time = ?, date_updated = ? WHERE sid = ?",
            )
            .bind(now_ms)
            .bind(now_ms)
            .bind(&old.sid)
            .execute(&mut *tx)
            .await?;
            insert_event(
                &mut tx,
                &old.sid,
                now_ms,
                "canceled",
                format!("superseded by validation request {}", call.sid),
            )
            .await?;
            let mut ended = old.clone();
            ended.status = "canceled".into();
            ended.verification_status = Some("failed".into());
            ended.end_time = Some(now_ms);
            if let Some(cb) = superseded_callback(&ended) {
                insert_callback(&mut tx, &ended.account_sid, &ended.sid, &cb, now_ms).await?;
            }
            superseded.push(ended);
        }
        sqlx::query(
            "INSERT INTO calls (sid, account_sid, to_number, friendly_name, validation_code,
             extension, call_delay, status_callback, status_callback_method, behavior, status,
             verification_status, digits, next_action_at, outgoing_caller_id_sid, date_created,
             date_updated, start_time, end_time, duration)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, NULL, ?, ?, NULL, NULL, NULL)",
        )
        .bind(&call.sid)
        .bind(&call.account_sid)
        .bind(&call.to_number)
        .bind(&call.friendly_name)
        .bind(&call.validation_code)
        .bind(&call.extension)
        .bind(call.call_delay)
        .bind(&call.status_callback)
        .bind(&call.status_callback_method)
        .bind(&call.behavior)
        .bind(&call.status)
        .bind(call.next_action_at)
        .bind(call.date_created)
        .bind(call.date_updated)
        .execute(&mut *tx)
        .await?;
        insert_event(
            &mut tx,
            &call.sid,
            now_ms,
            "queued",
            format!(
                "validation request created; callee behaviour {}, CallDelay {}s",
                call.behavior, call.call_delay
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(CreateCallOutcome::Created(NewCall { superseded }))
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

    /// Moves `call` on, provided it is still in the status, step and digits it was read in
    /// (digits keyed meanwhile make the scheduler read the call again). On
    /// success the caller ID is created here; if the number got verified meanwhile (through
    /// the control API), the call ends as a failed verification instead. The callback, if
    /// any, is queued in the same transaction.
    pub async fn apply_call_update(
        &self,
        call: &Call,
        update: &CallUpdate<'_>,
        callback: impl FnOnce(&Call) -> Option<NewCallback>,
        now_ms: i64,
    ) -> Result<Applied, sqlx::Error> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        let mut caller_id = None;
        let mut verification = update.verification_status;
        let mut exists_conflict = false;
        if update.create_caller_id {
            let phone = PhoneNumber::from_trusted(call.to_number.clone());
            let account = AccountSid::from_trusted(call.account_sid.clone());
            caller_id = insert_caller_id_tx(
                &mut tx,
                &account,
                &phone,
                &call.friendly_name,
                now_ms / 1000,
            )
            .await?;
            if caller_id.is_none() {
                verification = Some("failed");
                exists_conflict = true;
            }
        }
        let changed = sqlx::query(
            "UPDATE calls SET status = ?, verification_status = COALESCE(?, verification_status),
             next_action_at = ?, start_time = COALESCE(?, start_time), end_time = COALESCE(?, end_time),
             duration = COALESCE(?, duration), digits = COALESCE(?, digits),
             outgoing_caller_id_sid = ?, date_updated = ?
             WHERE sid = ? AND status = ? AND next_action_at IS ? AND digits IS ?",
        )
        .bind(update.status)
        .bind(verification)
        .bind(update.next_action_at)
        .bind(update.start_time)
        .bind(update.end_time)
        .bind(update.duration)
        .bind(update.digits)
        .bind(caller_id.as_ref().map(|c: &CallerId| c.sid.clone()))
        .bind(now_ms)
        .bind(&call.sid)
        .bind(&call.status)
        .bind(call.next_action_at)
        .bind(&call.digits)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            tx.rollback().await?;
            return Ok(Applied::Stale);
        }
        let mut note = update.note.clone();
        if exists_conflict {
            note.push_str(
                "; the number was already verified on this account, so nothing was created",
            );
        }
        insert_event(&mut tx, &call.sid, now_ms, update.status, note).await?;
        let ended: Call = sqlx::query_as("SELECT * FROM calls WHERE sid = ?")
            .bind(&call.sid)
            .fetch_one(&mut *tx)
            .await?;
        if update.next_action_at.is_none() {
            if let Some(cb) = callback(&ended) {
                insert_callback(&mut tx, &ended.account_sid, &ended.sid, &cb, now_ms).await?;
            }
        }
        tx.commit().await?;
        let caller_id = caller_id.map(|row| self.ids_mut().put(row));
        Ok(Applied::Done {
            caller_id,
            verification_failed_because_exists: exists_conflict,
        })
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

async fn insert_caller_id_tx(
    tx: &mut Transaction<'_, Sqlite>,
    account: &AccountSid,
    phone: &PhoneNumber,
    friendly_name: &str,
    now: i64,
) -> Result<Option<CallerId>, sqlx::Error> {
    let sid = CallerIdSid::generate();
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
    let params = serde_json::to_string(&cb.params).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO callbacks (account_sid, call_sid, url, method, params, idempotency_token,
         state, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
    )
    .bind(account_sid)
    .bind(call_sid)
    .bind(&cb.url)
    .bind(&cb.method)
    .bind(params)
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(now_ms)
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}
