//! The writes of a verification call: a validation request's call with everything that goes
//! with it ([`PgStore::create`]), and what a step writes besides the call itself
//! ([`push_change_rows`], shared with the due calls moved on in [`super::updates`]). Both hold
//! the transaction lock of every number they may verify (see [`super::number_lock`]) from the
//! `BEGIN` on, so each reads the caller IDs and pending calls of its numbers after any other
//! write for them has committed.

use std::sync::Arc;

use sqlx::postgres::PgConnection;
use sqlx::{Connection, FromRow, Postgres, QueryBuilder};

use super::calls::CALL_COLUMNS;
use super::rows::CallRow;
use super::{begin_with_number_locks, number_lock, PgStore};
use crate::domain::call::Call;
use crate::domain::callback::{Callback, CallbackState, NewCallback};
use crate::domain::plan::{CallChange, NewCall};
use crate::domain::sid::{AccountSid, CallSid};
use crate::store::{CreatedCall, StoreError};

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
pub(super) struct Claim<'a> {
    token: &'a str,
    replica: i32,
    lease_seconds: f64,
}

/// Appends the common table expressions that store what goes with `change` (its timeline
/// events, its caller ID, its callback as `cb`), each only when `condition` holds.
pub(super) fn push_change_rows<'a>(
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
    let params = cb.params.body().to_owned();
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
                .push_bind(crate::domain::sid::random_uuid())
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
        let lock = number_lock(call.account_sid.as_str(), call.to.as_str());
        let _turn = self.number_turn(lock).await;
        self.lean()
            .run(async |conn| self.create_on(conn, lock, &new).await)
            .await
    }

    async fn create_on(
        &self,
        conn: &mut PgConnection,
        lock: i32,
        new: &NewCall,
    ) -> Result<CreatedCall, StoreError> {
        let call = &new.change.to;
        let end = &new.supersede;
        let mut tx = conn.begin_with(begin_with_number_locks(vec![lock])).await?;
        let token = crate::domain::sid::random_uuid();
        let claim = (new.claim_callback && new.change.callback.is_some()).then(|| Claim {
            token: &token,
            replica: self.replica(),
            lease_seconds: self.lease_seconds(),
        });
        let claimed = claim.is_some();
        // `blocked`: the number is verified already, or the plan assumed no callee behaviour
        // for it and one is set; then nothing is written. ($1 and $2 are the first binds.)
        let behaved = if new.assumes_no_behavior {
            "EXISTS (SELECT 1 FROM phone_behaviors WHERE account_sid = $1 AND phone_number = $2)"
        } else {
            "FALSE"
        };
        let mut q = QueryBuilder::<Postgres>::new(
            "WITH chk AS (SELECT *, taken OR behaved AS blocked FROM (SELECT EXISTS (SELECT 1
             FROM outgoing_caller_ids WHERE account_sid = ",
        );
        q.push_bind(call.account_sid.as_str())
            .push(" AND phone_number = ")
            .push_bind(call.to.as_str())
            .push(") AS taken, ")
            .push(behaved)
            .push(" AS behaved) AS c)")
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
}
