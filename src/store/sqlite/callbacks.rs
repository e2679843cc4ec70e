//! The StatusCallback queue: claimed by the sender, each attempt recorded with the new state.

use sqlx::{QueryBuilder, Sqlite};

use super::rows::{attempt, parse_all, AttemptRow, CallbackRow};
use super::{group_commit, SqliteStore};
use crate::domain::callback::{Attempted, Callback, CallbackAttempt, CallbackCounts};
use crate::domain::sid::{AccountSid, CallSid};
use crate::store::{CallbackStore, StoreError};

/// Writes `attempts` and the state each leaves its callback in, on `conn` (inside the
/// caller's transaction). A callback's row keeps its newest attempt (migration 0007): for a
/// retry, the attempt the row kept moves to `callback_attempts` first. A callback deleted
/// while it was being delivered (a reset, its account closed) has no row: every statement
/// passes it by, so it cannot fail the transaction, which holds validation requests too.
pub(super) async fn write_attempts(
    conn: &mut sqlx::SqliteConnection,
    attempts: &[Attempted],
) -> Result<(), StoreError> {
    // A callback has one attempt in a group (its next is made once this one is recorded).
    // Should one have two, each must move the one before it: write one at a time then.
    if has_repeat(attempts) {
        for one in attempts {
            write_in_chunks(conn, std::slice::from_ref(one)).await?;
        }
        return Ok(());
    }
    write_in_chunks(conn, attempts).await
}

/// Statements per query at most: 10 parameters each, well under SQLite's limit.
const PER_QUERY: usize = 64;

/// `items` in chunks of power-of-two sizes, so that a few statement texts, prepared once and
/// cached, serve every group.
fn chunks<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if items.is_empty() {
            return None;
        }
        let (chunk, rest) = items.split_at(PER_QUERY.min(1 << items.len().ilog2()));
        items = rest;
        Some(chunk)
    })
}

/// The moves of the retries' earlier attempts, then one single-row update per attempt, a
/// query per chunk. Single-row statements keep no statement journal; a multi-row update
/// would copy each page it changes that the transaction had changed already.
async fn write_in_chunks(
    conn: &mut sqlx::SqliteConnection,
    attempts: &[Attempted],
) -> Result<(), StoreError> {
    let retried: Vec<i64> = attempts
        .iter()
        .filter(|done| done.attempt.attempt > 1)
        .map(|done| done.attempt.callback_id)
        .collect();
    for chunk in chunks(&retried) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO callback_attempts (callback_id, attempt, at, url, signature,
             status_code, latency_ms, error)
             SELECT id, attempts, last_at, last_url, last_signature, last_status_code,
             last_latency_ms, last_error FROM callbacks WHERE last_at IS NOT NULL AND id IN (",
        );
        let mut ids = q.separated(", ");
        for id in chunk {
            ids.push_bind(*id);
        }
        q.push(")");
        q.build().execute(&mut *conn).await?;
    }
    for chunk in chunks(attempts) {
        let mut q = QueryBuilder::<Sqlite>::new("");
        for done in chunk {
            let a = &done.attempt;
            q.push("UPDATE callbacks SET state = ")
                .push_bind(done.state.as_str())
                .push(", attempts = ")
                .push_bind(a.attempt)
                .push(", next_attempt_at = ")
                .push_bind(done.next_attempt_at)
                .push(", last_at = ")
                .push_bind(a.at)
                .push(", last_url = ")
                .push_bind(&a.url)
                .push(", last_signature = ")
                .push_bind(&a.signature)
                .push(", last_status_code = ")
                .push_bind(a.status_code)
                .push(", last_latency_ms = ")
                .push_bind(a.latency_ms)
                .push(", last_error = ")
                .push_bind(&a.error)
                .push(" WHERE id = ")
                .push_bind(a.callback_id)
                .push("; ");
        }
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// A callback's row with the newest attempt it keeps (migration 0007).
#[derive(sqlx::FromRow)]
struct KeptRow {
    #[sqlx(flatten)]
    callback: CallbackRow,
    last_at: Option<i64>,
    last_url: Option<String>,
    last_signature: Option<String>,
    last_status_code: Option<i64>,
    last_latency_ms: Option<i64>,
    last_error: Option<String>,
}

impl KeptRow {
    /// The newest attempt, when one was recorded.
    fn newest(&self) -> Option<CallbackAttempt> {
        Some(CallbackAttempt {
            callback_id: self.callback.id,
            attempt: self.callback.attempts,
            at: self.last_at?,
            url: self.last_url.clone().unwrap_or_default(),
            signature: self.last_signature.clone().unwrap_or_default(),
            status_code: self.last_status_code,
            latency_ms: self.last_latency_ms.unwrap_or_default(),
            error: self.last_error.clone(),
        })
    }
}

/// Whether two of `attempts` are of the same callback.
fn has_repeat(attempts: &[Attempted]) -> bool {
    let mut ids: Vec<i64> = attempts.iter().map(|a| a.attempt.callback_id).collect();
    ids.sort_unstable();
    ids.windows(2).any(|pair| pair[0] == pair[1])
}

impl CallbackStore for SqliteStore {
    async fn claim_due_callbacks(&self, now: i64, limit: i64) -> Result<Vec<Callback>, StoreError> {
        let mut write = self.statement().await?;
        let rows: Vec<CallbackRow> = sqlx::query_as(
            "UPDATE callbacks SET state = 'sending', next_attempt_at = NULL WHERE id IN (
                SELECT id FROM callbacks WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?
                ORDER BY next_attempt_at LIMIT ?)
             RETURNING *",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(write.conn())
        .await?;
        write.commit(Vec::new()).await?;
        parse_all(rows, CallbackRow::parse)
    }

    async fn resume_interrupted_callbacks(&self, now: i64) -> Result<u64, StoreError> {
        let mut write = self.statement().await?;
        let done = sqlx::query(
            "UPDATE callbacks SET state = 'pending', next_attempt_at = ? WHERE state = 'sending'",
        )
        .bind(now)
        .execute(write.conn())
        .await?;
        write.commit(Vec::new()).await?;
        Ok(done.rows_affected())
    }

    async fn requeue_callback(&self, id: i64, at: i64) -> Result<(), StoreError> {
        let mut write = self.statement().await?;
        sqlx::query(
            "UPDATE callbacks SET state = 'pending', next_attempt_at = ?
             WHERE id = ? AND state = 'sending'",
        )
        .bind(at)
        .bind(id)
        .execute(write.conn())
        .await?;
        write.commit(Vec::new()).await?;
        Ok(())
    }

    async fn next_callback_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM callbacks WHERE next_attempt_at IS NOT NULL",
        )
        .fetch_one(self.read())
        .await?)
    }

    async fn next_lease_end(&self) -> Result<Option<i64>, StoreError> {
        // One process: a claimed callback is its own until it is recorded or resumed.
        Ok(None)
    }

    async fn record_attempts(&self, attempts: &[Attempted]) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        // Written with the next group of validation requests, in their transaction.
        group_commit::record(&self.creates, attempts.to_vec()).await
    }

    async fn callbacks(
        &self,
        account: Option<&AccountSid>,
        call: Option<&CallSid>,
        limit: i64,
    ) -> Result<Vec<(Callback, Vec<CallbackAttempt>)>, StoreError> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM callbacks WHERE 1 = 1");
        if let Some(a) = account {
            q.push(" AND account_sid = ").push_bind(a.as_str());
        }
        if let Some(c) = call {
            q.push(" AND call_sid = ").push_bind(c.as_str());
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        // One snapshot for the rows and their earlier attempts: an attempt recorded between
        // two reads moves the row's attempt into callback_attempts, which would list it twice.
        let mut read = self.read().begin().await?;
        let rows: Vec<KeptRow> = q.build_query_as().fetch_all(&mut *read).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let newest = row.newest();
            let cb = row.callback.parse()?;
            let earlier: Vec<AttemptRow> = sqlx::query_as(
                "SELECT callback_id, attempt, at, url, signature, status_code, latency_ms, error
                 FROM callback_attempts WHERE callback_id = ? ORDER BY id",
            )
            .bind(cb.id)
            .fetch_all(&mut *read)
            .await?;
            let mut attempts: Vec<CallbackAttempt> = earlier.into_iter().map(attempt).collect();
            attempts.extend(newest);
            out.push((cb, attempts));
        }
        read.commit().await?;
        Ok(out)
    }

    async fn callback_counts(&self) -> Result<CallbackCounts, StoreError> {
        let (delivered, failed, unsettled) = sqlx::query_as(
            "SELECT COALESCE(SUM(state = 'delivered'), 0), COALESCE(SUM(state = 'failed'), 0),
                    COALESCE(SUM(state IN ('pending', 'sending')), 0) FROM callbacks",
        )
        .fetch_one(self.read())
        .await?;
        Ok(CallbackCounts {
            delivered,
            failed,
            unsettled,
        })
    }
}
