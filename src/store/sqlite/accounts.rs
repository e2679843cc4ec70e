//! Accounts, API keys and credentials, and the wipe of everything else.

use std::sync::Arc;

use sqlx::{QueryBuilder, Sqlite};
use tokio::sync::watch;

use super::rows::{AccountRow, ApiKeyRow};
use super::{Change, SqliteStore};
use crate::domain::account::{Account, AccountStatus, AccountUpdate, ApiKey, Credential};
use crate::domain::sid::{AccountSid, ApiKeySid};
use crate::store::{AccountStore, StoreError, Upkeep};

impl Upkeep for SqliteStore {
    async fn run_upkeep(&self, stop: watch::Receiver<bool>) {
        self.run_checkpoints(stop).await;
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.read()).await?;
        Ok(())
    }

    async fn close(&self) {
        self.core.close().await;
    }

    async fn reset(&self) -> Result<(), StoreError> {
        let mut write = self.transaction().await?;
        for statement in [
            "DELETE FROM callback_attempts",
            "DELETE FROM callbacks",
            "DELETE FROM call_events",
            "DELETE FROM calls",
            "DELETE FROM phone_behaviors",
            "DELETE FROM outgoing_caller_ids",
            "DELETE FROM api_keys",
            "DELETE FROM accounts WHERE configured = 0",
        ] {
            sqlx::query(statement).execute(write.conn()).await?;
        }
        write
            .commit(vec![Change::ForgetAll, Change::Credentials])
            .await?;
        Ok(())
    }
}

impl AccountStore for SqliteStore {
    async fn sync_configured_accounts(&self, accounts: &[Account]) -> Result<(), StoreError> {
        let mut write = self.transaction().await?;
        // Subaccounts go with a parent that is no longer configured: note whose they are.
        let children: Vec<(String, String)> = sqlx::query_as(
            "SELECT sid, owner_account_sid FROM accounts WHERE owner_account_sid IS NOT NULL",
        )
        .fetch_all(write.conn())
        .await?;
        let mut keep = QueryBuilder::<Sqlite>::new(
            "DELETE FROM accounts WHERE configured = 1 AND sid NOT IN (",
        );
        let mut list = keep.separated(", ");
        for account in accounts {
            list.push_bind(account.sid.as_str());
        }
        list.push_unseparated(") RETURNING sid");
        let removed: Vec<String> = keep.build_query_scalar().fetch_all(write.conn()).await?;
        for account in accounts {
            sqlx::query(
                "INSERT INTO accounts (sid, auth_token, friendly_name, configured, date_created,
                                       date_updated)
                 VALUES (?, ?, ?, 1, ?, ?)
                 ON CONFLICT (sid) DO UPDATE SET auth_token = excluded.auth_token, configured = 1,
                                                 owner_account_sid = NULL",
            )
            .bind(account.sid.as_str())
            .bind(&account.auth_token)
            .bind(&account.friendly_name)
            .bind(account.date_created)
            .bind(account.date_updated)
            .execute(write.conn())
            .await?;
        }
        let mut changes = vec![Change::Credentials];
        for (child, owner) in children {
            if removed.contains(&owner) {
                changes.push(Change::ForgetAccount(super::rows::account_sid(child)?));
            }
        }
        for sid in removed {
            changes.push(Change::ForgetAccount(super::rows::account_sid(sid)?));
        }
        write.commit(changes).await?;
        Ok(())
    }

    async fn credential(&self, user: &str) -> Result<Option<Arc<Credential>>, StoreError> {
        if let Some(hit) = self.credentials().get(user) {
            return Ok(Some(hit));
        }
        let generation = self.credentials().generation();
        // Usernames are looked up as they are: only the stored (lower-case) form matches.
        let (secret, key, account) = if let Ok(sid) = AccountSid::from_stored(user.to_string()) {
            match self.account(&sid).await? {
                Some(a) => (a.auth_token.clone(), None, a),
                None => return Ok(None),
            }
        } else if let Ok(sid) = ApiKeySid::from_stored(user.to_string()) {
            let row: Option<ApiKeyRow> = sqlx::query_as("SELECT * FROM api_keys WHERE sid = ?")
                .bind(sid.as_str())
                .fetch_optional(self.read())
                .await?;
            let Some(key) = row.map(ApiKeyRow::parse).transpose()? else {
                return Ok(None);
            };
            match self.account(&key.account_sid).await? {
                Some(a) => (key.secret, Some(key.kind), a),
                None => return Ok(None),
            }
        } else {
            return Ok(None);
        };
        let owner_status = match &account.owner_account_sid {
            Some(owner) => Some(
                self.account(owner)
                    .await?
                    .map_or(AccountStatus::Closed, |o| o.status),
            ),
            None => None,
        };
        let found = Arc::new(Credential {
            secret,
            account_sid: account.sid,
            key,
            owner_account_sid: account.owner_account_sid,
            status: account.status,
            owner_status,
        });
        self.credentials().insert(user, found.clone(), generation);
        Ok(Some(found))
    }

    async fn account(&self, sid: &AccountSid) -> Result<Option<Account>, StoreError> {
        let row: Option<AccountRow> = sqlx::query_as("SELECT * FROM accounts WHERE sid = ?")
            .bind(sid.as_str())
            .fetch_optional(self.read())
            .await?;
        row.map(AccountRow::parse).transpose()
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows: Vec<AccountRow> =
            sqlx::query_as("SELECT * FROM accounts ORDER BY configured DESC, sid")
                .fetch_all(self.read())
                .await?;
        rows.into_iter().map(AccountRow::parse).collect()
    }

    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        let insert = sqlx::query(
            "INSERT INTO accounts (sid, auth_token, friendly_name, configured, date_created,
                                   owner_account_sid, status, date_updated)
             VALUES (?, ?, ?, 0, ?, ?, ?, ?)",
        )
        .bind(account.sid.as_str())
        .bind(&account.auth_token)
        .bind(&account.friendly_name)
        .bind(account.date_created)
        .bind(account.owner_account_sid.as_ref().map(|o| o.as_str()))
        .bind(account.status.as_str())
        .bind(account.date_updated);
        self.credentials_write(insert).await
    }

    async fn delete_account(&self, sid: &AccountSid) -> Result<bool, StoreError> {
        let mut write = self.transaction().await?;
        // callback_attempts cascade from callbacks, call_events from calls, subaccounts from
        // their owner.
        let gone: Vec<String> =
            sqlx::query_scalar("SELECT sid FROM accounts WHERE sid = ? OR owner_account_sid = ?")
                .bind(sid.as_str())
                .bind(sid.as_str())
                .fetch_all(write.conn())
                .await?;
        sqlx::query("DELETE FROM accounts WHERE sid = ?")
            .bind(sid.as_str())
            .execute(write.conn())
            .await?;
        let done = gone.iter().any(|g| g == sid.as_str());
        let mut changes = vec![Change::ForgetAccount(sid.clone()), Change::Credentials];
        for other in gone {
            if other != sid.as_str() {
                changes.push(Change::ForgetAccount(super::rows::account_sid(other)?));
            }
        }
        write.commit(changes).await?;
        Ok(done)
    }

    async fn account_family(&self, sid: &AccountSid) -> Result<Vec<Account>, StoreError> {
        let rows: Vec<AccountRow> = sqlx::query_as(
            "SELECT * FROM accounts WHERE sid = ? OR owner_account_sid = ? ORDER BY sid",
        )
        .bind(sid.as_str())
        .bind(sid.as_str())
        .fetch_all(self.read())
        .await?;
        rows.into_iter().map(AccountRow::parse).collect()
    }

    async fn update_account(
        &self,
        sid: &AccountSid,
        update: &AccountUpdate,
        now: i64,
    ) -> Result<Option<Account>, StoreError> {
        let mut write = self.transaction().await?;
        let row: Option<AccountRow> = sqlx::query_as(
            "UPDATE accounts SET friendly_name = COALESCE(?, friendly_name),
                                 status = COALESCE(?, status), date_updated = ?
             WHERE sid = ? RETURNING *",
        )
        .bind(update.friendly_name.as_deref())
        .bind(update.status.map(AccountStatus::as_str))
        .bind(now)
        .bind(sid.as_str())
        .fetch_optional(write.conn())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut changes = vec![Change::Credentials];
        if update.status == Some(AccountStatus::Closed) {
            // A closed account's resources are gone; call_events and callback_attempts
            // cascade.
            for table in [
                "callbacks",
                "calls",
                "phone_behaviors",
                "outgoing_caller_ids",
                "api_keys",
            ] {
                sqlx::query(&format!("DELETE FROM {table} WHERE account_sid = ?"))
                    .bind(sid.as_str())
                    .execute(write.conn())
                    .await?;
            }
            changes.push(Change::ForgetAccount(sid.clone()));
        }
        write.commit(changes).await?;
        Ok(Some(row.parse()?))
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let insert = sqlx::query(
            "INSERT INTO api_keys (sid, account_sid, secret, friendly_name, date_created, kind,
                                   date_updated)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key.sid.as_str())
        .bind(key.account_sid.as_str())
        .bind(&key.secret)
        .bind(&key.friendly_name)
        .bind(key.date_created)
        .bind(key.kind.as_str())
        .bind(key.date_updated);
        self.credentials_write(insert).await
    }

    async fn api_keys(&self, account: &AccountSid) -> Result<Vec<ApiKey>, StoreError> {
        // rowid is the insertion order: keys made in the same second keep theirs.
        let rows: Vec<ApiKeyRow> =
            sqlx::query_as("SELECT * FROM api_keys WHERE account_sid = ? ORDER BY rowid")
                .bind(account.as_str())
                .fetch_all(self.read())
                .await?;
        rows.into_iter().map(ApiKeyRow::parse).collect()
    }

    async fn api_key(
        &self,
        account: &AccountSid,
        sid: &ApiKeySid,
    ) -> Result<Option<ApiKey>, StoreError> {
        let row: Option<ApiKeyRow> =
            sqlx::query_as("SELECT * FROM api_keys WHERE sid = ? AND account_sid = ?")
                .bind(sid.as_str())
                .bind(account.as_str())
                .fetch_optional(self.read())
                .await?;
        row.map(ApiKeyRow::parse).transpose()
    }

    async fn rename_api_key(
        &self,
        account: &AccountSid,
        sid: &ApiKeySid,
        friendly_name: &str,
        now: i64,
    ) -> Result<Option<ApiKey>, StoreError> {
        let mut write = self.statement().await?;
        let row: Option<ApiKeyRow> = sqlx::query_as(
            "UPDATE api_keys SET friendly_name = ?, date_updated = ?
             WHERE sid = ? AND account_sid = ? RETURNING *",
        )
        .bind(friendly_name)
        .bind(now)
        .bind(sid.as_str())
        .bind(account.as_str())
        .fetch_optional(write.conn())
        .await?;
        write.commit(Vec::new()).await?;
        row.map(ApiKeyRow::parse).transpose()
    }

    async fn delete_api_key(
        &self,
        account: &AccountSid,
        sid: &ApiKeySid,
    ) -> Result<bool, StoreError> {
        let mut write = self.statement().await?;
        let done = sqlx::query("DELETE FROM api_keys WHERE sid = ? AND account_sid = ?")
            .bind(sid.as_str())
            .bind(account.as_str())
            .execute(write.conn())
            .await?
            .rows_affected()
            > 0;
        // The cache is cleared once the delete commits: the next request reads the key anew.
        write.commit(vec![Change::Credentials]).await?;
        Ok(done)
    }
}

impl SqliteStore {
    /// Runs one statement that changes accounts or keys, then forgets cached credentials.
    async fn credentials_write<'q>(
        &self,
        statement: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> Result<(), StoreError> {
        let mut write = self.statement().await?;
        statement.execute(write.conn()).await?;
        write.commit(vec![Change::Credentials]).await?;
        Ok(())
    }
}
