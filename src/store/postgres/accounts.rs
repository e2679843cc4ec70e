//! Accounts, API keys and credentials (read from the database on every use: another replica
//! may have changed them), and the wipe of everything else.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::rows::{AccountRow, ApiKeyRow};
use super::PgStore;
use crate::domain::account::{Account, ApiKey, Credential};
use crate::domain::sid::{AccountSid, ApiKeySid};
use crate::store::{AccountStore, StoreError, Upkeep};

/// How long a ping may take before the database counts as unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

impl Upkeep for PgStore {
    async fn run_upkeep(&self, stop: watch::Receiver<bool>) {
        self.keep_replica_lock(stop).await;
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let ping = sqlx::query("SELECT 1").execute(self.pool());
        match tokio::time::timeout(PING_TIMEOUT, ping).await {
            Ok(done) => done.map(|_| ()).map_err(StoreError::from),
            Err(_) => Err(StoreError::Backend(
                "the database did not answer a ping".into(),
            )),
        }
    }

    async fn close(&self) {
        PgStore::close(self).await;
    }

    async fn reset(&self) -> Result<(), StoreError> {
        // One simple query: its statements run as one transaction.
        sqlx::raw_sql(
            "DELETE FROM callback_attempts; DELETE FROM callbacks; DELETE FROM call_events;
             DELETE FROM calls; DELETE FROM phone_behaviors; DELETE FROM outgoing_caller_ids;
             DELETE FROM api_keys; DELETE FROM accounts WHERE NOT configured",
        )
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

impl AccountStore for PgStore {
    async fn sync_configured_accounts(&self, accounts: &[Account]) -> Result<(), StoreError> {
        let sids: Vec<&str> = accounts.iter().map(|a| a.sid.as_str()).collect();
        let tokens: Vec<&str> = accounts.iter().map(|a| a.auth_token.as_str()).collect();
        let names: Vec<&str> = accounts.iter().map(|a| a.friendly_name.as_str()).collect();
        let dates: Vec<i64> = accounts.iter().map(|a| a.date_created).collect();
        sqlx::query(
            "WITH gone AS (DELETE FROM accounts WHERE configured AND sid <> ALL($1))
             INSERT INTO accounts (sid, auth_token, friendly_name, configured, date_created)
             SELECT s, t, n, TRUE, d FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
                 AS a(s, t, n, d)
             ON CONFLICT (sid) DO UPDATE SET auth_token = excluded.auth_token, configured = TRUE",
        )
        .bind(&sids)
        .bind(&tokens)
        .bind(&names)
        .bind(&dates)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn credential(&self, user: &str) -> Result<Option<Arc<Credential>>, StoreError> {
        // Usernames are looked up as they are: only the stored (lower-case) form matches.
        let found: Option<(String, String)> = if AccountSid::from_stored(user.to_string()).is_ok() {
            sqlx::query_as("SELECT auth_token, sid FROM accounts WHERE sid = $1")
                .bind(user)
                .fetch_optional(self.pool())
                .await?
        } else if ApiKeySid::from_stored(user.to_string()).is_ok() {
            sqlx::query_as("SELECT secret, account_sid FROM api_keys WHERE sid = $1")
                .bind(user)
                .fetch_optional(self.pool())
                .await?
        } else {
            None
        };
        let Some((secret, account)) = found else {
            return Ok(None);
        };
        Ok(Some(Arc::new(Credential {
            secret,
            account_sid: super::rows::account_sid(account)?,
        })))
    }

    async fn account(&self, sid: &AccountSid) -> Result<Option<Account>, StoreError> {
        let row: Option<AccountRow> = sqlx::query_as(
            "SELECT sid, auth_token, friendly_name, configured, date_created
             FROM accounts WHERE sid = $1",
        )
        .bind(sid.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(AccountRow::parse).transpose()
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows: Vec<AccountRow> = sqlx::query_as(
            "SELECT sid, auth_token, friendly_name, configured, date_created
             FROM accounts ORDER BY configured DESC, sid",
        )
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(AccountRow::parse).collect()
    }

    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO accounts (sid, auth_token, friendly_name, configured, date_created)
             VALUES ($1, $2, $3, FALSE, $4)",
        )
        .bind(account.sid.as_str())
        .bind(&account.auth_token)
        .bind(&account.friendly_name)
        .bind(account.date_created)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn delete_account(&self, sid: &AccountSid) -> Result<bool, StoreError> {
        // Keys, caller IDs, behaviours, calls (and their events), callbacks (and their
        // attempts) cascade.
        let done = sqlx::query("DELETE FROM accounts WHERE sid = $1")
            .bind(sid.as_str())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (sid, account_sid, secret, friendly_name, date_created)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key.sid.as_str())
        .bind(key.account_sid.as_str())
        .bind(&key.secret)
        .bind(&key.friendly_name)
        .bind(key.date_created)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn api_keys(&self, account: &AccountSid) -> Result<Vec<ApiKey>, StoreError> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(
            "SELECT sid, account_sid, secret, friendly_name, date_created
             FROM api_keys WHERE account_sid = $1 ORDER BY seq",
        )
        .bind(account.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(ApiKeyRow::parse).collect()
    }
}
