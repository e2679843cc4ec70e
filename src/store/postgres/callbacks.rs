//! The StatusCallback queue, shared by the replicas: claimed with `FOR UPDATE SKIP LOCKED` as
//! `sending` under a lease, each attempt recorded with the new state.

use std::time::Duration;

use sqlx::{Postgres, QueryBuilder};

use super::rows::{attempt, parse_all, AttemptRow, CallbackRow};
use super::{PgStore, REPLICA_LOCK_SPACE};
use crate::domain::callback::{Attempted, Callback, CallbackAttempt, CallbackCounts};
use crate::domain::sid::{AccountSid, CallSid};
use crate::store::{CallbackStore, StoreError};

const CALLBACK_COLUMNS: &str = "id, account_sid, call_sid, url, method, params, \
    idempotency_token, state, attempts, next_attempt_at, created_at";

/// How long resuming waits for the advisory lock of a replica that holds `sending` callbacks
/// before counting it alive: a replica that has just died lets go of its lock within that.
const DEAD_REPLICA_WAIT: Duration = Duration::from_secs(1);

impl CallbackStore for PgStore {
    async fn claim_due_callbacks(&self, now: i64, limit: i64) -> Result<Vec<Callback>, StoreError> {
        // Due ones, and `sending` ones whose lease ran out (their replica died or is stuck),
        // soonest first; rows another replica is claiming right now are skipped. Never this
        // replica's own, whatever their lease: it still holds them in memory (waiting for the
        // sender or in flight) and claiming them again would send them twice.
        let rows: Vec<CallbackRow> = sqlx::query_as(&format!(
            "WITH due AS (
                SELECT id, next_attempt_at AS at FROM callbacks
                WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $1
                ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED),
             expired AS (
                SELECT id, created_at AS at FROM callbacks
                WHERE state = 'sending' AND lease_until < clock_timestamp()
                    AND claimed_by IS DISTINCT FROM $3
                ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED),
             picked AS (
                SELECT id, at FROM (SELECT * FROM due UNION ALL SELECT * FROM expired) AS both_
                ORDER BY at, id LIMIT $2),
             claimed AS (
                UPDATE callbacks c SET state = 'sending', next_attempt_at = NULL,
                    claimed_by = $3, lease_until = clock_timestamp() + make_interval(secs => $4)
                FROM picked WHERE c.id = picked.id
                RETURNING picked.at AS picked_at, c.*)
             SELECT {CALLBACK_COLUMNS} FROM claimed ORDER BY picked_at, id"
        ))
        .bind(now)
        .bind(limit.max(0))
        .bind(self.replica())
        .bind(self.lease_seconds())
        .fetch_all(self.pool())
        .await?;
        parse_all(rows, CallbackRow::parse)
    }

    async fn resume_interrupted_callbacks(&self, now: i64) -> Result<u64, StoreError> {
        // This replica's own (claimed before a restart of the same store), unheld and
        // expired ones at once.
        let mut done = sqlx::query(
            "UPDATE callbacks SET state = 'pending', next_attempt_at = $1, claimed_by = NULL,
                 lease_until = NULL
             WHERE state = 'sending' AND (claimed_by IS NULL OR claimed_by = $2
                 OR lease_until < clock_timestamp())",
        )
        .bind(now)
        .bind(self.replica())
        .execute(self.pool())
        .await?
        .rows_affected();
        // Then those of every other replica that is gone: its advisory lock is free (or is
        // freed within DEAD_REPLICA_WAIT, for one that has just died).
        let holders: Vec<i32> = sqlx::query_scalar(
            "SELECT DISTINCT claimed_by FROM callbacks WHERE state = 'sending'
             AND claimed_by IS NOT NULL AND claimed_by <> $1",
        )
        .bind(self.replica())
        .fetch_all(self.pool())
        .await?;
        for holder in holders {
            let mut tx = self.pool().begin().await?;
            sqlx::query(&format!(
                "SET LOCAL lock_timeout = {}",
                DEAD_REPLICA_WAIT.as_millis()
            ))
            .execute(&mut *tx)
            .await?;
            let free = sqlx::query("SELECT pg_advisory_xact_lock_shared($1, $2)")
                .bind(REPLICA_LOCK_SPACE)
                .bind(holder)
                .execute(&mut *tx)
                .await;
            match free {
                Ok(_) => {}
                // 55P03 lock_not_available: the replica is alive.
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => continue,
                Err(e) => return Err(e.into()),
            }
            done += sqlx::query(
                "UPDATE callbacks SET state = 'pending', next_attempt_at = $1, claimed_by = NULL,
                     lease_until = NULL
                 WHERE state = 'sending' AND claimed_by = $2",
            )
            .bind(now)
            .bind(holder)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
        }
        Ok(done)
    }

    async fn requeue_callback(&self, id: i64, at: i64) -> Result<(), StoreError> {
        // Only a callback this replica still holds: one whose lease ran out may be another's.
        sqlx::query(
            "UPDATE callbacks SET state = 'pending', next_attempt_at = $1, claimed_by = NULL,
                 lease_until = NULL
             WHERE id = $2 AND state = 'sending' AND claimed_by = $3",
        )
        .bind(at)
        .bind(id)
        .bind(self.replica())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn next_callback_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM callbacks WHERE next_attempt_at IS NOT NULL",
        )
        .fetch_one(self.pool())
        .await?)
    }

    async fn next_lease_end(&self) -> Result<Option<i64>, StoreError> {
        // Another replica's leases only (this one's own are never claimed here again); in Unix
        // milliseconds, as `next_attempt_at`, rounded up so that a claim then finds it over.
        Ok(sqlx::query_scalar(
            "SELECT CEIL(EXTRACT(EPOCH FROM MIN(lease_until)) * 1000)::bigint
             FROM callbacks WHERE state = 'sending' AND claimed_by IS DISTINCT FROM $1",
        )
        .bind(self.replica())
        .fetch_one(self.pool())
        .await?)
    }

    async fn record_attempts(&self, attempts: &[Attempted]) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let a = |f: fn(&Attempted) -> i64| attempts.iter().map(f).collect::<Vec<i64>>();
        let ids = a(|d| d.attempt.callback_id);
        let numbers = a(|d| d.attempt.attempt);
        let ats = a(|d| d.attempt.at);
        let latencies = a(|d| d.attempt.latency_ms);
        let urls: Vec<&str> = attempts.iter().map(|d| d.attempt.url.as_str()).collect();
        let signatures: Vec<&str> = attempts
            .iter()
            .map(|d| d.attempt.signature.as_str())
            .collect();
        let codes: Vec<Option<i64>> = attempts.iter().map(|d| d.attempt.status_code).collect();
        let errors: Vec<Option<&str>> = attempts
            .iter()
            .map(|d| d.attempt.error.as_deref())
            .collect();
        let states: Vec<&str> = attempts.iter().map(|d| d.state.as_str()).collect();
        let next: Vec<Option<i64>> = attempts.iter().map(|d| d.next_attempt_at).collect();
        // One statement: the attempts and their callbacks' new states commit together. A
        // callback with two attempts in one call takes the last one's state. The attempt of a
        // callback deleted while it was delivered (a reset, its account deleted) is dropped.
        sqlx::query(
            "WITH a AS (
                SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[],
                    $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::bigint[])
                    WITH ORDINALITY AS a(callback_id, attempt, at, url, signature, status_code,
                        latency_ms, error, state, next_attempt_at, n)),
             inserted AS (
                INSERT INTO callback_attempts (callback_id, attempt, at, url, signature,
                    status_code, latency_ms, error)
                SELECT callback_id, attempt, at, url, signature, status_code, latency_ms, error
                FROM a WHERE EXISTS (SELECT 1 FROM callbacks c WHERE c.id = a.callback_id)
                ORDER BY n)
             UPDATE callbacks c SET state = last.state, attempts = last.attempt,
                 next_attempt_at = last.next_attempt_at,
                 claimed_by = CASE WHEN last.state = 'sending' THEN c.claimed_by END,
                 lease_until = CASE WHEN last.state = 'sending' THEN c.lease_until END
             FROM (SELECT DISTINCT ON (callback_id) * FROM a ORDER BY callback_id, n DESC) last
             WHERE c.id = last.callback_id",
        )
        .bind(&ids)
        .bind(&numbers)
        .bind(&ats)
        .bind(&urls)
        .bind(&signatures)
        .bind(&codes)
        .bind(&latencies)
        .bind(&errors)
        .bind(&states)
        .bind(&next)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn callbacks(
        &self,
        account: Option<&AccountSid>,
        call: Option<&CallSid>,
        limit: i64,
    ) -> Result<Vec<(Callback, Vec<CallbackAttempt>)>, StoreError> {
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE TRUE"
        ));
        if let Some(a) = account {
            q.push(" AND account_sid = ").push_bind(a.as_str());
        }
        if let Some(c) = call {
            q.push(" AND call_sid = ").push_bind(c.as_str());
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(limit.max(0));
        let rows: Vec<CallbackRow> = q.build_query_as().fetch_all(self.pool()).await?;
        let callbacks = parse_all(rows, CallbackRow::parse)?;
        let ids: Vec<i64> = callbacks.iter().map(|c| c.id).collect();
        // Every attempt of the page's callbacks in one query.
        let attempts: Vec<AttemptRow> = sqlx::query_as(
            "SELECT callback_id, attempt, at, url, signature, status_code, latency_ms, error
             FROM callback_attempts WHERE callback_id = ANY($1) ORDER BY id",
        )
        .bind(&ids)
        .fetch_all(self.pool())
        .await?;
        let mut by_callback: std::collections::HashMap<i64, Vec<CallbackAttempt>> =
            std::collections::HashMap::new();
        for row in attempts {
            let made = attempt(row);
            by_callback.entry(made.callback_id).or_default().push(made);
        }
        Ok(callbacks
            .into_iter()
            .map(|cb| {
                let made = by_callback.remove(&cb.id).unwrap_or_default();
                (cb, made)
            })
            .collect())
    }

    async fn callback_counts(&self) -> Result<CallbackCounts, StoreError> {
        let (delivered, failed, unsettled) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE state = 'delivered'),
                    COUNT(*) FILTER (WHERE state = 'failed'),
                    COUNT(*) FILTER (WHERE state IN ('pending', 'sending')) FROM callbacks",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(CallbackCounts {
            delivered,
            failed,
            unsettled,
        })
    }
}
