//! Verification calls and their timelines: read, moved on by the scheduler, and keyed.

use sqlx::{QueryBuilder, Sqlite};

use super::rows::{parse_all, CallEventRow, CallRow};
use super::statements::{push_change_rows, push_events};
use super::{group_commit, Change, SqliteStore};
use crate::domain::call::{Call, CallEvent, EventKind};
use crate::domain::caller_id::NewCallerId;
use crate::domain::plan::{CallUpdate, NewCall};
use crate::domain::sid::{AccountSid, CallSid};
use crate::store::{Applied, CallStore, CreatedCall, StoreError};

/// What one update did, before the caller IDs it made are in memory.
enum Outcome {
    Stale,
    NumberTaken,
    Done { verified: bool },
}

impl CallStore for SqliteStore {
    async fn create_call(&self, new: NewCall) -> Result<CreatedCall, StoreError> {
        group_commit::submit(&self.creates, new).await
    }

    async fn call(&self, sid: &CallSid) -> Result<Option<Call>, StoreError> {
        let row: Option<CallRow> = sqlx::query_as("SELECT * FROM calls WHERE sid = ?")
            .bind(sid.as_str())
            .fetch_optional(self.read())
            .await?;
        row.map(CallRow::parse).transpose()
    }

    async fn call_events(&self, sid: &CallSid) -> Result<Vec<CallEvent>, StoreError> {
        let rows: Vec<CallEventRow> = sqlx::query_as(
            "SELECT at, status, note FROM call_events WHERE call_sid = ? ORDER BY id",
        )
        .bind(sid.as_str())
        .fetch_all(self.read())
        .await?;
        parse_all(rows, CallEventRow::parse)
    }

    async fn calls(
        &self,
        account: Option<&AccountSid>,
        limit: i64,
    ) -> Result<Vec<Call>, StoreError> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM calls WHERE 1 = 1");
        if let Some(a) = account {
            q.push(" AND account_sid = ").push_bind(a.as_str());
        }
        q.push(" ORDER BY rowid DESC LIMIT ").push_bind(limit);
        let rows: Vec<CallRow> = q.build_query_as().fetch_all(self.read()).await?;
        parse_all(rows, CallRow::parse)
    }

    async fn due_calls(&self, now: i64, limit: i64) -> Result<Vec<Call>, StoreError> {
        let rows: Vec<CallRow> = sqlx::query_as(
            "SELECT * FROM calls WHERE next_action_at IS NOT NULL AND next_action_at <= ?
             ORDER BY next_action_at LIMIT ?",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.read())
        .await?;
        parse_all(rows, CallRow::parse)
    }

    async fn next_call_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_action_at) FROM calls WHERE next_action_at IS NOT NULL",
        )
        .fetch_one(self.read())
        .await?)
    }

    async fn pending_calls(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM calls WHERE next_action_at IS NOT NULL")
                .fetch_one(self.read())
                .await?,
        )
    }

    async fn apply_call_updates(&self, updates: &[CallUpdate]) -> Result<Vec<Applied>, StoreError> {
        let mut write = self.transaction().await?;
        let mut outcomes = Vec::with_capacity(updates.len());
        let mut created: Vec<&NewCallerId> = Vec::new();
        for CallUpdate { from, change } in updates {
            if let Some(new) = &change.caller_id {
                if self.number_taken(&new.account_sid, &new.phone_number, &created) {
                    outcomes.push(Outcome::NumberTaken);
                    continue;
                }
            }
            let to = &change.to;
            let moved = sqlx::query(
                "UPDATE calls SET status = ?, verification_status = ?, next_action_at = ?,
                 start_time = ?, end_time = ?, duration = ?, digits = ?,
                 outgoing_caller_id_sid = ?, date_updated = ?
                 WHERE sid = ? AND status = ? AND next_action_at IS ? AND digits IS ?",
            )
            .bind(to.status.as_str())
            .bind(to.verification_status.map(|v| v.as_str()))
            .bind(to.next_action_at)
            .bind(to.start_time)
            .bind(to.end_time)
            .bind(to.duration)
            .bind(&to.digits)
            .bind(to.outgoing_caller_id_sid.as_ref().map(|s| s.as_str()))
            .bind(change.at)
            .bind(from.sid.as_str())
            .bind(from.status.as_str())
            .bind(from.next_action_at)
            .bind(&from.digits)
            .execute(write.conn())
            .await?
            .rows_affected()
                > 0;
            if !moved {
                outcomes.push(Outcome::Stale);
                continue;
            }
            let mut q = QueryBuilder::<Sqlite>::new("");
            push_change_rows(&mut q, change, false);
            if !q.sql().is_empty() {
                q.build().execute(write.conn()).await?;
            }
            outcomes.push(Outcome::Done {
                verified: change.caller_id.is_some(),
            });
            created.extend(&change.caller_id);
        }
        let changes = created
            .into_iter()
            .map(|c| Change::PutCallerId(c.clone().into_caller_id()))
            .collect();
        let mut put = write.commit(changes).await?.into_iter();
        Ok(outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Outcome::Stale => Applied::Stale,
                Outcome::NumberTaken => Applied::NumberTaken,
                // The caller IDs were put in the order of the updates that made them.
                Outcome::Done { verified } => Applied::Done {
                    caller_id: if verified { put.next() } else { None },
                },
            })
            .collect())
    }

    async fn key_digits(
        &self,
        sid: &CallSid,
        digits: &str,
        now: i64,
    ) -> Result<Option<Call>, StoreError> {
        let mut write = self.transaction().await?;
        let rows: Vec<CallRow> = sqlx::query_as(
            "UPDATE calls SET digits = ?, date_updated = ?,
             next_action_at = CASE WHEN status = 'in-progress' THEN ? ELSE next_action_at END
             WHERE sid = ? AND next_action_at IS NOT NULL RETURNING *",
        )
        .bind(digits)
        .bind(now)
        .bind(now)
        .bind(sid.as_str())
        .fetch_all(write.conn())
        .await?;
        if !rows.is_empty() {
            let mut q = QueryBuilder::<Sqlite>::new("");
            push_events(
                &mut q,
                sid,
                now,
                [(EventKind::Digits, format!("callee keyed {digits:?}"))],
            );
            q.build().execute(write.conn()).await?;
        }
        write.commit(Vec::new()).await?;
        rows.into_iter().next().map(CallRow::parse).transpose()
    }
}
