//! Due calls moved on ([`PgStore::apply`]): in one transaction holding the lock of every
//! number the updates may verify (see [`super::number_lock`]), each update applied only if its
//! call is still in the state it was read in.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sqlx::{Postgres, QueryBuilder};

use super::writes::push_change_rows;
use super::{begin_with_number_locks, number_lock, PgStore};
use crate::domain::plan::{CallChange, CallUpdate};
use crate::store::{Applied, StoreError};

/// How many times a batch of call updates is tried when a caller ID it makes was made
/// meanwhile by a write that does not take the number locks (`insert_caller_id`).
const APPLY_TRIES: usize = 3;

impl PgStore {
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
