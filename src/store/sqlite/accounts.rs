//! Accounts, API keys and credentials, and the wipe of everything else.

use std::sync::Arc;

use sqlx::{QueryBuilder, Sqlite};
use tokio::sync::watch;

use super::rows::{AccountRow, ApiKeyRow};
use super::{Change, SqliteStore};
use crate::domain::account::{Account, ApiKey, Credential};
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
                "INSERT INTO accounts (sid, auth_token, friendly_name, configured, date_created)
                 VALUES (?, ?, ?, 1, ?)
                 ON CONFLICT (sid) DO UPDATE SET auth_token = excluded.auth_token, configured = 1",
            )
            .bind(account.sid.as_str())
            .bind(&account.auth_token)
            .bind(&account.friendly_name)
            .bind(account.date_created)
            .execute(write.conn())
            .await?;
        }
        let mut changes = vec![Change::Credentials];
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
        let found = if let Ok(sid) = AccountSid::from_stored(user.to_string()) {
            self.account(&sid).await?.map(|a| Credential {
                secret: a.auth_token,
                account_sid: a.sid,
            })
        } else if let Ok(sid) = ApiKeySid::from_stored(user.to_string()) {
            let row: Option<ApiKeyRow> = sqlx::query_as("SELECT * FROM api_keys WHERE sid = ?")
                .bind(sid.as_str())
                .fetch_optional(self.read())
                .await?;
            row.map(ApiKeyRow::parse).transpose()?.map(|k| Credential {
                secret: k.secret,
                account_sid: k.account_sid,
            })
        } else {
            None
        };
        let Some(found) = found.map(Arc::new) else {
            return Ok(None);
        };
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
            "INSERT INTO accounts (sid, auth_token, friendly_name, configured, date_created)
             VALUES (?, ?, ?, 0, ?)",
        )
        .bind(account.sid.as_str())
        .bind(&account.auth_token)
        .bind(&account.friendly_name)
        .bind(account.date_created);
        self.credentials_write(insert).await
    }

    async fn delete_account(&self, sid: &AccountSid) -> Result<bool, StoreError> {
        let mut write = self.statement().await?;
        // callback_attempts cascade from callbacks, call_events from calls.
        let done = sqlx::query("DELETE FROM accounts WHERE sid = ?")
            .bind(sid.as_str())
            .execute(write.conn())
            .await?
            .rows_affected()
            > 0;
        write
            .commit(vec![
                Change::ForgetAccount(sid.clone()),
                Change::Credentials,
            ])
            .await?;
        Ok(done)
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let insert = sqlx::query(
            "INSERT INTO api_keys (sid, account_sid, secret, friendly_name, date_created)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(key.sid.as_str())
        .bind(key.account_sid.as_str())
        .bind(&key.secret)
        .bind(&key.friendly_name)
        .bind(key.date_created);
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
