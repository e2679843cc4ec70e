//! Verification calls and their timelines: read, and keyed. Creating and moving them on is in
//! [`super::writes`].

use sqlx::{Postgres, QueryBuilder};

use super::rows::{parse_all, CallEventRow, CallRow};
use super::PgStore;
use crate::domain::call::{Call, CallEvent, EventKind};
use crate::domain::plan::{CallUpdate, NewCall};
use crate::domain::sid::{AccountSid, CallSid};
use crate::store::{Applied, CallStore, CreatedCall, StoreError};

/// A call's columns, in `CallRow`'s terms.
pub(super) const CALL_COLUMNS: &str = "sid, account_sid, to_number, friendly_name,
    validation_code, extension, call_delay, status_callback, status_callback_method, behavior,
    status, verification_status, digits, next_action_at, outgoing_caller_id_sid, date_created,
    date_updated, start_time, end_time, duration";

impl CallStore for PgStore {
    async fn create_call(&self, new: NewCall) -> Result<CreatedCall, StoreError> {
        self.create(new).await
    }

    async fn call(&self, sid: &CallSid) -> Result<Option<Call>, StoreError> {
        let row: Option<CallRow> =
            sqlx::query_as(&format!("SELECT {CALL_COLUMNS} FROM calls WHERE sid = $1"))
                .bind(sid.as_str())
                .fetch_optional(self.pool())
                .await?;
        row.map(CallRow::parse).transpose()
    }

    async fn call_events(&self, sid: &CallSid) -> Result<Vec<CallEvent>, StoreError> {
        let rows: Vec<CallEventRow> = sqlx::query_as(
            "SELECT at, status, note FROM call_events WHERE call_sid = $1 ORDER BY id",
        )
        .bind(sid.as_str())
        .fetch_all(self.pool())
        .await?;
        parse_all(rows, CallEventRow::parse)
    }

    async fn calls(
        &self,
        account: Option<&AccountSid>,
        limit: i64,
    ) -> Result<Vec<Call>, StoreError> {
        let mut q = QueryBuilder::<Postgres>::new(format!("SELECT {CALL_COLUMNS} FROM calls"));
        if let Some(a) = account {
            q.push(" WHERE account_sid = ").push_bind(a.as_str());
        }
        q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit.max(0));
        let rows: Vec<CallRow> = q.build_query_as().fetch_all(self.pool()).await?;
        parse_all(rows, CallRow::parse)
    }

    async fn due_calls(&self, now: i64, limit: i64) -> Result<Vec<Call>, StoreError> {
        // SKIP LOCKED: a call another replica is moving on right now is left to it.
        let rows: Vec<CallRow> = sqlx::query_as(&format!(
            "SELECT {CALL_COLUMNS} FROM calls
             WHERE next_action_at IS NOT NULL AND next_action_at <= $1
             ORDER BY next_action_at LIMIT $2 FOR UPDATE SKIP LOCKED"
        ))
        .bind(now)
        .bind(limit.max(0))
        .fetch_all(self.pool())
        .await?;
        parse_all(rows, CallRow::parse)
    }

    async fn next_call_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_action_at) FROM calls WHERE next_action_at IS NOT NULL",
        )
        .fetch_one(self.pool())
        .await?)
    }

    async fn pending_calls(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM calls WHERE next_action_at IS NOT NULL")
                .fetch_one(self.pool())
                .await?,
        )
    }

    async fn apply_call_updates(&self, updates: &[CallUpdate]) -> Result<Vec<Applied>, StoreError> {
        self.apply(updates).await
    }

    async fn key_digits(
        &self,
        sid: &CallSid,
        digits: &str,
        now: i64,
    ) -> Result<Option<Call>, StoreError> {
        // One statement: the update and its timeline event commit together.
        let row: Option<CallRow> = sqlx::query_as(&format!(
            "WITH keyed AS (
                UPDATE calls SET digits = $1, date_updated = $2,
                    next_action_at = CASE WHEN status = 'in-progress' THEN $2 ELSE next_action_at END
                WHERE sid = $3 AND next_action_at IS NOT NULL RETURNING {CALL_COLUMNS}),
             event AS (
                INSERT INTO call_events (call_sid, at, status, note)
                SELECT sid, $2, $4, $5 FROM keyed)
             SELECT {CALL_COLUMNS} FROM keyed"
        ))
        .bind(digits)
        .bind(now)
        .bind(sid.as_str())
        .bind(EventKind::Digits.as_str())
        .bind(format!("callee keyed {digits:?}"))
        .fetch_optional(self.pool())
        .await?;
        row.map(CallRow::parse).transpose()
    }
}
