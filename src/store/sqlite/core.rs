//! The writer's turn and what it guards: every write runs as a [`Write`] that holds the turn,
//! and ends only in [`Write::commit`], which commits and then applies the write's changes to
//! memory ([`Core::apply`], the one place that changes memory) before giving up the turn. The
//! connection pools are private here, so no write can go around it.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool};
use sqlx::{Sqlite, Transaction};

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
    /// Taken by every write from before its first statement until its change is applied to
    /// memory, so that memory takes changes in the order they committed.
    turn: tokio::sync::Mutex<()>,
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
            turn: tokio::sync::Mutex::new(()),
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
    /// data, so it neither needs the turn nor has anything to apply.
    pub(super) async fn writer_for_checkpoint(
        &self,
    ) -> Result<PoolConnection<Sqlite>, sqlx::Error> {
        self.write.acquire().await
    }

    pub(super) async fn close(&self) {
        self.write.close().await;
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

/// The connection a write runs on: a transaction, or the bare writer in autocommit mode for
/// a write of one statement (as atomic, without the BEGIN and COMMIT round trips).
enum Conn {
    Tx(Transaction<'static, Sqlite>),
    Auto(PoolConnection<Sqlite>),
}

/// One write, holding the writer's turn. It ends only in [`Write::commit`], which commits and
/// then applies the write's changes to memory before giving up the turn; dropped without it,
/// a transaction rolls back.
pub(super) struct Write<'s> {
    store: &'s Core,
    conn: Conn,
    _turn: tokio::sync::MutexGuard<'s, ()>,
}

impl<'s> Write<'s> {
    pub(super) fn conn(&mut self) -> &mut SqliteConnection {
        match &mut self.conn {
            Conn::Tx(tx) => tx,
            Conn::Auto(conn) => conn,
        }
    }

    /// Commits, then applies `changes` to memory; the caller IDs put, in order.
    pub(super) async fn commit(
        self,
        changes: Vec<Change>,
    ) -> Result<Vec<Arc<CallerId>>, StoreError> {
        if let Conn::Tx(tx) = self.conn {
            tx.commit().await?;
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

    /// A write in one transaction.
    pub(super) async fn transaction(&self) -> Result<Write<'_>, StoreError> {
        let turn = self.turn.lock().await;
        let tx = self.write.begin().await?;
        Ok(Write {
            store: self,
            conn: Conn::Tx(tx),
            _turn: turn,
        })
    }

    /// A write of one statement, in autocommit mode.
    pub(super) async fn statement(&self) -> Result<Write<'_>, StoreError> {
        let turn = self.turn.lock().await;
        let conn = self.write.acquire().await?;
        Ok(Write {
            store: self,
            conn: Conn::Auto(conn),
            _turn: turn,
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
