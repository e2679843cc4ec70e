//! The writer's turn and what it guards: every write runs as a [`Write`] that holds the turn,
//! and ends only in [`Write::commit`], which commits and then applies the write's changes to
//! memory ([`Core::apply`], the one place that changes memory) before giving up the turn. The
//! connection pools are private here, so no write can go around it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool};
use sqlx::Sqlite;
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use super::credentials::CredentialCache;
use super::memory::Memory;
use crate::domain::call::Behavior;
use crate::domain::caller_id::CallerId;
use crate::domain::sid::{AccountSid, CallerIdSid};
use crate::domain::PhoneNumber;
use crate::store::StoreError;

/// Everything of the backend but the group commit's queue, shared with its task.
pub struct Core {
    read: SqlitePool,
    write: SqlitePool,
    /// The writer's connection, taken out of its pool at the first write and kept (a pooled
    /// connection is pinged each time it goes back: a round trip to its thread, which the
    /// next write waited for). Holding it is the writer's turn: taken by every write from
    /// before its first statement until its change is applied to memory, so that memory
    /// takes changes in the order they committed.
    turn: Mutex<Option<PoolConnection<Sqlite>>>,
    /// A write dropped inside its transaction (an error, or its future cut short) left the
    /// transaction open: the next holder of the turn rolls it back first.
    rollback_due: AtomicBool,
    memory: RwLock<Memory>,
    credentials: CredentialCache,
    /// How to open the checkpointer's connection; `None` for an in-memory database.
    checkpointer: Option<SqliteConnectOptions>,
}

impl Core {
    pub(super) fn new(
        read: SqlitePool,
        write: SqlitePool,
        memory: Memory,
        checkpointer: Option<SqliteConnectOptions>,
    ) -> Core {
        Core {
            read,
            write,
            turn: Mutex::new(None),
            rollback_due: AtomicBool::new(false),
            memory: RwLock::new(memory),
            credentials: CredentialCache::default(),
            checkpointer,
        }
    }

    /// The read pool: reads see what is committed.
    pub(super) fn read(&self) -> &SqlitePool {
        &self.read
    }

    pub(super) fn credentials(&self) -> &CredentialCache {
        &self.credentials
    }

    pub(super) fn checkpointer(&self) -> Option<&SqliteConnectOptions> {
        self.checkpointer.as_ref()
    }

    /// The writer connection itself, for a WAL checkpoint between two writes: it changes no
    /// data, so it has nothing to apply.
    pub(super) async fn writer_for_checkpoint(&self) -> Result<Held<'_>, sqlx::Error> {
        self.take_turn().await
    }

    /// The turn and the writer's connection, with whatever an earlier write left open rolled
    /// back. A file database's writer is kept; an in-memory database has one connection,
    /// which its reads share, so a write takes it from the pool and gives it back.
    async fn take_turn(&self) -> Result<Held<'_>, sqlx::Error> {
        let mut turn = self.turn.lock().await;
        let mut held = if self.checkpointer.is_some() {
            if turn.is_none() {
                *turn = Some(self.write.acquire().await?);
            }
            Held::Kept(
                MutexGuard::try_map(turn, Option::as_mut).map_err(|_| sqlx::Error::PoolClosed)?,
            )
        } else {
            Held::Pooled {
                conn: Some(self.write.acquire().await?),
                _turn: turn,
            }
        };
        if self.rollback_due.load(Ordering::Acquire) {
            // SQLite may have rolled it back already, when the error was one that does. The
            // flag goes only once the ROLLBACK is answered: a take of the turn cut short
            // before it leaves the rollback to the next.
            let _ = sqlx::query("ROLLBACK").execute(held.conn()).await;
            self.rollback_due.store(false, Ordering::Release);
        }
        Ok(held)
    }

    /// Closes the connections. The writer's pool closes under the turn, so that no write
    /// waiting for it takes a new connection afterwards (which would keep the pool open).
    pub(super) async fn close(&self) {
        let mut turn = self.turn.lock().await;
        if let Some(conn) = turn.take() {
            let _ = conn.close().await;
        }
        self.write.close().await;
        drop(turn);
        self.read.close().await;
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> StoreError {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict("a unique value is taken")
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound("the account does not exist")
            }
            _ => StoreError::Backend(Box::new(err)),
        }
    }
}

/// A change to what memory holds, committed to SQLite and waiting for [`Write::commit`].
pub(super) enum Change {
    PutCallerId(CallerId),
    RemoveCallerId(AccountSid, CallerIdSid),
    SetBehavior(AccountSid, PhoneNumber, Behavior),
    ForgetAccount(AccountSid),
    ForgetAll,
    /// An account or key changed: cached credentials may be wrong.
    Credentials,
}

/// The writer's connection with its turn.
pub(super) enum Held<'s> {
    /// The connection kept out of the pool (a file database).
    Kept(MappedMutexGuard<'s, PoolConnection<Sqlite>>),
    /// The pool's connection, given back after the write (an in-memory database). `None`
    /// only once a write dropped in its transaction has handed it to its rollback.
    Pooled {
        conn: Option<PoolConnection<Sqlite>>,
        _turn: MutexGuard<'s, Option<PoolConnection<Sqlite>>>,
    },
}

impl Held<'_> {
    pub(super) fn conn(&mut self) -> &mut SqliteConnection {
        match self {
            Held::Kept(conn) => conn,
            Held::Pooled {
                conn: Some(conn), ..
            } => conn,
            Held::Pooled { conn: None, .. } => {
                unreachable!("a write's connection goes to its rollback only when it is dropped")
            }
        }
    }
}

/// One write, holding the writer's turn and its connection: in a transaction, or in
/// autocommit mode for a write of one statement (as atomic, without the BEGIN and COMMIT
/// round trips). It ends only in [`Write::commit`], which commits and then applies the
/// write's changes to memory before giving up the turn; dropped without it, its transaction
/// is rolled back by the next write.
pub(super) struct Write<'s> {
    store: &'s Core,
    conn: Held<'s>,
    /// In a transaction not yet committed.
    open: bool,
}

impl Drop for Write<'_> {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        // An in-memory database's reads share its one connection: it goes back to the pool
        // only once rolled back, so that no read sees what the write left uncommitted.
        if let (Held::Pooled { conn, .. }, Ok(runtime)) =
            (&mut self.conn, tokio::runtime::Handle::try_current())
        {
            if let Some(mut conn) = conn.take() {
                runtime.spawn(async move {
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                });
                return;
            }
        }
        self.store.rollback_due.store(true, Ordering::Release);
    }
}

impl<'s> Write<'s> {
    pub(super) fn conn(&mut self) -> &mut SqliteConnection {
        self.conn.conn()
    }

    /// Commits, then applies `changes` to memory; the caller IDs put, in order.
    pub(super) async fn commit(
        mut self,
        changes: Vec<Change>,
    ) -> Result<Vec<Arc<CallerId>>, StoreError> {
        if self.open {
            sqlx::query("COMMIT").execute(self.conn.conn()).await?;
            self.open = false;
        }
        Ok(self.store.apply(changes))
    }
}

impl Core {
    pub(super) fn memory(&self) -> RwLockReadGuard<'_, Memory> {
        // Memory is changed by infallible code only; a panic elsewhere cannot leave it half
        // changed, so a poisoned lock still guards a whole index.
        self.memory.read().unwrap_or_else(|e| e.into_inner())
    }

    fn memory_mut(&self) -> RwLockWriteGuard<'_, Memory> {
        self.memory.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A write in one transaction, open from before its BEGIN is sent: one cut short while
    /// the BEGIN is on its way leaves the rollback to the next write, which would otherwise
    /// run inside it.
    pub(super) async fn transaction(&self) -> Result<Write<'_>, StoreError> {
        let mut write = Write {
            store: self,
            conn: self.take_turn().await?,
            open: true,
        };
        sqlx::query("BEGIN").execute(write.conn()).await?;
        Ok(write)
    }

    /// A write of one statement, in autocommit mode.
    pub(super) async fn statement(&self) -> Result<Write<'_>, StoreError> {
        Ok(Write {
            store: self,
            conn: self.take_turn().await?,
            open: false,
        })
    }

    /// Applies committed changes to memory: the one place that changes the caller-ID index,
    /// the behaviours and the credential cache. Returns the caller IDs put, in order.
    fn apply(&self, changes: Vec<Change>) -> Vec<Arc<CallerId>> {
        let mut put = Vec::new();
        let mut credentials = false;
        let mut memory = self.memory_mut();
        for change in changes {
            match change {
                Change::PutCallerId(row) => put.push(memory.put(row)),
                Change::RemoveCallerId(account, sid) => memory.remove(&account, &sid),
                Change::SetBehavior(account, phone, behavior) => {
                    memory.set_behavior(account, phone, behavior)
                }
                Change::ForgetAccount(account) => memory.forget_account(&account),
                Change::ForgetAll => memory.clear(),
                Change::Credentials => credentials = true,
            }
        }
        drop(memory);
        if credentials {
            self.credentials.clear();
        }
        put
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::task::Poll;

    use super::super::SqliteStore;
    use super::Write;

    /// A table of the test's own, committed.
    async fn scratch_table(store: &SqliteStore) {
        let mut write = store.statement().await.expect("turn");
        sqlx::query("CREATE TABLE scratch (n INTEGER)")
            .execute(write.conn())
            .await
            .expect("create");
        write.commit(Vec::new()).await.expect("commit");
    }

    async fn insert_one(write: &mut Write<'_>) {
        sqlx::query("INSERT INTO scratch (n) VALUES (1)")
            .execute(write.conn())
            .await
            .expect("insert");
    }

    /// The rows of the scratch table, as the reads see them.
    async fn scratch_rows(store: &SqliteStore) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM scratch")
            .fetch_one(store.read())
            .await
            .expect("read")
    }

    /// A write whose future is dropped once its BEGIN is sent leaves the transaction open on
    /// the kept connection: the next write must not run inside it, unseen and uncommitted.
    #[tokio::test]
    async fn a_write_cut_short_after_its_begin_leaves_the_next_committed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("cut.db").display());
        let store = SqliteStore::connect(&url, 1).await.expect("store");
        scratch_table(&store).await;

        // One poll: the turn and the kept connection are free, so the BEGIN is sent, and the
        // write is dropped unanswered. The connection's thread may answer within that poll;
        // then it is tried again.
        let mut cut = false;
        for _ in 0..1000 {
            let mut begin = std::pin::pin!(store.transaction());
            let polled = std::future::poll_fn(|cx| Poll::Ready(begin.as_mut().poll(cx))).await;
            let Poll::Ready(write) = polled else {
                cut = true;
                break;
            };
            write
                .expect("begin")
                .commit(Vec::new())
                .await
                .expect("commit");
        }
        assert!(cut, "every BEGIN was answered within one poll");

        let mut write = store.statement().await.expect("turn");
        insert_one(&mut write).await;
        write.commit(Vec::new()).await.expect("commit");
        let seen = scratch_rows(&store).await;
        assert_eq!(seen, 1, "the insert after the cut write was not committed");
    }

    /// An in-memory database's reads share the writer's one connection: a write dropped in
    /// its transaction is rolled back before a read takes the connection.
    #[tokio::test]
    async fn a_dropped_write_on_an_in_memory_database_is_not_seen_by_the_reads() {
        let store = SqliteStore::connect("sqlite::memory:", 1)
            .await
            .expect("store");
        scratch_table(&store).await;
        let mut write = store.transaction().await.expect("turn");
        insert_one(&mut write).await;
        drop(write);
        let seen = scratch_rows(&store).await;
        assert_eq!(seen, 0, "a read saw the dropped write's insert");
    }
}
