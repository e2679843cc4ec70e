//! The SQLite backend, in WAL mode: reads go through a small pool, writes through a pool of
//! exactly one connection, so writers queue in the process instead of meeting SQLITE_BUSY.
//! Caller IDs and callee behaviours are read from memory ([`memory`], [`index`]), kept in step
//! with the tables by `Write::commit` ([`core`]), the one place that changes them; credentials
//! are cached ([`credentials`]); validation requests are committed in groups
//! ([`group_commit`]); a checkpointer keeps the WAL short beside the writer ([`checkpoint`]).

mod accounts;
mod callbacks;
mod caller_ids;
mod calls;
mod checkpoint;
mod core;
mod credentials;
mod group_commit;
mod index;
mod memory;
use super::rows;
mod statements;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::StoreError;
use memory::Memory;

use self::core::{Change, Core, Write};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct SqliteStore {
    core: Arc<Core>,
    /// The queue of the validation requests' group commit, whose task ends when the last
    /// clone of this store is gone.
    creates: group_commit::Queue,
}

impl std::ops::Deref for SqliteStore {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and runs the migrations.
    pub async fn connect(url: &str, read_connections: u32) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let (read, write, checkpointer) = if in_memory {
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
            (pool.clone(), pool, None)
        } else {
            // No ping before each acquire: a SQLite connection cannot go stale, and the ping is
            // a round trip to the connection's thread that doubled the cost of a fetch.
            // The writer never checkpoints: a checkpoint copies pages back into the database
            // file and syncs it, which in the writer's commit path held every queued write for
            // milliseconds. The checkpointer does it beside the writer instead.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .connect_with(
                    options
                        .clone()
                        .pragma("wal_autocheckpoint", "0")
                        .pragma("temp_store", "memory"),
                )
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(read_connections.max(1))
                .test_before_acquire(false)
                .connect_with(options.clone().read_only(true))
                .await?;
            (read, write, Some(options))
        };
        MIGRATOR
            .run(&write)
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let started = std::time::Instant::now();
        let memory = Memory::load(&write).await?;
        tracing::info!(caller_ids = memory.caller_ids(), elapsed = ?started.elapsed(), "caller IDs loaded");
        let core = Arc::new(Core::new(read, write, memory, checkpointer));
        let creates = group_commit::start(core.clone());
        Ok(SqliteStore { core, creates })
    }
}
