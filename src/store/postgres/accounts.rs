//! Accounts, API keys and credentials, and the wipe of everything else. Credentials are read
//! through each replica's cache ([`super::credentials`]); every write that may change one
//! announces an invalidation in its transaction and waits for it to be heard.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::rows::{account_status, AccountRow, ApiKeyRow};
use super::PgStore;
use crate::domain::account::{Account, AccountStatus, AccountUpdate, ApiKey, Credential, KeyKind};
use crate::domain::sid::{AccountSid, ApiKeySid};
use crate::store::{AccountStore, StoreError, Upkeep};

const ACCOUNT_COLUMNS: &str = "sid, auth_token, friendly_name, configured, date_created, \
    owner_account_sid, status, date_updated";

const KEY_COLUMNS: &str = "sid, account_sid, secret, friendly_name, date_created, kind, \
    date_updated";

/// What a credential is read as: the secret, the account, the key's kind (for a key), the
/// account's parent and status, the parent's status.
type CredentialRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
);

/// How long a ping may take before the database counts as unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

impl Upkeep for PgStore {
    async fn run_upkeep(&self, stop: watch::Receiver<bool>) {
        tokio::join!(
            self.keep_replica_lock(stop.clone()),
            self.run_announcer(stop.clone()),
            self.run_listener(stop.clone()),
            self.run_heartbeat(stop.clone()),
            self.run_registrar(stop),
        );
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
        // One simple query: its statements, the invalidation's NOTIFY last, run as one
        // transaction.
        let invalidation = self.invalidation();
        let sql = format!(
            "DELETE FROM callback_attempts; DELETE FROM callbacks; DELETE FROM call_events;
             DELETE FROM calls; DELETE FROM phone_behaviors; DELETE FROM outgoing_caller_ids;
             DELETE FROM api_keys; DELETE FROM accounts WHERE NOT configured;
             DELETE FROM request_journal; {}",
            invalidation.statement()
        );
        sqlx::raw_sql(&sql).execute(self.pool()).await?;
        self.forget_journal_floor();
        self.invalidated(invalidation).await;
        Ok(())
    }
}

impl AccountStore for PgStore {
    async fn sync_configured_accounts(&self, accounts: &[Account]) -> Result<(), StoreError> {
        let sids: Vec<&str> = accounts.iter().map(|a| a.sid.as_str()).collect();
        let tokens: Vec<&str> = accounts.iter().map(|a| a.auth_token.as_str()).collect();
        let names: Vec<&str> = accounts.iter().map(|a| a.friendly_name.as_str()).collect();
        let dates: Vec<i64> = accounts.iter().map(|a| a.date_created).collect();
        let updated: Vec<i64> = accounts.iter().map(|a| a.date_updated).collect();
        let mut write = self.begin_invalidating().await?;
        sqlx::query(
            "WITH gone AS (DELETE FROM accounts WHERE configured AND sid <> ALL($1))
             INSERT INTO accounts (sid, auth_token, friendly_name, configured, date_created,
                                   date_updated)
             SELECT s, t, n, TRUE, d, u
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
                 AS a(s, t, n, d, u)
             ON CONFLICT (sid) DO UPDATE SET auth_token = excluded.auth_token, configured = TRUE,
                                             owner_account_sid = NULL",
        )
        .bind(&sids)
        .bind(&tokens)
        .bind(&names)
        .bind(&dates)
        .bind(&updated)
        .execute(&mut *write.tx)
        .await?;
        write.commit().await?;
        Ok(())
    }

    async fn credential(&self, user: &str) -> Result<Option<Arc<Credential>>, StoreError> {
        self.cached_credential(user, self.read_credential(user))
            .await
    }

    async fn account(&self, sid: &AccountSid) -> Result<Option<Account>, StoreError> {
        let row: Option<AccountRow> = sqlx::query_as(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE sid = $1"
        ))
        .bind(sid.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(AccountRow::parse).transpose()
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows: Vec<AccountRow> = sqlx::query_as(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY configured DESC, sid"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(AccountRow::parse).collect()
    }

    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO accounts (sid, auth_token, friendly_name, configured, date_created,
                                   owner_account_sid, status, date_updated)
             VALUES ($1, $2, $3, FALSE, $4, $5, $6, $7)",
        )
        .bind(account.sid.as_str())
        .bind(&account.auth_token)
        .bind(&account.friendly_name)
        .bind(account.date_created)
        .bind(account.owner_account_sid.as_ref().map(|o| o.as_str()))
        .bind(account.status.as_str())
        .bind(account.date_updated)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn delete_account(&self, sid: &AccountSid) -> Result<bool, StoreError> {
        // Subaccounts, keys, caller IDs, behaviours, calls (and their events), callbacks (and
        // their attempts) cascade.
        let mut write = self.begin_invalidating().await?;
        let done = sqlx::query("DELETE FROM accounts WHERE sid = $1")
            .bind(sid.as_str())
            .execute(&mut *write.tx)
            .await?;
        write.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn account_family(&self, sid: &AccountSid) -> Result<Vec<Account>, StoreError> {
        let rows: Vec<AccountRow> = sqlx::query_as(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE sid = $1 OR owner_account_sid = $1
             ORDER BY sid"
        ))
        .bind(sid.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(AccountRow::parse).collect()
    }

    async fn update_account(
        &self,
        sid: &AccountSid,
        update: &AccountUpdate,
        now: i64,
    ) -> Result<Option<Account>, StoreError> {
        // One statement: closing also deletes what the account owns (call_events and
        // callback_attempts cascade), in the same write.
        let mut q = String::from(
            "WITH updated AS (
                UPDATE accounts SET friendly_name = COALESCE($1, friendly_name),
                    status = COALESCE($2, status), date_updated = $3
                WHERE sid = $4 RETURNING ",
        );
        q.push_str(ACCOUNT_COLUMNS);
        q.push(')');
        if update.status == Some(AccountStatus::Closed) {
            for table in [
                "callbacks",
                "calls",
                "phone_behaviors",
                "outgoing_caller_ids",
                "api_keys",
            ] {
                q.push_str(&format!(
                    ", gone_{table} AS (DELETE FROM {table} WHERE account_sid = $4
                        AND EXISTS (SELECT 1 FROM updated))"
                ));
            }
        }
        q.push_str(" SELECT * FROM updated");
        let mut write = self.begin_invalidating().await?;
        let row: Option<AccountRow> = sqlx::query_as(&q)
            .bind(update.friendly_name.as_deref())
            .bind(update.status.map(AccountStatus::as_str))
            .bind(now)
            .bind(sid.as_str())
            .fetch_optional(&mut *write.tx)
            .await?;
        write.commit().await?;
        row.map(AccountRow::parse).transpose()
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (sid, account_sid, secret, friendly_name, date_created, kind,
                                   date_updated)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key.sid.as_str())
        .bind(key.account_sid.as_str())
        .bind(&key.secret)
        .bind(&key.friendly_name)
        .bind(key.date_created)
        .bind(key.kind.as_str())
        .bind(key.date_updated)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn api_keys(&self, account: &AccountSid) -> Result<Vec<ApiKey>, StoreError> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE account_sid = $1 ORDER BY seq"
        ))
        .bind(account.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(ApiKeyRow::parse).collect()
    }

    async fn api_key(
        &self,
        account: &AccountSid,
        sid: &ApiKeySid,
    ) -> Result<Option<ApiKey>, StoreError> {
        let row: Option<ApiKeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE sid = $1 AND account_sid = $2"
        ))
        .bind(sid.as_str())
        .bind(account.as_str())
        .fetch_optional(self.pool())
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
        let row: Option<ApiKeyRow> = sqlx::query_as(&format!(
            "UPDATE api_keys SET friendly_name = $1, date_updated = $2
             WHERE sid = $3 AND account_sid = $4 RETURNING {KEY_COLUMNS}"
        ))
        .bind(friendly_name)
        .bind(now)
        .bind(sid.as_str())
        .bind(account.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(ApiKeyRow::parse).transpose()
    }

    async fn delete_api_key(
        &self,
        account: &AccountSid,
        sid: &ApiKeySid,
    ) -> Result<bool, StoreError> {
        let mut write = self.begin_invalidating().await?;
        let done = sqlx::query("DELETE FROM api_keys WHERE sid = $1 AND account_sid = $2")
            .bind(sid.as_str())
            .bind(account.as_str())
            .execute(&mut *write.tx)
            .await?;
        write.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}

impl PgStore {
    /// The credential of `user` as the database has it.
    async fn read_credential(&self, user: &str) -> Result<Option<Arc<Credential>>, StoreError> {
        // Usernames are looked up as they are: only the stored (lower-case) form matches. One
        // query: the secret with its account's status and its parent's.
        let found: Option<CredentialRow> = if AccountSid::from_stored(user.to_string()).is_ok() {
            sqlx::query_as(
                "SELECT a.auth_token, a.sid, NULL::text, a.owner_account_sid, a.status, o.status
                 FROM accounts a LEFT JOIN accounts o ON o.sid = a.owner_account_sid
                 WHERE a.sid = $1",
            )
            .bind(user)
            .fetch_optional(self.pool())
            .await?
        } else if ApiKeySid::from_stored(user.to_string()).is_ok() {
            sqlx::query_as(
                "SELECT k.secret, a.sid, k.kind, a.owner_account_sid, a.status, o.status
                 FROM api_keys k JOIN accounts a ON a.sid = k.account_sid
                 LEFT JOIN accounts o ON o.sid = a.owner_account_sid
                 WHERE k.sid = $1",
            )
            .bind(user)
            .fetch_optional(self.pool())
            .await?
        } else {
            None
        };
        let Some((secret, account, kind, owner, status, owner_status)) = found else {
            return Ok(None);
        };
        let key = match kind {
            Some(kind) => Some(
                KeyKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("key kind {kind:?}")))?,
            ),
            None => None,
        };
        // A parent that is gone counts as closed.
        let owner_status = match (&owner, owner_status) {
            (None, _) => None,
            (Some(_), None) => Some(AccountStatus::Closed),
            (Some(_), Some(s)) => Some(account_status(&s)?),
        };
        Ok(Some(Arc::new(Credential {
            secret,
            account_sid: super::rows::account_sid(account)?,
            key,
            owner_account_sid: owner.map(super::rows::account_sid).transpose()?,
            status: account_status(&status)?,
            owner_status,
        })))
    }
}
