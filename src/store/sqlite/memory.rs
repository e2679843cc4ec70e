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
        // The load reads every page of the caller IDs once: through a page cache of a few
        // pages, rather than filling the connection's whole cache (2 MB, kept while idle)
        // with pages the writer does not touch again.
        let mut conn = pool.acquire().await?;
        let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
            .fetch_one(&mut *conn)
            .await?;
        sqlx::query("PRAGMA cache_size = 16")
            .execute(&mut *conn)
            .await?;
        let rows = load_caller_ids(&mut conn).await;
        sqlx::query(&format!("PRAGMA cache_size = {cache}"))
            .execute(&mut *conn)
            .await?;
        // The pool may have this one connection only.
        drop(conn);
        let rows = rows?;
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
async fn load_caller_ids(conn: &mut sqlx::SqliteConnection) -> Result<Vec<CallerId>, StoreError> {
    type Row = (String, String, String, String, i64, i64);
    let text: Option<String> = sqlx::query_scalar(
        "SELECT json_group_array(json_array(sid, account_sid, phone_number, friendly_name,
                date_created, date_updated))
         FROM (SELECT * FROM outgoing_caller_ids ORDER BY sid)",
    )
    .fetch_one(conn)
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::sqlite::SqlitePoolOptions;

    use super::*;

    /// The load runs on a pool of one connection (the writer's), and leaves that connection's
    /// page cache as it found it.
    #[tokio::test]
    async fn the_load_reads_every_caller_id_and_restores_the_page_cache() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("pool");
        super::super::MIGRATOR.run(&pool).await.expect("migrations");
        // Caller IDs without their account rows: this test is about the load alone.
        sqlx::query("PRAGMA foreign_keys = OFF")
            .execute(&pool)
            .await
            .expect("pragma");
        for i in 0..3 {
            sqlx::query("INSERT INTO outgoing_caller_ids VALUES (?, ?, ?, 'x', 1, 1)")
                .bind(format!("PN{i:032}"))
                .bind(format!("AC{:032}", 0))
                .bind(format!("+1415555010{i}"))
                .execute(&pool)
                .await
                .expect("insert");
        }
        let cache = || sqlx::query_scalar::<_, i64>("PRAGMA cache_size").fetch_one(&pool);
        let before = cache().await.expect("cache size");
        let memory = tokio::time::timeout(Duration::from_secs(10), Memory::load(&pool))
            .await
            .expect("the load ends")
            .expect("loaded");
        assert_eq!(memory.caller_ids(), 3);
        assert_eq!(cache().await.expect("cache size"), before);
        assert_ne!(before, 16);
    }
}
