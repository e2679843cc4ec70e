//! Accounts, API keys and the credentials they authenticate with.

use callerid_emulator::domain::account::Account;
use callerid_emulator::domain::call::Behavior;
use callerid_emulator::domain::sid::AccountSid;
use callerid_emulator::store::StoreError;

use super::fixtures::*;

contract_tests! {
    /// Configured accounts become exactly the set given: one configured earlier but not now is
    /// removed with its caller IDs; control-made accounts stay; a configured account's token
    /// follows the configuration.
    async fn sync_configured_accounts_makes_exactly_the_configured_set(b: Backend) {
        let s = &b.store;
        let (kept, dropped) = (account(true), account(true));
        s.sync_configured_accounts(&[kept.clone(), dropped.clone()])
            .await
            .expect("sync");
        let control = new_account(s).await;
        let kept_id = seed_caller_id(s, &kept.sid, &phone(1)).await;
        let dropped_id = seed_caller_id(s, &dropped.sid, &phone(1)).await;
        let control_id = seed_caller_id(s, &control, &phone(1)).await;
        s.set_behavior(&dropped.sid, &phone(2), Behavior::Busy)
            .await
            .expect("behavior");

        let stored = s
            .account(&kept.sid)
            .await
            .expect("account")
            .expect("kept exists");
        assert!(stored.configured);
        assert_eq!(stored.auth_token, kept.auth_token);

        let retokened = Account {
            auth_token: "a new token".into(),
            ..kept.clone()
        };
        s.sync_configured_accounts(std::slice::from_ref(&retokened))
            .await
            .expect("sync again");

        assert!(s.account(&dropped.sid).await.expect("account").is_none());
        assert!(s
            .caller_id(&dropped.sid, &dropped_id)
            .await
            .expect("get")
            .is_none());
        assert_eq!(s.caller_id_owner(&dropped_id).await.expect("owner"), None);
        assert!(listed(s, &dropped.sid).await.is_empty());
        assert_eq!(
            s.behavior(&dropped.sid, &phone(2)).await.expect("behavior"),
            None
        );
        assert!(s
            .credential(dropped.sid.as_str())
            .await
            .expect("credential")
            .is_none());

        let kept_now = s
            .account(&kept.sid)
            .await
            .expect("account")
            .expect("kept exists");
        assert_eq!(kept_now.auth_token, "a new token");
        assert!(kept_now.configured);
        let cred = s
            .credential(kept.sid.as_str())
            .await
            .expect("credential")
            .expect("some");
        assert_eq!(cred.secret, "a new token");
        assert_eq!(listed(s, &kept.sid).await, [kept_id]);

        let control_now = s
            .account(&control)
            .await
            .expect("account")
            .expect("control exists");
        assert!(!control_now.configured);
        assert_eq!(listed(s, &control).await, [control_id]);

        // No account configured at all: every configured one goes, control-made ones stay.
        s.sync_configured_accounts(&[]).await.expect("sync none");
        assert!(s.account(&kept.sid).await.expect("account").is_none());
        assert!(s.account(&control).await.expect("account").is_some());
    }

    /// Credentials of `AC…` and `SK…` usernames; anything else, or unknown, is `None`.
    async fn credential_of_account_and_key_usernames(b: Backend) {
        let s = &b.store;
        let a = account(false);
        s.create_account(&a).await.expect("create account");
        let key = api_key(&a.sid);
        s.create_api_key(&key).await.expect("create key");

        let by_account = s
            .credential(a.sid.as_str())
            .await
            .expect("credential")
            .expect("AC");
        assert_eq!(by_account.secret, a.auth_token);
        assert_eq!(by_account.account_sid, a.sid);
        let by_key = s
            .credential(key.sid.as_str())
            .await
            .expect("credential")
            .expect("SK");
        assert_eq!(by_key.secret, key.secret);
        assert_eq!(by_key.account_sid, a.sid);
        // Asked twice (the second may come from a cache): the same answer.
        let again = s
            .credential(key.sid.as_str())
            .await
            .expect("credential")
            .expect("SK");
        assert_eq!(
            (again.secret.as_str(), &again.account_sid),
            (key.secret.as_str(), &a.sid)
        );

        let unknown_ac = AccountSid::generate();
        let unknown_sk = api_key(&a.sid).sid;
        let upper = format!("AC{}", a.sid.as_str()[2..].to_ascii_uppercase());
        for user in [
            unknown_ac.as_str(),
            unknown_sk.as_str(),
            "",
            "nobody",
            "AC123",
            &a.sid.as_str()[..33],
            &format!("{}0", a.sid),
            &format!("PN{}", &a.sid.as_str()[2..]),
            &format!("CA{}", &key.sid.as_str()[2..]),
            &upper,
        ] {
            assert!(
                s.credential(user).await.expect("credential").is_none(),
                "credential({user:?}) should be None"
            );
        }
    }

    /// A credential read (and perhaps cached) before its account is deleted and made again
    /// is not served afterwards: not after the delete, not after the re-creation.
    async fn credentials_follow_account_and_key_changes(b: Backend) {
        let s = &b.store;
        let first = account(false);
        s.create_account(&first).await.expect("create");
        let key = api_key(&first.sid);
        s.create_api_key(&key).await.expect("key");
        for user in [first.sid.as_str(), key.sid.as_str()] {
            assert!(
                s.credential(user).await.expect("credential").is_some(),
                "{user}"
            );
        }

        assert!(s.delete_account(&first.sid).await.expect("delete"));
        for user in [first.sid.as_str(), key.sid.as_str()] {
            assert!(
                s.credential(user).await.expect("credential").is_none(),
                "{user} deleted"
            );
        }

        let second = Account {
            auth_token: "the second token".into(),
            ..first.clone()
        };
        s.create_account(&second).await.expect("create again");
        let cred = s
            .credential(first.sid.as_str())
            .await
            .expect("credential")
            .expect("some");
        assert_eq!(cred.secret, "the second token");
        // The key went with the first account.
        assert!(s
            .credential(key.sid.as_str())
            .await
            .expect("credential")
            .is_none());

        // A key made after its account's credential was read is found at once.
        let later = api_key(&first.sid);
        s.create_api_key(&later).await.expect("key");
        let cred = s
            .credential(later.sid.as_str())
            .await
            .expect("credential")
            .expect("some");
        assert_eq!(cred.secret, later.secret);
    }

    /// An account reads back as created; a second create of its sid is a conflict that
    /// changes nothing.
    async fn create_account_twice_is_a_conflict(b: Backend) {
        let s = &b.store;
        let a = account(false);
        assert!(s.account(&a.sid).await.expect("account").is_none());
        s.create_account(&a).await.expect("create");
        let stored = s.account(&a.sid).await.expect("account").expect("exists");
        assert_eq!(stored.sid, a.sid);
        assert_eq!(stored.auth_token, a.auth_token);
        assert_eq!(stored.friendly_name, a.friendly_name);
        assert_eq!(stored.date_created, a.date_created);
        assert!(!stored.configured);

        let again = Account {
            auth_token: "another token".into(),
            ..a.clone()
        };
        let err = s.create_account(&again).await.expect_err("second create");
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        let stored = s.account(&a.sid).await.expect("account").expect("exists");
        assert_eq!(stored.auth_token, a.auth_token);
    }

    /// Deleting an account removes its caller IDs, behaviours, calls and callbacks, and
    /// nothing of another account's; a second delete finds nothing.
    async fn delete_account_removes_what_it_owns(b: Backend) {
        let s = &b.store;
        let (gone, other) = (new_account(s).await, new_account(s).await);
        let mut owned = Vec::new();
        for a in [&gone, &other] {
            let id = seed_caller_id(s, a, &phone(1)).await;
            s.set_behavior(a, &phone(2), Behavior::Manual)
                .await
                .expect("behavior");
            let (pending, _) = Request::new(a, &phone(3)).queued(5).created(s).await;
            let ended = ended_call_with_callback(s, a, &phone(4), T0).await;
            owned.push((id, pending, ended));
        }
        assert_eq!(s.pending_calls().await.expect("pending"), 2);

        assert!(s.delete_account(&gone).await.expect("delete"));
        assert!(!s.delete_account(&gone).await.expect("delete again"));

        let (id, pending, ended) = &owned[0];
        assert!(s.account(&gone).await.expect("account").is_none());
        assert!(s.caller_id(&gone, id).await.expect("get").is_none());
        assert_eq!(s.caller_id_owner(id).await.expect("owner"), None);
        assert!(listed(s, &gone).await.is_empty());
        assert_eq!(s.behavior(&gone, &phone(2)).await.expect("behavior"), None);
        for call in [pending, ended] {
            assert_eq!(s.call(call).await.expect("call"), None);
            assert!(s.call_events(call).await.expect("events").is_empty());
        }
        assert!(s
            .callbacks(Some(&gone), None, 10)
            .await
            .expect("callbacks")
            .is_empty());
        assert!(callbacks_of(s, ended).await.is_empty());
        assert_eq!(s.pending_calls().await.expect("pending"), 1);

        let (id, pending, ended) = &owned[1];
        assert!(s.caller_id(&other, id).await.expect("get").is_some());
        assert_eq!(
            s.behavior(&other, &phone(2)).await.expect("b"),
            Some(Behavior::Manual)
        );
        assert!(s.call(pending).await.expect("call").is_some());
        assert_eq!(callbacks_of(s, ended).await.len(), 1);

        // The deleted account owns nothing any more, and nothing new can be stored for it.
        let err = s
            .insert_caller_id(new_caller_id(&gone, &phone(1), "x"))
            .await
            .expect_err("insert");
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
        assert!(!s
            .delete_account(&AccountSid::generate())
            .await
            .expect("delete unknown"));
    }

    /// An API key needs its account.
    async fn create_api_key_for_a_missing_account_is_not_found(b: Backend) {
        let s = &b.store;
        let key = api_key(&AccountSid::generate());
        let err = s.create_api_key(&key).await.expect_err("create key");
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
        assert!(s
            .credential(key.sid.as_str())
            .await
            .expect("credential")
            .is_none());
    }

    /// An account's keys are listed in creation order, secrets included; another account's
    /// are not, and an account without keys has none; deleting the account takes them.
    async fn api_keys_are_listed_per_account_in_creation_order(b: Backend) {
        let s = &b.store;
        let mine = new_account(s).await;
        let theirs = new_account(s).await;
        assert!(s.api_keys(&mine).await.expect("no keys").is_empty());
        let first = api_key(&mine);
        let second = api_key(&mine);
        let other = api_key(&theirs);
        for key in [&second, &other, &first] {
            s.create_api_key(key).await.expect("create key");
        }
        let listed = s.api_keys(&mine).await.expect("keys");
        let sids: Vec<&str> = listed.iter().map(|k| k.sid.as_str()).collect();
        assert_eq!(sids, [second.sid.as_str(), first.sid.as_str()]);
        assert_eq!(listed[1].secret, first.secret);
        assert_eq!(listed[1].account_sid, mine);
        assert_eq!(listed[1].friendly_name, first.friendly_name);
        assert_eq!(listed[1].date_created, first.date_created);
        assert!(s.delete_account(&mine).await.expect("delete"));
        assert!(s.api_keys(&mine).await.expect("keys").is_empty());
        assert_eq!(s.api_keys(&theirs).await.expect("keys").len(), 1);
    }
}
