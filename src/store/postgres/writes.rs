//! The writes of a verification call: a validation request's call with everything that goes
//! with it ([`PgStore::create`]), and due calls moved on ([`PgStore::apply`]). Both hold the
//! transaction lock of every number they may verify (see [`super::number_lock`]) from the
//! `BEGIN` on, so each reads the caller IDs and pending calls of its numbers after any other
//! write for them has committed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sqlx::{FromRow, Postgres, QueryBuilder};

use super::calls::CALL_COLUMNS;
use super::rows::CallRow;
use super::{begin_with_number_locks, number_lock, PgStore};
use crate::domain::call::Call;
use crate::domain::callback::{Callback, CallbackState, NewCallback};
use crate::domain::plan::{CallChange, CallUpdate, NewCall};
use crate::domain::sid::{AccountSid, CallSid};
use crate::store::{Applied, CreatedCall, StoreError};

/// How many times a batch of call updates is tried when a caller ID it makes was made
/// meanwhile by a write that does not take the number locks (`insert_caller_id`).
const APPLY_TRIES: usize = 3;

/// What the statement of a validation request found and did.
#[derive(FromRow)]
struct Created {
    taken: bool,
    /// A callee behaviour is set for the number, which the plan assumed was not.
    behaved: bool,
    callback_id: Option<i64>,
    superseded: String,
}

/// A claimed callback's token and holder, when a callback is stored already claimed.
struct Claim<'a> {
    token: &'a str,
    replica: i32,
    lease_seconds: f64,
}

/// Appends the common table expressions that store what goes with `change` (its timeline
/// events, its caller ID, its callback as `cb`), each only when `condition` holds.
fn push_change_rows<'a>(
    q: &mut QueryBuilder<'a, Postgres>,
    change: &'a CallChange,
    condition: &'static str,
    claim: Option<Claim<'a>>,
) {
    let call = &change.to;
    if !change.events.is_empty() {
        q.push(", events AS (INSERT INTO call_events (call_sid, at, status, note) SELECT * FROM (");
        q.push_values(&change.events, |mut row, (kind, note)| {
            row.push_bind(call.sid.as_str())
                .push_bind(change.at)
                .push_bind(kind.as_str())
                .push_bind(note.as_str());
        });
        q.push(") AS v WHERE ").push(condition).push(")");
    }
    if let Some(new) = &change.caller_id {
        q.push(
            ", caller_id AS (INSERT INTO outgoing_caller_ids (sid, account_sid, phone_number,
             friendly_name, date_created, date_updated) SELECT ",
        );
        q.separated(", ")
            .push_bind(new.sid.as_str())
            .push_bind(new.account_sid.as_str())
            .push_bind(new.phone_number.as_str())
            .push_bind(new.friendly_name.as_str())
            .push_bind(new.date_created)
            .push_bind(new.date_created);
        q.push(" WHERE ").push(condition).push(")");
    }
    if let Some(cb) = &change.callback {
        q.push(", cb AS (");
        push_callback(q, &call.account_sid, &call.sid, cb, change.at, claim);
        q.push(" WHERE ").push(condition).push(" RETURNING id)");
    }
}

/// Appends `INSERT INTO callbacks … SELECT …` (no condition, no end) queuing `cb`: due at
/// `at`, or already claimed.
fn push_callback<'a>(
    q: &mut QueryBuilder<'a, Postgres>,
    account: &'a AccountSid,
    call: &'a CallSid,
    cb: &NewCallback,
    at: i64,
    claim: Option<Claim<'a>>,
) {
    let params = serde_json::to_string(&cb.params).unwrap_or_else(|_| "[]".into());
    q.push(
        "INSERT INTO callbacks (account_sid, call_sid, url, method, params, idempotency_token,
         state, attempts, next_attempt_at, created_at, claimed_by, lease_until) SELECT ",
    );
    let mut values = q.separated(", ");
    values
        .push_bind(account.as_str())
        .push_bind(call.as_str())
        .push_bind(cb.url.clone())
        .push_bind(cb.method.as_str())
        .push_bind(params);
    match claim {
        Some(claim) => {
            values
                .push_bind(claim.token)
                .push("'sending', 0, NULL")
                .push_bind(at)
                .push_bind(claim.replica)
                .push("clock_timestamp() + make_interval(secs => ")
                .push_bind_unseparated(claim.lease_seconds)
                .push_unseparated(")");
        }
        None => {
            values
                .push_bind(uuid::Uuid::new_v4().to_string())
                .push("'pending', 0")
                .push_bind(at)
                .push_bind(at)
                .push("NULL, NULL");
        }
    }
}

impl PgStore {
    /// A validation request's call: in one transaction holding its number's lock, one
    /// statement ends the calls pending for the number, stores the call, its timeline, caller
    /// ID and callback, unless the number is verified already; a second one queues the
    /// callbacks of the calls it ended.
    pub(super) async fn create(&self, new: NewCall) -> Result<CreatedCall, StoreError> {
        let call = &new.change.to;
        let end = &new.supersede;
        let lock = number_lock(call.account_sid.as_str(), call.to.as_str());
        let _turn = self.number_turn(lock).await;
        let mut tx = self
            .pool()
            .begin_with(begin_with_number_locks(vec![lock]))
            .await?;
        let token = uuid::Uuid::new_v4().to_string();
        let claim = (new.claim_callback && new.change.callback.is_some()).then(|| Claim {
            token: &token,
            replica: self.replica(),
            lease_seconds: self.lease_seconds(),
        });
        let claimed = claim.is_some();
        // `blocked`: the number is verified already, or the plan assumed no callee behaviour
        // for it and one is set; then nothing is written.
        let mut q = QueryBuilder::<Postgres>::new(
            "WITH chk0 AS (SELECT EXISTS (SELECT 1 FROM outgoing_caller_ids WHERE account_sid = ",
        );
        q.push_bind(call.account_sid.as_str())
            .push(" AND phone_number = ")
            .push_bind(call.to.as_str())
            .push(") AS taken, ");
        if new.assumes_no_behavior {
            q.push("EXISTS (SELECT 1 FROM phone_behaviors WHERE account_sid = ")
                .push_bind(call.account_sid.as_str())
                .push(" AND phone_number = ")
                .push_bind(call.to.as_str())
                .push(")");
        } else {
            q.push("FALSE");
        }
        q.push(
            " AS behaved), chk AS (SELECT taken, behaved, taken OR behaved AS blocked FROM chk0)",
        )
        .push(", ended AS (UPDATE calls SET status = ")
        .push_bind(end.status.as_str())
        .push(", verification_status = ")
        .push_bind(end.verification_status.as_str())
        .push(", next_action_at = NULL, end_time = ")
        .push_bind(end.at)
        .push(", date_updated = ")
        .push_bind(end.at)
        .push(" WHERE account_sid = ")
        .push_bind(call.account_sid.as_str())
        .push(" AND to_number = ")
        .push_bind(call.to.as_str())
        .push(" AND next_action_at IS NOT NULL AND NOT (SELECT blocked FROM chk) RETURNING seq, ")
        .push(CALL_COLUMNS)
        .push(
            "), ended_events AS (INSERT INTO call_events (call_sid, at, status, note) SELECT sid, ",
        )
        .push_bind(end.at)
        .push(", ")
        .push_bind(end.status.as_str())
        .push(", ")
        .push_bind(&end.note)
        .push(" FROM ended), made AS (INSERT INTO calls (")
        .push(CALL_COLUMNS)
        .push(") SELECT ");
        q.separated(", ")
            .push_bind(call.sid.as_str())
            .push_bind(call.account_sid.as_str())
            .push_bind(call.to.as_str())
            .push_bind(call.friendly_name.as_str())
            .push_bind(&call.validation_code)
            .push_bind(&call.extension)
            .push_bind(call.call_delay)
            .push_bind(&call.status_callback)
            .push_bind(call.status_callback_method.as_str())
            .push_bind(call.behavior.as_str())
            .push_bind(call.status.as_str())
            .push_bind(call.verification_status.map(|v| v.as_str()))
            .push_bind(&call.digits)
            .push_bind(call.next_action_at)
            .push_bind(call.outgoing_caller_id_sid.as_ref().map(|s| s.as_str()))
            .push_bind(call.date_created)
            .push_bind(call.date_updated)
            .push_bind(call.start_time)
            .push_bind(call.end_time)
            .push_bind(call.duration);
        q.push(" WHERE NOT (SELECT blocked FROM chk))");
        push_change_rows(&mut q, &new.change, "NOT (SELECT blocked FROM chk)", claim);
        q.push(" SELECT (SELECT taken FROM chk) AS taken, (SELECT behaved FROM chk) AS behaved, ");
        q.push(if new.change.callback.is_some() {
            "(SELECT id FROM cb)"
        } else {
            "NULL::bigint"
        });
        q.push(
            " AS callback_id, (SELECT COALESCE(json_agg(ended ORDER BY ended.seq), '[]'::json)
             FROM ended)::text AS superseded",
        );
        let created: Created = q.build_query_as().fetch_one(&mut *tx).await?;
        if created.taken {
            tx.rollback().await?;
            return Err(StoreError::Conflict(
                "the number is verified on the account",
            ));
        }
        if created.behaved {
            tx.rollback().await?;
            return Err(StoreError::BehaviorSet);
        }
        let rows: Vec<CallRow> = serde_json::from_str(&created.superseded)
            .map_err(|e| StoreError::Corrupt(format!("superseded calls: {e}")))?;
        let superseded = rows
            .into_iter()
            .map(CallRow::parse)
            .collect::<Result<Vec<Call>, _>>()?;
        let callbacks: Vec<(&Call, NewCallback)> = superseded
            .iter()
            .filter_map(|ended| ended.status_callback().map(|cb| (ended, cb)))
            .collect();
        for (ended, cb) in &callbacks {
            let mut q = QueryBuilder::<Postgres>::new("");
            push_callback(&mut q, &ended.account_sid, &ended.sid, cb, end.at, None);
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let callback = match (claimed, &new.change.callback, created.callback_id) {
            (true, Some(cb), Some(id)) => Some(Callback {
                id,
                account_sid: call.account_sid.clone(),
                call_sid: call.sid.clone(),
                url: cb.url.clone(),
                method: cb.method,
                params: cb.params.clone(),
                idempotency_token: token.clone(),
                state: CallbackState::Sending,
                attempts: 0,
                next_attempt_at: None,
                created_at: new.change.at,
            }),
            _ => None,
        };
        Ok(CreatedCall {
            superseded,
            caller_id: new
                .change
                .caller_id
                .clone()
                .map(|c| Arc::new(c.into_caller_id())),
            callback,
        })
    }

    /// Applies call updates in one transaction (see `CallStore::apply_call_updates`).
    pub(super) async fn apply(&self, updates: &[CallUpdate]) -> Result<Vec<Applied>, StoreError> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        let mut tries = 0;
        loop {
            tries += 1;
            match self.apply_once(updates).await {
                Err(StoreError::Conflict(_)) if tries < APPLY_TRIES => continue,
                outcome => return outcome,
            }
        }
    }

    async fn apply_once(&self, updates: &[CallUpdate]) -> Result<Vec<Applied>, StoreError> {
        let verifying: Vec<(&str, &str)> = updates
            .iter()
            .filter_map(|u| u.change.caller_id.as_ref())
            .map(|c| (c.account_sid.as_str(), c.phone_number.as_str()))
            .collect();
        let locks = verifying.iter().map(|(a, p)| number_lock(a, p)).collect();
        let mut tx = self
            .pool()
            .begin_with(begin_with_number_locks(locks))
            .await?;
        let sids: Vec<&str> = updates.iter().map(|u| u.from.sid.as_str()).collect();
        // Calls another replica is moving on right now are skipped: they are stale here.
        let locked: Vec<(String, String, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT sid, status, next_action_at, digits FROM calls WHERE sid = ANY($1)
             FOR UPDATE SKIP LOCKED",
        )
        .bind(&sids)
        .fetch_all(&mut *tx)
        .await?;
        let mut state: HashMap<String, (String, Option<i64>, Option<String>)> = locked
            .into_iter()
            .map(|(sid, status, next, digits)| (sid, (status, next, digits)))
            .collect();
        let mut taken: HashSet<(String, String)> = HashSet::new();
        if !verifying.is_empty() {
            let (accounts, phones): (Vec<&str>, Vec<&str>) = verifying.iter().copied().unzip();
            let found: Vec<(String, String)> = sqlx::query_as(
                "SELECT account_sid, phone_number FROM outgoing_caller_ids
                 WHERE (account_sid, phone_number) IN
                     (SELECT * FROM unnest($1::text[], $2::text[]))",
            )
            .bind(&accounts)
            .bind(&phones)
            .fetch_all(&mut *tx)
            .await?;
            taken.extend(found);
        }
        let mut applied = Vec::with_capacity(updates.len());
        for CallUpdate { from, change } in updates {
            if let Some(new) = &change.caller_id {
                let number = (
                    new.account_sid.as_str().to_string(),
                    new.phone_number.as_str().to_string(),
                );
                if taken.contains(&number) {
                    applied.push(Applied::NumberTaken);
                    continue;
                }
            }
            let current = state.get(from.sid.as_str());
            let fresh = current.is_some_and(|(status, next, digits)| {
                status == from.status.as_str()
                    && *next == from.next_action_at
                    && *digits == from.digits
            });
            if !fresh {
                applied.push(Applied::Stale);
                continue;
            }
            self.write_update(&mut tx, change).await?;
            let to = &change.to;
            state.insert(
                to.sid.as_str().to_string(),
                (
                    to.status.as_str().to_string(),
                    to.next_action_at,
                    to.digits.clone(),
                ),
            );
            if let Some(new) = &change.caller_id {
                taken.insert((
                    new.account_sid.as_str().to_string(),
                    new.phone_number.as_str().to_string(),
                ));
            }
            applied.push(Applied::Done {
                caller_id: change
                    .caller_id
                    .clone()
                    .map(|c| Arc::new(c.into_caller_id())),
            });
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// One update's statement: the call's new state and what goes with it.
    async fn write_update(
        &self,
        tx: &mut sqlx::Transaction<'static, Postgres>,
        change: &CallChange,
    ) -> Result<(), StoreError> {
        let to = &change.to;
        let mut q = QueryBuilder::<Postgres>::new("WITH moved AS (UPDATE calls SET status = ");
        q.push_bind(to.status.as_str())
            .push(", verification_status = ")
            .push_bind(to.verification_status.map(|v| v.as_str()))
            .push(", next_action_at = ")
            .push_bind(to.next_action_at)
            .push(", start_time = ")
            .push_bind(to.start_time)
            .push(", end_time = ")
            .push_bind(to.end_time)
            .push(", duration = ")
            .push_bind(to.duration)
            .push(", digits = ")
            .push_bind(&to.digits)
            .push(", outgoing_caller_id_sid = ")
            .push_bind(to.outgoing_caller_id_sid.as_ref().map(|s| s.as_str()))
            .push(", date_updated = ")
            .push_bind(change.at)
            .push(" WHERE sid = ")
            .push_bind(to.sid.as_str())
            .push(")");
        push_change_rows(&mut q, change, "TRUE", None);
        q.push(" SELECT 1");
        q.build().execute(&mut **tx).await?;
        Ok(())
    }
}
