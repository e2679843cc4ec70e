//! Caller IDs and callee behaviours, read from PostgreSQL; lists are keyset-paged by sid.

use std::sync::{Arc, LazyLock};

use sqlx::{FromRow, Postgres, QueryBuilder};

use super::rows::CallerIdRow;
use super::PgStore;
use crate::domain::call::Behavior;
use crate::domain::caller_id::{
    CallerId, Cursor, FriendlyName, ListFilter, NewCallerId, Page, PhoneFilter,
};
use crate::domain::sid::{AccountSid, CallerIdSid};
use crate::domain::PhoneNumber;
use crate::store::{CallerIdStore, StoreError};

const COLUMNS: &str = "sid, account_sid, phone_number, friendly_name, date_created, date_updated";

/// The statement of a fetch, made once.
static CALLER_ID_BY_SID: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {COLUMNS} FROM outgoing_caller_ids WHERE sid = $1 AND account_sid = $2")
});

/// A row of a page, or (with every column empty) the one row of an empty page; `beyond` says
/// whether rows exist on the other side of the cursor.
#[derive(FromRow)]
struct PageRow {
    beyond: bool,
    sid: Option<String>,
    account_sid: Option<String>,
    phone_number: Option<String>,
    friendly_name: Option<String>,
    date_created: Option<i64>,
    date_updated: Option<i64>,
}

impl PageRow {
    fn caller_id(self) -> Option<CallerIdRow> {
        Some(CallerIdRow {
            sid: self.sid?,
            account_sid: self.account_sid?,
            phone_number: self.phone_number?,
            friendly_name: self.friendly_name?,
            date_created: self.date_created?,
            date_updated: self.date_updated?,
        })
    }
}

/// Appends the list's conditions (account, filters) to `q`.
fn push_filter<'a>(
    q: &mut QueryBuilder<'a, Postgres>,
    account: &'a AccountSid,
    filter: &ListFilter<'a>,
) {
    q.push(" WHERE account_sid = ").push_bind(account.as_str());
    if let PhoneFilter::Number(phone) = filter.phone_number {
        q.push(" AND phone_number = ").push_bind(phone.as_str());
    }
    if let Some(name) = filter.friendly_name {
        q.push(" AND friendly_name = ").push_bind(name);
    }
}

impl CallerIdStore for PgStore {
    async fn caller_id(
        &self,
        account: &AccountSid,
        sid: &CallerIdSid,
    ) -> Result<Option<Arc<CallerId>>, StoreError> {
        let row: Option<CallerIdRow> = self
            .lean()
            .run(async |conn| {
                Ok(sqlx::query_as(&CALLER_ID_BY_SID)
                    .bind(sid.as_str())
                    .bind(account.as_str())
                    .fetch_optional(conn)
                    .await?)
            })
            .await?;
        Ok(row.map(CallerIdRow::parse).transpose()?.map(Arc::new))
    }

    async fn caller_id_owner(&self, sid: &CallerIdSid) -> Result<Option<AccountSid>, StoreError> {
        let owner: Option<String> =
            sqlx::query_scalar("SELECT account_sid FROM outgoing_caller_ids WHERE sid = $1")
                .bind(sid.as_str())
                .fetch_optional(self.pool())
                .await?;
        owner.map(super::rows::account_sid).transpose()
    }

    async fn list_caller_ids(
        &self,
        account: &AccountSid,
        filter: ListFilter<'_>,
        cursor: &Cursor,
        page_size: u32,
    ) -> Result<Page, StoreError> {
        if let PhoneFilter::NoNumber = filter.phone_number {
            return Ok(Page::default());
        }
        let size = page_size as usize;
        // One query: whether rows exist behind the cursor, joined with the page (one more row
        // than asked, to tell whether rows exist beyond it).
        let mut q = QueryBuilder::<Postgres>::new("SELECT e.beyond, p.* FROM (SELECT ");
        let (token, ahead, behind, order) = match cursor {
            Cursor::Start => (None, "", "", "ASC"),
            Cursor::After(t) => (Some(t), " > ", " <= ", "ASC"),
            Cursor::Before(t) => (Some(t), " < ", " >= ", "DESC"),
        };
        match token {
            None => {
                q.push("FALSE");
            }
            Some(token) => {
                q.push("EXISTS (SELECT 1 FROM outgoing_caller_ids");
                push_filter(&mut q, account, &filter);
                q.push(" AND sid").push(behind).push_bind(token.as_str());
                q.push(")");
            }
        }
        q.push(format!(
            " AS beyond) e LEFT JOIN LATERAL (SELECT {COLUMNS} FROM outgoing_caller_ids"
        ));
        push_filter(&mut q, account, &filter);
        if let Some(token) = token {
            q.push(" AND sid").push(ahead).push_bind(token.as_str());
        }
        q.push(" ORDER BY sid ")
            .push(order)
            .push(" LIMIT ")
            .push_bind(size as i64 + 1)
            .push(") p ON TRUE");
        let found: Vec<PageRow> = self
            .lean()
            .run(async |conn| Ok(q.build_query_as().fetch_all(conn).await?))
            .await?;
        let behind_cursor = found.first().is_some_and(|r| r.beyond);
        let mut rows = found
            .into_iter()
            .filter_map(PageRow::caller_id)
            .map(|r| r.parse().map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let past_page = rows.len() > size;
        rows.truncate(size);
        Ok(match cursor {
            Cursor::Before(_) => {
                rows.reverse();
                Page {
                    rows,
                    has_more_after: behind_cursor,
                    has_more_before: past_page,
                }
            }
            _ => Page {
                rows,
                has_more_after: past_page,
                has_more_before: behind_cursor,
            },
        })
    }

    async fn insert_caller_id(&self, new: NewCallerId) -> Result<Arc<CallerId>, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO outgoing_caller_ids (sid, account_sid, phone_number, friendly_name,
             date_created, date_updated) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(new.sid.as_str())
        .bind(new.account_sid.as_str())
        .bind(new.phone_number.as_str())
        .bind(new.friendly_name.as_str())
        .bind(new.date_created)
        .execute(self.pool())
        .await;
        match inserted {
            Ok(_) => Ok(Arc::new(new.into_caller_id())),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                "the number is verified on the account",
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn rename_caller_id(
        &self,
        account: &AccountSid,
        sid: &CallerIdSid,
        name: &FriendlyName,
        now: i64,
    ) -> Result<Option<Arc<CallerId>>, StoreError> {
        let row: Option<CallerIdRow> = sqlx::query_as(&format!(
            "UPDATE outgoing_caller_ids SET friendly_name = $1, date_updated = $2
             WHERE sid = $3 AND account_sid = $4 RETURNING {COLUMNS}"
        ))
        .bind(name.as_str())
        .bind(now)
        .bind(sid.as_str())
        .bind(account.as_str())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(CallerIdRow::parse).transpose()?.map(Arc::new))
    }

    async fn delete_caller_id(
        &self,
        account: &AccountSid,
        sid: &CallerIdSid,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM outgoing_caller_ids WHERE sid = $1 AND account_sid = $2")
                .bind(sid.as_str())
                .bind(account.as_str())
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_behavior(
        &self,
        account: &AccountSid,
        phone: &PhoneNumber,
        behavior: Behavior,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO phone_behaviors (account_sid, phone_number, behavior) VALUES ($1, $2, $3)
             ON CONFLICT (account_sid, phone_number) DO UPDATE SET behavior = excluded.behavior",
        )
        .bind(account.as_str())
        .bind(phone.as_str())
        .bind(behavior.as_str())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn behavior(
        &self,
        account: &AccountSid,
        phone: &PhoneNumber,
    ) -> Result<Option<Behavior>, StoreError> {
        let name: Option<String> = sqlx::query_scalar(
            "SELECT behavior FROM phone_behaviors WHERE account_sid = $1 AND phone_number = $2",
        )
        .bind(account.as_str())
        .bind(phone.as_str())
        .fetch_optional(self.pool())
        .await?;
        name.as_deref().map(super::rows::behavior).transpose()
    }
}
