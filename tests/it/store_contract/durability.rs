//! What survives a restart or a crash: only for backends whose database outlives its
//! connection (`Backend::survives_reopen`); the others say they skip. Checked through the
//! store again, not by reading tables.

use callerid_emulator::domain::call::{Behavior, CallStatus};
use callerid_emulator::domain::callback::CallbackState;
use callerid_emulator::domain::caller_id::{Cursor, ListFilter};

use super::fixtures::*;
use super::Stop;

contract_tests! {
    /// A callback claimed when the process died (no attempt recorded) is still `sending`
    /// after the restart, so nothing claims it until `resume_interrupted_callbacks` puts it
    /// back; then it is claimable with the same idempotency token.
    async fn a_callback_claimed_before_a_crash_is_sent_again(b: Backend) {
        let a = new_account(&b.store).await;
        let call = ended_call_with_callback(&b.store, &a, &phone(1), T0).await;
        let claimed = b.store.claim_due_callbacks(T0, 10).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        let before = claimed[0].clone();
        assert_eq!(before.state, CallbackState::Sending);

        let Some(b) = b.restart(Stop::Crash, "a crash").await else {
            return;
        };
        let s = &b.store;
        let found = s.callbacks(None, Some(&call), 10).await.expect("journal");
        assert_eq!(found.len(), 1);
        let (cb, attempts) = &found[0];
        assert_eq!(
            (cb.id, cb.state, cb.attempts),
            (before.id, CallbackState::Sending, 0)
        );
        assert!(attempts.is_empty());
        assert!(s
            .claim_due_callbacks(i64::MAX, 10)
            .await
            .expect("claim")
            .is_empty());

        let now = T0 + 60_000;
        assert_eq!(
            s.resume_interrupted_callbacks(now).await.expect("resume"),
            1
        );
        assert_eq!(s.next_callback_due().await.expect("next"), Some(now));
        let again = s.claim_due_callbacks(now, 10).await.expect("claim");
        assert_eq!(again.len(), 1);
        let cb = &again[0];
        assert_eq!(
            (cb.id, cb.state, cb.attempts),
            (before.id, CallbackState::Sending, 0)
        );
        assert_eq!(cb.idempotency_token, before.idempotency_token);
        assert_eq!((&cb.url, &cb.params), (&before.url, &before.params));
    }

    /// Everything committed reads back the same after a clean restart: accounts, keys,
    /// caller IDs (renamed ones with their new name), behaviours, pending calls and their
    /// timelines, callbacks; the already-verified rule holds across it.
    async fn committed_state_survives_a_restart(b: Backend) {
        let s = &b.store;
        let configured = account(true);
        s.sync_configured_accounts(std::slice::from_ref(&configured))
            .await
            .expect("sync");
        let a = new_account(s).await;
        let key = api_key(&a);
        s.create_api_key(&key).await.expect("key");
        let mut ids = Vec::new();
        for n in 1..=3 {
            ids.push(seed_caller_id(s, &a, &phone(n)).await);
        }
        s.rename_caller_id(&a, &ids[1], &name("renamed"), T0 / 1000 + 5)
            .await
            .expect("rename");
        s.set_behavior(&a, &phone(9), Behavior::Manual)
            .await
            .expect("behavior");
        let (pending, _) = Request::new(&a, &phone(7)).queued(5).created(s).await;
        let verified = Request::new(&a, &phone(8)).with_callback().created(s).await;
        let pending_call = call(s, &pending).await;
        let events = s.call_events(&verified.0).await.expect("events");

        let Some(b) = b.restart(Stop::Close, "a restart").await else {
            return;
        };
        let s = &b.store;
        assert!(
            s.account(&configured.sid)
                .await
                .expect("account")
                .expect("kept")
                .configured
        );
        let cred = s
            .credential(key.sid.as_str())
            .await
            .expect("cred")
            .expect("key");
        assert_eq!(
            (cred.secret.as_str(), &cred.account_sid),
            (key.secret.as_str(), &a)
        );
        let made = verified.1.caller_id.expect("verified at creation");
        let mut all = ids.clone();
        all.push(made.sid.clone());
        assert_eq!(listed(s, &a).await, all);
        let renamed = s
            .caller_id(&a, &ids[1])
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(
            (renamed.friendly_name.as_str(), renamed.date_updated),
            ("renamed", T0 / 1000 + 5)
        );
        let by_name = ListFilter {
            friendly_name: Some("renamed"),
            ..ListFilter::default()
        };
        let page = s
            .list_caller_ids(&a, by_name, &Cursor::Start, 10)
            .await
            .expect("list");
        assert_eq!(
            page.rows.iter().map(|r| &r.sid).collect::<Vec<_>>(),
            [&ids[1]]
        );
        assert_eq!(
            s.caller_id_owner(&ids[0]).await.expect("owner"),
            Some(a.clone())
        );
        assert_eq!(
            s.behavior(&a, &phone(9)).await.expect("b"),
            Some(Behavior::Manual)
        );

        assert_eq!(call(s, &pending).await, pending_call);
        assert_eq!(s.pending_calls().await.expect("pending"), 1);
        assert_eq!(s.next_call_due().await.expect("next"), Some(T0 + 5_000));
        assert_eq!(call(s, &verified.0).await.status, CallStatus::Completed);
        assert_eq!(s.call_events(&verified.0).await.expect("events"), events);
        assert_eq!(callbacks_of(s, &verified.0).await.len(), 1);

        let again = s
            .insert_caller_id(new_caller_id(&a, &phone(1), "again"))
            .await;
        assert!(
            matches!(
                again,
                Err(callerid_emulator::store::StoreError::Conflict(_))
            ),
            "{again:?}"
        );
        let (_, call_again) = Request::new(&a, &phone(8)).create(s).await;
        assert!(
            matches!(
                call_again,
                Err(callerid_emulator::store::StoreError::Conflict(_))
            ),
            "{call_again:?}"
        );
    }
}
