//! The request journal in the database, so that every replica lists the same requests.

use super::PgStore;
use crate::store::{JournalledRequest, StoreError};

impl PgStore {
    /// Appends `entries` (oldest first) and deletes the oldest (by `at`) beyond the newest
    /// `keep` of the rows written before: the table holds at most `keep` and the last batch.
    pub async fn journal_requests(
        &self,
        entries: &[JournalledRequest],
        keep: i64,
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let accounts: Vec<Option<&str>> =
            entries.iter().map(|e| e.account_sid.as_deref()).collect();
        let texts: Vec<&str> = entries.iter().map(|e| e.entry.as_str()).collect();
        let ats: Vec<i64> = entries.iter().map(|e| e.at).collect();
        // One statement, one round trip: the insert in order, and the trim of the rows older
        // than the newest `keep` that were there before it (a statement does not see its own
        // inserts), so the table holds at most `keep` and one batch; reads take the newest.
        sqlx::query(
            "WITH added AS (INSERT INTO request_journal (at, account_sid, entry)
                 SELECT t, a, e FROM unnest($1::bigint[], $2::text[], $3::text[])
                     WITH ORDINALITY AS u(t, a, e, n)
                 ORDER BY n)
             DELETE FROM request_journal WHERE (at, id) <= (SELECT at, id FROM request_journal
                 ORDER BY at DESC, id DESC OFFSET $4 LIMIT 1)",
        )
        .bind(ats)
        .bind(accounts)
        .bind(texts)
        .bind(keep.max(0))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The newest `limit` entries, optionally of one account, newest first.
    pub async fn journalled_requests(
        &self,
        account: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT entry FROM request_journal WHERE ($1::text IS NULL OR account_sid = $1)
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(account)
        .bind(limit.max(0))
        .fetch_all(self.pool())
        .await?)
    }
}
