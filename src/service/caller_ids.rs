//! Outgoing caller IDs: fetch, list, rename, delete, and fixtures made through the control API.

use std::sync::Arc;

use super::{Service, ServiceError};
use crate::domain::caller_id::{CallerId, Cursor, FriendlyName, ListFilter, NewCallerId, Page};
use crate::domain::event::Event;
use crate::domain::sid::{AccountSid, CallerIdSid};
use crate::domain::time::now_millis;
use crate::domain::PhoneNumber;
use crate::store::StoreError;

impl Service {
    pub async fn caller_id(
        &self,
        account: &AccountSid,
        sid: &CallerIdSid,
    ) -> Result<Option<Arc<CallerId>>, ServiceError> {
        Ok(self.store.caller_id(account, sid).await?)
    }

    /// One page of `account`'s caller IDs. A token naming another account's caller ID is not
    /// a position in this list (a token whose row was deleted still is: it marks where the
    /// page ended).
    pub async fn list_caller_ids(
        &self,
        account: &AccountSid,
        filter: ListFilter<'_>,
        cursor: &Cursor,
        page_size: u32,
    ) -> Result<Page, ServiceError> {
        if let Cursor::After(sid) | Cursor::Before(sid) = cursor {
            if let Some(owner) = self.store.caller_id_owner(sid).await? {
                if &owner != account {
                    return Err(ServiceError::ForeignPageToken(sid.clone()));
                }
            }
        }
        Ok(self
            .store
            .list_caller_ids(account, filter, cursor, page_size)
            .await?)
    }

    /// Renames a caller ID; with no name, it is returned as it is.
    pub async fn rename_caller_id(
        &self,
        account: &AccountSid,
        sid: &CallerIdSid,
        name: Option<&FriendlyName>,
    ) -> Result<Option<Arc<CallerId>>, ServiceError> {
        let Some(name) = name else {
            return self.caller_id(account, sid).await;
        };
        let renamed = self
            .store
            .rename_caller_id(account, sid, name, now_millis() / 1000)
            .await?;
        if let Some(row) = &renamed {
            self.publish(|| vec![Event::CallerIdRenamed(row.clone())]);
        }
        Ok(renamed)
    }

    pub async fn delete_caller_id(
        &self,
        account: &AccountSid,
        sid: &CallerIdSid,
    ) -> Result<bool, ServiceError> {
        let deleted = self.store.delete_caller_id(account, sid).await?;
        if deleted {
            self.publish(|| {
                vec![Event::CallerIdDeleted {
                    account_sid: account.clone(),
                    sid: sid.clone(),
                }]
            });
        }
        Ok(deleted)
    }

    /// A verified caller ID made directly, as a fixture.
    pub async fn add_caller_id(
        &self,
        account: &AccountSid,
        phone: &PhoneNumber,
        friendly_name: FriendlyName,
    ) -> Result<Arc<CallerId>, ServiceError> {
        let new = NewCallerId {
            sid: CallerIdSid::generate(),
            account_sid: account.clone(),
            phone_number: phone.clone(),
            friendly_name,
            date_created: now_millis() / 1000,
        };
        let row = match self.store.insert_caller_id(new).await {
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::AlreadyVerified(phone.clone()))
            }
            other => other?,
        };
        self.publish(|| vec![Event::CallerIdCreated(row.clone())]);
        Ok(row)
    }
}
