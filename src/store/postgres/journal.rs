//! The request journal in the database, so that every replica lists the same requests.
//!
//! The table is a queue: each batch appends its requests and deletes the oldest beyond the
//! journal's size. PostgreSQL keeps a deleted row's tuple and index entries until a vacuum,
//! and a delete that looked for its rows from the table's oldest end would walk over every
//! one deleted since (autovacuum looks at a table about once a minute: hundreds of thousands
//! under load, 10 ms a batch after a few seconds). So each replica deletes from where its
//! previous delete ended ([`Trim::floor`]), deletes from the oldest end only about once a
//! second (which also takes rows that another replica, its clock behind, wrote below that
//! point), and vacuums the table itself once it has deleted [`VACUUM_AFTER`] rows.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use super::PgStore;
use crate::store::{JournalledRequest, StoreError};

/// Rows deleted by this replica after which it vacuums the table.
const VACUUM_AFTER: i64 = 10_000;
/// The longest time between two deletes from the table's oldest end.
const FULL_TRIM_EVERY: Duration = Duration::from_secs(1);

/// Where this replica's deletes stand.
#[derive(Default)]
pub(super) struct Trim {
    /// The newest row (`at`, `id`) the last delete reached: every older row there was then is
    /// gone.
    floor: Option<(i64, i64)>,
    last_full: Option<Instant>,
    deleted_since_vacuum: i64,
}

impl Trim {
    /// Where the next delete starts: from the floor, or (`None`) from the oldest end when
    /// there is none or the last such delete is [`FULL_TRIM_EVERY`] old.
    fn start(&mut self) -> Option<(i64, i64)> {
        if self
            .last_full
            .is_none_or(|at| at.elapsed() >= FULL_TRIM_EVERY)
        {
            self.last_full = Some(Instant::now());
            return None;
        }
        self.floor
    }

    /// A delete reached `bound`, deleting `deleted` rows: whether the table is due a vacuum.
    fn reached(&mut self, bound: (i64, i64), deleted: i64) -> bool {
        self.floor = Some(self.floor.map_or(bound, |f| f.max(bound)));
        self.deleted_since_vacuum += deleted;
        let due = self.deleted_since_vacuum >= VACUUM_AFTER;
        if due {
            self.deleted_since_vacuum = 0;
        }
        due
    }
}

/// The insert of a batch (`$1`–`$3`), then the delete of the rows older than the newest `$4`
/// that were there before it (a statement does not see its own inserts), so the table holds
/// at most `$4` and one batch; the answer is the newest row deleted and how many were.
const APPEND: &str = "WITH added AS (INSERT INTO request_journal (at, account_sid, entry)
        SELECT t, a, e FROM unnest($1::bigint[], $2::text[], $3::text[])
            WITH ORDINALITY AS u(t, a, e, n)
        ORDER BY n),
    bound AS (SELECT at, id FROM request_journal ORDER BY at DESC, id DESC OFFSET $4 LIMIT 1),
    gone AS (DELETE FROM request_journal WHERE (at, id) <= (SELECT at, id FROM bound)";
const FROM_FLOOR: &str = " AND (at, id) > ($5, $6)";
const ANSWER: &str = " RETURNING 1) SELECT at, id, (SELECT count(*) FROM gone) FROM bound";
/// The statement deleting from the oldest end, and the one deleting from a floor.
static FROM_OLDEST_SQL: LazyLock<String> = LazyLock::new(|| format!("{APPEND}{ANSWER}"));
static FROM_FLOOR_SQL: LazyLock<String> = LazyLock::new(|| format!("{APPEND}{FROM_FLOOR}{ANSWER}"));

impl PgStore {
    /// Appends `entries` (oldest first) and deletes the oldest (by `at`) beyond the newest
    /// `keep` of the rows written before: the table holds at most `keep` and the last batch
    /// (and, for at most about a second, rows another replica wrote below this one's floor).
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
        let floor = self.journal_trim().start();
        let sql = match floor {
            Some(_) => &FROM_FLOOR_SQL,
            None => &FROM_OLDEST_SQL,
        };
        let mut query = sqlx::query_as::<_, (i64, i64, i64)>(sql)
            .bind(ats)
            .bind(accounts)
            .bind(texts)
            .bind(keep.max(0));
        if let Some((at, id)) = floor {
            query = query.bind(at).bind(id);
        }
        let Some((at, id, deleted)) = query.fetch_optional(self.pool()).await? else {
            return Ok(());
        };
        let vacuum = self.journal_trim().reached((at, id), deleted);
        if vacuum {
            // Outside a transaction, as VACUUM must be; one replica's vacuum at a time.
            sqlx::raw_sql("VACUUM (SKIP_LOCKED) request_journal")
                .execute(self.pool())
                .await?;
        }
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

    fn journal_trim(&self) -> std::sync::MutexGuard<'_, Trim> {
        self.inner
            .journal_trim
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets where this replica's deletes stand (after a reset).
    pub(super) fn forget_journal_floor(&self) {
        self.journal_trim().floor = None;
    }
}
