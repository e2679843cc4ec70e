//! What the SQLite backend reads from memory instead of the database: every caller ID (see
//! [`super::index`]) and every callee behaviour set. Loaded at start-up; changed only by
//! `Core::apply`, with committed changes.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use sqlx::SqlitePool;

use super::index::CallerIdIndex;
use super::rows::{behavior, stored};
use crate::domain::call::Behavior;
use crate::domain::caller_id::{CallerId, FriendlyName};
use crate::domain::sid::{AccountSid, CallerIdSid};
use crate::domain::PhoneNumber;
use crate::store::StoreError;

#[derive(Default)]
pub(super) struct Memory {
    pub ids: CallerIdIndex,
    /// Callee behaviours by account, then number.
    behaviors: HashMap<AccountSid, HashMap<PhoneNumber, Behavior>>,
    count: usize,
}

impl Memory {
    pub async fn load(pool: &SqlitePool) -> Result<Memory, StoreError> {
        let rows = load_caller_ids(pool).await?;
        let count = rows.len();
        let mut memory = Memory {
            ids: CallerIdIndex::load(rows),
            count,
            ..Memory::default()
        };
        let set: Vec<(String, String, String)> =
            sqlx::query_as("SELECT account_sid, phone_number, behavior FROM phone_behaviors")
                .fetch_all(pool)
                .await?;
        for (account, number, name) in set {
            let account = stored(AccountSid::from_stored, "account sid", account)?;
            let phone = stored(PhoneNumber::from_stored, "phone number", number)?;
            memory.set_behavior(account, phone, behavior(&name)?);
        }
        Ok(memory)
    }

    /// How many caller IDs were loaded.
    pub fn caller_ids(&self) -> usize {
        self.count
    }

    pub fn put(&mut self, row: CallerId) -> Arc<CallerId> {
        self.ids.put(row)
    }

    pub fn remove(&mut self, account: &AccountSid, sid: &CallerIdSid) {
        self.ids.remove(account, sid);
    }

    pub fn set_behavior(&mut self, account: AccountSid, phone: PhoneNumber, behavior: Behavior) {
        self.behaviors
            .entry(account)
            .or_default()
            .insert(phone, behavior);
    }

    pub fn behavior(&self, account: &AccountSid, phone: &PhoneNumber) -> Option<Behavior> {
        self.behaviors.get(account)?.get(phone).copied()
    }

    pub fn forget_account(&mut self, account: &AccountSid) {
        self.ids.remove_account(account);
        self.behaviors.remove(account);
    }

    pub fn clear(&mut self) {
        self.ids.clear();
        self.behaviors.clear();
    }
}

/// Every caller ID in sid order, for the index. The rows come as one JSON array made by
/// SQLite: sqlx hands rows over one at a time from its connection thread, about 6 µs each,
/// which was 60 ms of a 10,000-row start-up.
async fn load_caller_ids(pool: &SqlitePool) -> Result<Vec<CallerId>, StoreError> {
    type Row = (String, String, String, String, i64, i64);
    let text: Option<String> = sqlx::query_scalar(
        "SELECT json_group_array(json_array(sid, account_sid, phone_number, friendly_name,
                date_created, date_updated))
         FROM (SELECT * FROM outgoing_caller_ids ORDER BY sid)",
    )
    .fetch_one(pool)
    .await?;
    let rows: Vec<Row> = serde_json::from_str(text.as_deref().unwrap_or("[]"))
        .map_err(|e| StoreError::Corrupt(format!("caller IDs: {e}")))?;
    rows.into_iter()
        .map(|(sid, account, phone, name, date_created, date_updated)| {
            Ok(CallerId {
                sid: stored(CallerIdSid::from_stored, "caller ID sid", sid)?,
                account_sid: stored(AccountSid::from_stored, "account sid", account)?,
                phone_number: stored(PhoneNumber::from_stored, "phone number", phone)?,
                friendly_name: FriendlyName::from_stored(name),
                date_created,
                date_updated,
                json: OnceLock::new(),
            })
        })
        .collect()
}
