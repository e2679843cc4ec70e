//! What the Twilio API's Accounts and Keys resources do: subaccounts, account status, API
//! keys, and who reaches which account.

use super::{Service, ServiceError};
use crate::domain::account::{
    access, Account, AccountStatus, AccountUpdate, ApiKey, Area, Credential, Denied,
};
use crate::domain::sid::{random_hex32, AccountSid, ApiKeySid};
use crate::domain::time::{now_millis, subaccount_default_name};

impl Service {
    /// Whether `credential` reaches `area` of `target` (see [`access`]); reads `target`'s
    /// account only when it is not the credential's own.
    pub async fn access(
        &self,
        credential: &Credential,
        target: &AccountSid,
        area: Area,
    ) -> Result<Result<(), Denied>, ServiceError> {
        let target_account = if *target == credential.account_sid {
            None
        } else {
            self.store.account(target).await?
        };
        Ok(access(credential, target, target_account.as_ref(), area))
    }

    /// A new subaccount of `owner`, active, with its own generated auth token, named
    /// `friendly_name` or Twilio's default (`SubAccount Created at …`).
    pub async fn create_subaccount(
        &self,
        owner: &AccountSid,
        friendly_name: Option<String>,
    ) -> Result<Account, ServiceError> {
        let parent = self
            .store
            .account(owner)
            .await?
            .ok_or_else(|| ServiceError::NoSuchAccount(owner.clone()))?;
        if parent.owner_account_sid.is_some() {
            return Err(ServiceError::SubaccountCannotCreate(owner.clone()));
        }
        let now = now_millis() / 1000;
        let name = friendly_name.unwrap_or_else(|| subaccount_default_name(now));
        let account = Account {
            owner_account_sid: Some(owner.clone()),
            ..Account::main(AccountSid::generate(), random_hex32(), name, now)
        };
        self.create_account(&account).await?;
        Ok(account)
    }

    /// The account and its subaccounts, in sid order.
    pub async fn account_family(&self, sid: &AccountSid) -> Result<Vec<Account>, ServiceError> {
        Ok(self.store.account_family(sid).await?)
    }

    /// Applies `update`; `None` when there is no such account. A closed account's status
    /// never changes again (`AccountClosed`); closing an account deletes what it owns.
    pub async fn update_account(
        &self,
        sid: &AccountSid,
        update: &AccountUpdate,
    ) -> Result<Option<Account>, ServiceError> {
        let Some(current) = self.store.account(sid).await? else {
            return Ok(None);
        };
        if current.status == AccountStatus::Closed && update.status.is_some() {
            return Err(ServiceError::AccountClosed(sid.clone()));
        }
        Ok(self
            .store
            .update_account(sid, update, now_millis() / 1000)
            .await?)
    }

    pub async fn api_key(
        &self,
        account: &AccountSid,
        sid: &ApiKeySid,
    ) -> Result<Option<ApiKey>, ServiceError> {
        Ok(self.store.api_key(account, sid).await?)
    }

    /// Renames a key; `None` when the account has no such key.
    pub async fn rename_api_key(
        &self,
        account: &AccountSid,
        sid: &ApiKeySid,
        friendly_name: &str,
    ) -> Result<Option<ApiKey>, ServiceError> {
        Ok(self
            .store
            .rename_api_key(account, sid, friendly_name, now_millis() / 1000)
            .await?)
    }

    /// Deletes a key: it authenticates no request after this returns.
    pub async fn delete_api_key(
        &self,
        account: &AccountSid,
        sid: &ApiKeySid,
    ) -> Result<bool, ServiceError> {
        Ok(self.store.delete_api_key(account, sid).await?)
    }
}
