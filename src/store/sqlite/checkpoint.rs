//! Keeps the WAL short. A passive checkpoint on a connection of its own copies what the WAL
//! holds beside the writer. Once the WAL is [`RESTART_WAL_AT_FRAMES`] long, a second one runs
//! on the writer connection, between two writes: it copies only what was committed meanwhile,
//! and the writer's next write then starts the WAL again from the beginning instead of growing
//! it. (SQLite restarted the WAL only after a checkpoint made by the writer itself, in
//! measurements.)

use std::time::Duration;

use sqlx::sqlite::SqliteConnection;
use sqlx::Connection;
use tokio::sync::watch;

use super::Core;

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// The WAL length (in 4 KiB frames) from which the checkpointer makes the writer start the WAL
/// again from the beginning.
const RESTART_WAL_AT_FRAMES: i64 = 256;

impl Core {
    /// Runs the checkpointer every [`CHECKPOINT_INTERVAL`] until `stop` turns true. Nothing to
    /// do in memory.
    pub(super) async fn run_checkpoints(&self, mut stop: watch::Receiver<bool>) {
        let Some(options) = self.checkpointer().cloned() else {
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
            if let Err(e) = self.checkpoint_round(c, &mut restarted_at).await {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                conn = None;
            }
        }
        if let Some(c) = conn {
            let _ = c.close().await;
        }
    }

    /// One round: passive checkpoints beside the writer until what was committed during the
    /// last one is little, then, if the WAL is long, the last one on the writer, so that the
    /// writer holds up requests only for that little.
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
        let mut writer = self.writer_for_checkpoint().await?;
        let held = std::time::Instant::now();
        *restarted_at = checkpoint(writer.conn()).await?;
        tracing::debug!(frames, passes, ?beside, writer_held = ?held.elapsed(), "WAL checkpointed");
        Ok(())
    }
}

/// A passive checkpoint; returns how many frames the WAL holds.
async fn checkpoint(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    // fetch_all: a statement left unfinished keeps its connection's read snapshot open.
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.first().map_or(0, |(_busy, frames, _copied)| *frames))
}
