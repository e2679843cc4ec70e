//! Caller IDs and callee behaviours: read from memory, written through the one writer.

use std::sync::Arc;

use super::rows::CallerIdRow;
use super::{Change, SqliteStore};
use crate::domain::call::Behavior;
use crate::domain::caller_id::{CallerId, Cursor, FriendlyName, ListFilter, NewCallerId, Page};
use crate::domain::sid::{AccountSid, CallerIdSid};
use crate::domain::PhoneNumber;
use crate::store::{CallerIdStore, StoreError};

impl CallerIdStore for SqliteStore {
    async fn caller_id(
        &self,
        account: &AccountSid,
        sid: &CallerIdSid,
    ) -> Result<Option<Arc<CallerId>>, StoreError> {
        Ok(self.memory().ids.get(account, sid))
    }

    async fn caller_id_owner(&self, sid: &CallerIdSid) -> Result<Option<AccountSid>, StoreError> {
        Ok(self.memory().ids.owner(sid))
    }

    async fn list_caller_ids(
        &self,
        account: &AccountSid,
        filter: ListFilter<'_>,
        cursor: &Cursor,
        page_size: u32,
    ) -> Result<Page, StoreError> {
        Ok(self.memory().ids.page(account, &filter, cursor, page_size))
    }

    async fn insert_caller_id(&self, new: NewCallerId) -> Result<Arc<CallerId>, StoreError> {
        let mut write = self.statement().await?;
        // Holding the writer's turn, memory is exactly what is committed.
        if self.number_taken(&new.account_sid, &new.phone_number, &[]) {
            return Err(StoreError::Conflict(
                "the number is verified on the account",
            ));
        }
        sqlx::query(
            "INSERT INTO outgoing_caller_ids (sid, account_sid, phone_number, friendly_name,
             date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(new.sid.as_str())
        .bind(new.account_sid.as_str())
        .bind(new.phone_number.as_str())
        .bind(new.friendly_name.as_str())
        .bind(new.date_created)
        .bind(new.date_created)
        .execute(write.conn())
        .await?;
        let put = write
            .commit(vec![Change::PutCallerId(new.into_caller_id())])
            .await?;
        put.into_iter()
            .next()
            .ok_or(StoreError::NotFound("caller ID"))
    }

    async fn rename_caller_id(
        &self,
        account: &AccountSid,
        sid: &CallerIdSid,
        name: &FriendlyName,
        now: i64,
    ) -> Result<Option<Arc<CallerId>>, StoreError> {
        let mut write = self.statement().await?;
        // fetch_all rather than fetch_optional: an UPDATE … RETURNING left unfinished by
        // fetch_optional keeps its statement open, which was measured to stall WAL checkpoints.
        let rows: Vec<CallerIdRow> = sqlx::query_as(
            "UPDATE outgoing_caller_ids SET friendly_name = ?, date_updated = ?
             WHERE sid = ? AND account_sid = ? RETURNING *",
        )
        .bind(name.as_str())
        .bind(now)
        .bind(sid.as_str())
        .bind(account.as_str())
        .fetch_all(write.conn())
        .await?;
        let changes = rows
            .into_iter()
            .map(|row| row.parse().map(Change::PutCallerId))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(write.commit(changes).await?.pop())
    }

    async fn delete_caller_id(
        &self,
        account: &AccountSid,
        sid: &CallerIdSid,
    ) -> Result<bool, StoreError> {
        let mut write = self.statement().await?;
        let deleted =
            sqlx::query("DELETE FROM outgoing_caller_ids WHERE sid = ? AND account_sid = ?")
                .bind(sid.as_str())
                .bind(account.as_str())
                .execute(write.conn())
                .await?
                .rows_affected()
                > 0;
        write
            .commit(vec![Change::RemoveCallerId(account.clone(), sid.clone())])
            .await?;
        Ok(deleted)
    }

    async fn set_behavior(
        &self,
        account: &AccountSid,
        phone: &PhoneNumber,
        behavior: Behavior,
    ) -> Result<(), StoreError> {
        let mut write = self.statement().await?;
        sqlx::query(
            "INSERT INTO phone_behaviors (account_sid, phone_number, behavior) VALUES (?, ?, ?)
             ON CONFLICT (account_sid, phone_number) DO UPDATE SET behavior = excluded.behavior",
        )
        .bind(account.as_str())
        .bind(phone.as_str())
        .bind(behavior.as_str())
        .execute(write.conn())
        .await?;
        write
            .commit(vec![Change::SetBehavior(
                account.clone(),
                phone.clone(),
                behavior,
            )])
            .await?;
        Ok(())
    }

    async fn behavior(
        &self,
        account: &AccountSid,
        phone: &PhoneNumber,
    ) -> Result<Option<Behavior>, StoreError> {
        Ok(self.memory().behavior(account, phone))
    }
}

impl super::Core {
    /// Whether a callee behaviour is set for `phone` on `account` (read holding the writer's
    /// turn, as [`super::Core::number_taken`]).
    pub(super) fn behavior_set(&self, account: &AccountSid, phone: &PhoneNumber) -> bool {
        self.memory().behavior(account, phone).is_some()
    }

    /// Whether `account` has `phone` verified: committed (in memory, which must be read while
    /// holding the writer's turn) or made earlier in the same transaction (`made`). The one
    /// already-verified check of every write that creates a caller ID.
    pub(super) fn number_taken(
        &self,
        account: &AccountSid,
        phone: &PhoneNumber,
        made: &[&crate::domain::caller_id::NewCallerId],
    ) -> bool {
        self.memory().ids.has_number(account, phone.as_str())
            || made
                .iter()
                .any(|c| &c.account_sid == account && &c.phone_number == phone)
    }
}
