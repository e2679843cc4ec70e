//! Caller IDs one at a time (insert, fetch, owner, rename, delete) and callee behaviours.

use callerid_emulator::domain::call::Behavior;
use callerid_emulator::domain::caller_id::{Cursor, ListFilter};
use callerid_emulator::domain::sid::{AccountSid, CallerIdSid};
use callerid_emulator::store::StoreError;

use super::fixtures::*;

contract_tests! {
    /// A caller ID reads back as inserted, from its own account only.
    async fn insert_then_fetch_from_the_own_account_only(b: Backend) {
        let s = &b.store;
        let (mine, theirs) = (new_account(s).await, new_account(s).await);
        let new = new_caller_id(&mine, &phone(1), "Front desk");
        let sid = new.sid.clone();
        let made = s.insert_caller_id(new).await.expect("insert");
        assert_eq!(made.sid, sid);
        assert_eq!(made.account_sid, mine);
        assert_eq!(made.phone_number, phone(1));
        assert_eq!(made.friendly_name.as_str(), "Front desk");
        assert_eq!(
            (made.date_created, made.date_updated),
            (T0 / 1000, T0 / 1000)
        );

        let got = s
            .caller_id(&mine, &sid)
            .await
            .expect("get")
            .expect("own account");
        assert_eq!(
            (
                &got.sid,
                &got.account_sid,
                &got.phone_number,
                got.friendly_name.as_str()
            ),
            (&sid, &mine, &phone(1), "Front desk")
        );
        assert_eq!((got.date_created, got.date_updated), (T0 / 1000, T0 / 1000));
        assert!(s.caller_id(&theirs, &sid).await.expect("get").is_none());
        assert!(s
            .caller_id(&AccountSid::generate(), &sid)
            .await
            .expect("get")
            .is_none());
        assert!(s
            .caller_id(&mine, &CallerIdSid::generate())
            .await
            .expect("get")
            .is_none());

        assert_eq!(
            s.caller_id_owner(&sid).await.expect("owner"),
            Some(mine.clone())
        );
        assert_eq!(
            s.caller_id_owner(&CallerIdSid::generate())
                .await
                .expect("owner"),
            None
        );
        assert_eq!(listed(s, &mine).await, [sid]);
        assert!(listed(s, &theirs).await.is_empty());
    }

    /// One caller ID per number per account: the same number again on the account is a
    /// conflict (whatever its sid and name); on another account it is fine.
    async fn a_number_is_verified_once_per_account(b: Backend) {
        let s = &b.store;
        let (mine, theirs) = (new_account(s).await, new_account(s).await);
        let first = seed_caller_id(s, &mine, &phone(1)).await;
        let err = s
            .insert_caller_id(new_caller_id(&mine, &phone(1), "again"))
            .await
            .expect_err("same number, same account");
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(listed(s, &mine).await, vec![first.clone()]);

        let other = seed_caller_id(s, &theirs, &phone(1)).await;
        assert_ne!(other, first);
        assert_eq!(listed(s, &theirs).await, [other]);
        // Another number on the same account is fine too.
        seed_caller_id(s, &mine, &phone(2)).await;
        assert_eq!(listed(s, &mine).await.len(), 2);

        // A caller ID needs its account.
        let err = s
            .insert_caller_id(new_caller_id(&AccountSid::generate(), &phone(1), "x"))
            .await
            .expect_err("missing account");
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    }

    /// A rename changes the name and date_updated (not date_created), and moves the row
    /// from the old name's filter to the new one's; another account cannot rename it.
    async fn rename_changes_the_name_and_date_updated(b: Backend) {
        let s = &b.store;
        let (mine, theirs) = (new_account(s).await, new_account(s).await);
        let new = new_caller_id(&mine, &phone(1), "old name");
        let sid = new.sid.clone();
        s.insert_caller_id(new).await.expect("insert");
        let later = T0 / 1000 + 60;

        let renamed = s
            .rename_caller_id(&mine, &sid, &name("new name"), later)
            .await
            .expect("rename")
            .expect("renamed");
        assert_eq!(renamed.sid, sid);
        assert_eq!(renamed.friendly_name.as_str(), "new name");
        assert_eq!(renamed.phone_number, phone(1));
        assert_eq!(
            (renamed.date_created, renamed.date_updated),
            (T0 / 1000, later)
        );

        let got = s
            .caller_id(&mine, &sid)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(got.friendly_name.as_str(), "new name");
        assert_eq!((got.date_created, got.date_updated), (T0 / 1000, later));
        let by_name = |n: &'static str| ListFilter {
            friendly_name: Some(n),
            ..ListFilter::default()
        };
        let old = s
            .list_caller_ids(&mine, by_name("old name"), &Cursor::Start, 50)
            .await;
        assert!(
            old.expect("list").rows.is_empty(),
            "the old name no longer matches"
        );
        let new = s
            .list_caller_ids(&mine, by_name("new name"), &Cursor::Start, 50)
            .await;
        let rows = new.expect("list").rows;
        assert_eq!(rows.iter().map(|r| &r.sid).collect::<Vec<_>>(), [&sid]);
        assert_eq!(rows[0].friendly_name.as_str(), "new name");
        // Still one row for the number, and the number still taken.
        assert_eq!(
            listed_with_number(s, &mine, &phone(1)).await,
            vec![sid.clone()]
        );
        let err = s
            .insert_caller_id(new_caller_id(&mine, &phone(1), "x"))
            .await;
        assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");

        // Not another account's, nor an unknown sid.
        let theirs_try = s
            .rename_caller_id(&theirs, &sid, &name("hijack"), later + 1)
            .await;
        assert!(theirs_try.expect("rename").is_none());
        let unknown = s
            .rename_caller_id(&mine, &CallerIdSid::generate(), &name("x"), later)
            .await;
        assert!(unknown.expect("rename").is_none());
        let got = s
            .caller_id(&mine, &sid)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(
            (got.friendly_name.as_str(), got.date_updated),
            ("new name", later)
        );
    }

    /// A delete removes the row once (from its own account only) and frees its number.
    async fn delete_removes_once_and_frees_the_number(b: Backend) {
        let s = &b.store;
        let (mine, theirs) = (new_account(s).await, new_account(s).await);
        let sid = seed_caller_id(s, &mine, &phone(1)).await;
        let kept = seed_caller_id(s, &mine, &phone(2)).await;

        assert!(!s
            .delete_caller_id(&theirs, &sid)
            .await
            .expect("delete as another account"));
        assert!(s.caller_id(&mine, &sid).await.expect("get").is_some());

        assert!(s.delete_caller_id(&mine, &sid).await.expect("delete"));
        assert!(!s.delete_caller_id(&mine, &sid).await.expect("delete again"));
        assert!(s.caller_id(&mine, &sid).await.expect("get").is_none());
        assert_eq!(s.caller_id_owner(&sid).await.expect("owner"), None);
        assert_eq!(listed(s, &mine).await, vec![kept.clone()]);
        assert!(listed_with_number(s, &mine, &phone(1)).await.is_empty());

        let again = seed_caller_id(s, &mine, &phone(1)).await;
        assert_eq!(listed(s, &mine).await, [kept, again]);
    }

    /// A behaviour is set per account and number, and can be changed.
    async fn behaviours_are_per_account_and_number(b: Backend) {
        let s = &b.store;
        let (mine, theirs) = (new_account(s).await, new_account(s).await);
        assert_eq!(s.behavior(&mine, &phone(1)).await.expect("behavior"), None);
        s.set_behavior(&mine, &phone(1), Behavior::Busy)
            .await
            .expect("set");
        assert_eq!(
            s.behavior(&mine, &phone(1)).await.expect("b"),
            Some(Behavior::Busy)
        );
        assert_eq!(s.behavior(&mine, &phone(2)).await.expect("behavior"), None);
        assert_eq!(
            s.behavior(&theirs, &phone(1)).await.expect("behavior"),
            None
        );

        for behavior in Behavior::ALL {
            s.set_behavior(&mine, &phone(1), behavior)
                .await
                .expect("set again");
            assert_eq!(
                s.behavior(&mine, &phone(1)).await.expect("b"),
                Some(behavior)
            );
        }
        s.set_behavior(&theirs, &phone(1), Behavior::NoAnswer)
            .await
            .expect("set");
        assert_eq!(
            s.behavior(&mine, &phone(1)).await.expect("b"),
            Some(Behavior::Manual)
        );
        assert_eq!(
            s.behavior(&theirs, &phone(1)).await.expect("b"),
            Some(Behavior::NoAnswer)
        );

        let missing = AccountSid::generate();
        let err = s.set_behavior(&missing, &phone(1), Behavior::Busy).await;
        assert!(matches!(err, Err(StoreError::NotFound(_))), "{err:?}");
        assert_eq!(
            s.behavior(&missing, &phone(1)).await.expect("behavior"),
            None
        );
    }

    /// A call planned assuming no behaviour is set for its number is stored only while none
    /// is: with one set, nothing is written and the store says so.
    async fn a_call_planned_without_a_behaviour_is_refused_once_one_is_set(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let mut plan = Request::new(&a, &phone(1)).plan();
        plan.assumes_no_behavior = true;
        let sid = plan.change.to.sid.clone();
        s.create_call(plan).await.expect("no behaviour set: stored");
        assert!(s.call(&sid).await.expect("call").is_some());

        s.set_behavior(&a, &phone(2), Behavior::CorrectCode)
            .await
            .expect("set");
        let mut plan = Request::new(&a, &phone(2)).plan();
        plan.assumes_no_behavior = true;
        let sid = plan.change.to.sid.clone();
        let refused = s.create_call(plan).await;
        assert!(matches!(refused, Err(StoreError::BehaviorSet)), "{refused:?}");
        assert!(s.call(&sid).await.expect("call").is_none(), "nothing written");
        assert!(listed_with_number(s, &a, &phone(2)).await.is_empty());
    }
}
