//! Accounts, API keys and credentials; the reset and the health of the store.

use std::sync::Arc;

use super::{Service, ServiceError};
use crate::domain::account::{Account, ApiKey, Credential};
use crate::domain::callback::{Callback, CallbackAttempt, CallbackCounts};
use crate::domain::event::Event;
use crate::domain::sid::{AccountSid, CallSid};
use crate::domain::time::now_millis;
use crate::store::{JournalledRequest, StoreError};

impl Service {
    /// Makes these `(sid, auth token)` pairs the configured accounts, and resumes the
    /// callbacks a crash cut short. Call once at start-up.
    pub async fn start_up(&self, accounts: Vec<(AccountSid, String)>) -> Result<(), ServiceError> {
        let now = now_millis();
        let accounts: Vec<Account> = accounts
            .into_iter()
            .map(|(sid, auth_token)| Account {
                configured: true,
                ..Account::main(
                    sid,
                    auth_token,
                    "Configured account".to_string(),
                    now / 1000,
                )
            })
            .collect();
        self.store.sync_configured_accounts(&accounts).await?;
        // Callbacks left `sending` were cut short by a crash: send them again.
        let resumed = self.store.resume_interrupted_callbacks(now).await?;
        if resumed > 0 {
            tracing::info!(callbacks = resumed, "resuming interrupted status callbacks");
        }
        Ok(())
    }

    /// The credential of an `AC…` or `SK…` username.
    pub async fn credential(&self, user: &str) -> Result<Option<Arc<Credential>>, ServiceError> {
        Ok(self.store.credential(user).await?)
    }

    pub async fn account(&self, sid: &AccountSid) -> Result<Option<Account>, ServiceError> {
        Ok(self.store.account(sid).await?)
    }

    pub async fn accounts(&self) -> Result<Vec<Account>, ServiceError> {
        Ok(self.store.accounts().await?)
    }

    pub async fn create_account(&self, account: &Account) -> Result<(), ServiceError> {
        match self.store.create_account(account).await {
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::AccountExists(account.sid.clone()))
            }
            other => other?,
        }
        self.publish(|| {
            vec![Event::AccountCreated {
                sid: account.sid.clone(),
            }]
        });
        Ok(())
    }

    pub async fn delete_account(&self, sid: &AccountSid) -> Result<bool, ServiceError> {
        let deleted = self.store.delete_account(sid).await?;
        if deleted {
            self.publish(|| vec![Event::AccountDeleted { sid: sid.clone() }]);
        }
        Ok(deleted)
    }

    pub async fn create_api_key(&self, key: &ApiKey) -> Result<(), ServiceError> {
        match self.store.create_api_key(key).await {
            Err(StoreError::NotFound(_)) => {
                Err(ServiceError::NoSuchAccount(key.account_sid.clone()))
            }
            other => Ok(other?),
        }
    }

    /// An account's API keys in creation order, secrets included (the caller decides what
    /// to show).
    pub async fn api_keys(&self, account: &AccountSid) -> Result<Vec<ApiKey>, ServiceError> {
        Ok(self.store.api_keys(account).await?)
    }

    /// Wipes every caller ID, call, callback, key, behaviour and non-configured account.
    pub async fn reset(&self) -> Result<(), ServiceError> {
        self.store.reset().await?;
        self.publish(|| vec![Event::Reset]);
        Ok(())
    }

    /// Whether other replicas may share the store: then the request journal lives in it.
    pub fn is_shared(&self) -> bool {
        self.store.is_shared()
    }

    /// Appends entries to the request journal of a shared store, keeping the newest `keep`.
    pub async fn journal_requests(
        &self,
        entries: &[JournalledRequest],
        keep: usize,
    ) -> Result<(), ServiceError> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        Ok(self.store.journal_requests(entries, keep).await?)
    }

    /// The newest `limit` entries of a shared store's request journal, newest first.
    pub async fn journalled_requests(
        &self,
        account: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, ServiceError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(self.store.journalled_requests(account, limit).await?)
    }

    pub async fn ping(&self) -> Result<(), ServiceError> {
        Ok(self.store.ping().await?)
    }

    /// Which store backend holds the state: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Verification calls not yet ended, and callbacks by where they stand.
    pub async fn gauges(&self) -> Result<(i64, CallbackCounts), ServiceError> {
        Ok((
            self.store.pending_calls().await?,
            self.store.callback_counts().await?,
        ))
    }

    /// The callback journal, newest first, optionally for one account and/or call.
    pub async fn callbacks(
        &self,
        account: Option<&AccountSid>,
        call: Option<&CallSid>,
        limit: i64,
    ) -> Result<Vec<(Callback, Vec<CallbackAttempt>)>, ServiceError> {
        Ok(self.store.callbacks(account, call, limit).await?)
    }
}
