//! Subaccounts, account status and key kinds (Issue 13): the family of an account, updates
//! and what closing deletes, a key's fetch, rename and delete, and the credential's account
//! facts that decide access.

use callerid_emulator::domain::account::{Account, AccountStatus, AccountUpdate, KeyKind};
use callerid_emulator::domain::call::Behavior;
use callerid_emulator::domain::sid::AccountSid;
use callerid_emulator::store::StoreError;

use super::fixtures::*;

/// A subaccount of `owner`, stored.
async fn new_subaccount(store: &callerid_emulator::store::Store, owner: &AccountSid) -> Account {
    let sub = Account {
        owner_account_sid: Some(owner.clone()),
        ..account(false)
    };
    store.create_account(&sub).await.expect("create subaccount");
    sub
}

contract_tests! {
    /// The family is the account and its subaccounts in sid order; a subaccount's family is
    /// itself; each account reads back with its owner, status and dates.
    async fn account_family_is_the_account_and_its_subaccounts(b: Backend) {
        let s = &b.store;
        let parent = new_account(s).await;
        let other = new_account(s).await;
        let first = new_subaccount(s, &parent).await;
        let second = new_subaccount(s, &parent).await;
        new_subaccount(s, &other).await;

        let family: Vec<AccountSid> = s
            .account_family(&parent)
            .await
            .expect("family")
            .into_iter()
            .map(|a| a.sid)
            .collect();
        let mut expected = vec![parent.clone(), first.sid.clone(), second.sid.clone()];
        expected.sort();
        assert_eq!(family, expected);
        let own: Vec<AccountSid> = s
            .account_family(&first.sid)
            .await
            .expect("family")
            .into_iter()
            .map(|a| a.sid)
            .collect();
        assert_eq!(own, vec![first.sid.clone()]);
        assert!(s.account_family(&AccountSid::generate()).await.expect("family").is_empty());

        let stored = s.account(&first.sid).await.expect("account").expect("exists");
        assert_eq!(stored.owner_account_sid.as_ref(), Some(&parent));
        assert_eq!(stored.status, AccountStatus::Active);
        assert_eq!(stored.date_updated, first.date_updated);
        assert!(!stored.configured);
        let main = s.account(&parent).await.expect("account").expect("exists");
        assert_eq!(main.owner_account_sid, None);
    }

    /// A subaccount of an account that does not exist is refused.
    async fn a_subaccount_needs_its_owner(b: Backend) {
        let s = &b.store;
        let orphan = Account {
            owner_account_sid: Some(AccountSid::generate()),
            ..account(false)
        };
        let err = s.create_account(&orphan).await.expect_err("no owner");
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
        assert!(s.account(&orphan.sid).await.expect("account").is_none());
    }

    /// Deleting a parent deletes its subaccounts and what they own.
    async fn deleting_a_parent_deletes_its_subaccounts(b: Backend) {
        let s = &b.store;
        let parent = new_account(s).await;
        let sub = new_subaccount(s, &parent).await;
        let id = seed_caller_id(s, &sub.sid, &phone(1)).await;
        assert!(s.delete_account(&parent).await.expect("delete"));
        assert!(s.account(&sub.sid).await.expect("account").is_none());
        assert!(s.caller_id(&sub.sid, &id).await.expect("get").is_none());
        assert!(listed(s, &sub.sid).await.is_empty());
        assert!(s.credential(sub.sid.as_str()).await.expect("credential").is_none());
    }

    /// Updates set the name and status and move `date_updated`; closing deletes what the
    /// account owns and keeps the account; unknown accounts are `None`.
    async fn update_account_renames_suspends_and_closes(b: Backend) {
        let s = &b.store;
        let parent = new_account(s).await;
        let sub = new_subaccount(s, &parent).await;
        let later = sub.date_created + 60;
        let renamed = s
            .update_account(&sub.sid, &AccountUpdate { friendly_name: Some("renamed".into()), status: None }, later)
            .await
            .expect("update")
            .expect("exists");
        assert_eq!(renamed.friendly_name, "renamed");
        assert_eq!(renamed.status, AccountStatus::Active);
        assert_eq!((renamed.date_created, renamed.date_updated), (sub.date_created, later));

        let suspended = s
            .update_account(&sub.sid, &AccountUpdate { friendly_name: None, status: Some(AccountStatus::Suspended) }, later)
            .await
            .expect("update")
            .expect("exists");
        assert_eq!(suspended.status, AccountStatus::Suspended);
        assert_eq!(suspended.friendly_name, "renamed");
        let cred = s.credential(sub.sid.as_str()).await.expect("credential").expect("some");
        assert_eq!(cred.status, AccountStatus::Suspended);
        assert!(!cred.is_active());

        let key = api_key(&sub.sid);
        s.create_api_key(&key).await.expect("key");
        let id = seed_caller_id(s, &sub.sid, &phone(1)).await;
        s.set_behavior(&sub.sid, &phone(2), Behavior::Busy).await.expect("behavior");
        let (call, _) = Request::new(&sub.sid, &phone(3)).queued(60_000).created(s).await;
        let closed = s
            .update_account(&sub.sid, &AccountUpdate { friendly_name: None, status: Some(AccountStatus::Closed) }, later)
            .await
            .expect("update")
            .expect("exists");
        assert_eq!(closed.status, AccountStatus::Closed);
        assert!(s.caller_id(&sub.sid, &id).await.expect("get").is_none());
        assert!(listed(s, &sub.sid).await.is_empty());
        assert_eq!(s.behavior(&sub.sid, &phone(2)).await.expect("behavior"), None);
        assert!(s.call(&call).await.expect("call").is_none());
        assert!(s.api_keys(&sub.sid).await.expect("keys").is_empty());
        assert!(s.credential(key.sid.as_str()).await.expect("credential").is_none());
        assert_eq!(
            s.account(&sub.sid).await.expect("account").map(|a| a.status),
            Some(AccountStatus::Closed)
        );
        // The parent keeps what it has.
        let parent_id = seed_caller_id(s, &parent, &phone(1)).await;
        assert_eq!(listed(s, &parent).await, [parent_id]);

        let none = s
            .update_account(&AccountSid::generate(), &AccountUpdate::default(), later)
            .await
            .expect("update");
        assert!(none.is_none());
    }

    /// A subaccount's credential carries its parent and the parent's status; a key's carries
    /// its kind; an auth token's none.
    async fn credentials_carry_owner_status_and_key_kind(b: Backend) {
        let s = &b.store;
        let parent = new_account(s).await;
        let sub = new_subaccount(s, &parent).await;
        let main_key = callerid_emulator::domain::account::ApiKey { kind: KeyKind::Main, ..api_key(&sub.sid) };
        s.create_api_key(&main_key).await.expect("key");

        let by_token = s.credential(sub.sid.as_str()).await.expect("credential").expect("some");
        assert_eq!(by_token.key, None);
        assert_eq!(by_token.owner_account_sid.as_ref(), Some(&parent));
        assert_eq!(by_token.owner_status, Some(AccountStatus::Active));
        assert!(by_token.is_active());
        let by_key = s.credential(main_key.sid.as_str()).await.expect("credential").expect("some");
        assert_eq!(by_key.key, Some(KeyKind::Main));
        assert_eq!(by_key.account_sid, sub.sid);

        // Suspending the parent shows on the subaccount's credential at once.
        s.update_account(&parent, &AccountUpdate { friendly_name: None, status: Some(AccountStatus::Suspended) }, 0)
            .await
            .expect("update");
        let after = s.credential(main_key.sid.as_str()).await.expect("credential").expect("some");
        assert_eq!(after.owner_status, Some(AccountStatus::Suspended));
        assert!(!after.is_active());
        let main = s.credential(parent.as_str()).await.expect("credential").expect("some");
        assert_eq!((main.owner_account_sid.as_ref(), main.owner_status), (None, None));
        assert_eq!(main.status, AccountStatus::Suspended);
    }

    /// A key is fetched, renamed and deleted only through its own account; once deleted it
    /// authenticates nothing, even if its credential was read (and cached) just before.
    async fn keys_are_fetched_renamed_and_deleted_by_their_account(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let other = new_account(s).await;
        let key = api_key(&a);
        s.create_api_key(&key).await.expect("key");

        let fetched = s.api_key(&a, &key.sid).await.expect("key").expect("some");
        assert_eq!((fetched.secret.as_str(), fetched.kind), (key.secret.as_str(), KeyKind::Standard));
        assert!(s.api_key(&other, &key.sid).await.expect("key").is_none());

        assert!(s.rename_api_key(&other, &key.sid, "x", 5).await.expect("rename").is_none());
        let renamed = s.rename_api_key(&a, &key.sid, "renamed", key.date_created + 5).await.expect("rename").expect("some");
        assert_eq!(renamed.friendly_name, "renamed");
        assert_eq!(renamed.date_updated, key.date_created + 5);
        assert_eq!(renamed.date_created, key.date_created);
        assert_eq!(renamed.secret, key.secret);

        assert!(s.credential(key.sid.as_str()).await.expect("credential").is_some());
        assert!(!s.delete_api_key(&other, &key.sid).await.expect("delete"));
        assert!(s.delete_api_key(&a, &key.sid).await.expect("delete"));
        assert!(s.credential(key.sid.as_str()).await.expect("credential").is_none());
        assert!(s.api_key(&a, &key.sid).await.expect("key").is_none());
        assert!(!s.delete_api_key(&a, &key.sid).await.expect("delete again"));
    }
}
