//! The StatusCallback queue: claiming, requeueing, and resuming what a crash left `sending`.

use callerid_emulator::domain::call::Behavior;
use callerid_emulator::domain::callback::{Attempted, Callback, CallbackMethod, CallbackState};

use super::fixtures::*;

fn ids(claimed: &[Callback]) -> Vec<i64> {
    claimed.iter().map(|c| c.id).collect()
}

contract_tests! {
    /// Due callbacks are claimed soonest first, up to the limit, as `sending`; a claimed
    /// callback is not claimable again.
    async fn claimed_callbacks_are_sending_and_not_claimed_again(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        assert_eq!(s.next_callback_due().await.expect("next"), None);
        assert!(s
            .claim_due_callbacks(i64::MAX, 10)
            .await
            .expect("claim")
            .is_empty());
        let late = ended_call_with_callback(s, &a, &phone(1), T0 + 500).await;
        let early = ended_call_with_callback(s, &a, &phone(2), T0).await;
        assert_eq!(s.next_callback_due().await.expect("next"), Some(T0));
        assert!(s
            .claim_due_callbacks(T0 - 1, 10)
            .await
            .expect("claim")
            .is_empty());

        let first = s.claim_due_callbacks(T0 + 500, 1).await.expect("claim");
        assert_eq!(first.len(), 1);
        let cb = &first[0];
        assert_eq!((&cb.call_sid, &cb.account_sid), (&early, &a));
        assert_eq!(
            (cb.state, cb.attempts, cb.next_attempt_at),
            (CallbackState::Sending, 0, None)
        );
        assert_eq!(
            (cb.url.as_str(), cb.method, cb.created_at),
            (CALLBACK_URL, CallbackMethod::Post, T0)
        );
        assert_eq!(param(cb, "CallSid").as_deref(), Some(early.as_str()));
        assert_eq!(param(cb, "CallStatus").as_deref(), Some("busy"));
        assert!(!cb.idempotency_token.is_empty());
        let (journalled, _) = journal_of(s, &early).await;
        assert_eq!(
            (journalled.state, journalled.next_attempt_at),
            (CallbackState::Sending, None)
        );
        assert_eq!(journalled.params, cb.params);
        assert_eq!(s.next_callback_due().await.expect("next"), Some(T0 + 500));

        let second = s.claim_due_callbacks(T0 + 500, 10).await.expect("claim");
        assert_eq!(
            second.iter().map(|c| &c.call_sid).collect::<Vec<_>>(),
            [&late]
        );
        assert_ne!(second[0].idempotency_token, cb.idempotency_token);
        assert!(s
            .claim_due_callbacks(i64::MAX, 10)
            .await
            .expect("claim")
            .is_empty());
        assert_eq!(s.next_callback_due().await.expect("next"), None);
        assert_eq!(s.callback_counts().await.expect("counts").unsettled, 2);
    }

    /// A claimed callback put back is due again at the time given, with no attempt counted
    /// and the same idempotency token; a settled one is not put back.
    async fn requeued_callbacks_are_due_again(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let call = ended_call_with_callback(s, &a, &phone(1), T0).await;
        let claimed = s.claim_due_callbacks(T0, 10).await.expect("claim");
        let cb = &claimed[0];
        s.requeue_callback(cb.id, T0 + 2_000)
            .await
            .expect("requeue");
        let (journalled, attempts) = journal_of(s, &call).await;
        assert_eq!(
            (journalled.state, journalled.attempts),
            (CallbackState::Pending, 0)
        );
        assert_eq!(journalled.next_attempt_at, Some(T0 + 2_000));
        assert!(attempts.is_empty());
        assert_eq!(s.next_callback_due().await.expect("next"), Some(T0 + 2_000));
        assert!(s
            .claim_due_callbacks(T0 + 1_999, 10)
            .await
            .expect("claim")
            .is_empty());
        let again = s.claim_due_callbacks(T0 + 2_000, 10).await.expect("claim");
        assert_eq!(ids(&again), [cb.id]);
        assert_eq!(again[0].idempotency_token, cb.idempotency_token);

        // Delivered: a requeue does not bring it back.
        record(s,
            &attempt(cb, 1, T0 + 2_000, Some(200), None),
            CallbackState::Delivered,
            None,
        )
        .await
        .expect("record");
        s.requeue_callback(cb.id, T0 + 3_000)
            .await
            .expect("requeue");
        let (journalled, _) = journal_of(s, &call).await;
        assert_eq!(
            (journalled.state, journalled.next_attempt_at),
            (CallbackState::Delivered, None)
        );
        assert_eq!(s.next_callback_due().await.expect("next"), None);
        // An unknown id is no error.
        s.requeue_callback(cb.id + 1_000, T0)
            .await
            .expect("requeue unknown");
    }

    /// Resuming interrupted callbacks requeues every `sending` one, due at the time given,
    /// with its idempotency token; pending and settled ones are left alone.
    async fn resume_requeues_what_was_left_sending(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        assert_eq!(s.resume_interrupted_callbacks(T0).await.expect("resume"), 0);
        let sending = ended_call_with_callback(s, &a, &phone(1), T0).await;
        let delivered = ended_call_with_callback(s, &a, &phone(2), T0 + 1).await;
        let pending = ended_call_with_callback(s, &a, &phone(3), T0 + 10_000).await;
        let claimed = s.claim_due_callbacks(T0 + 1, 10).await.expect("claim");
        assert_eq!(claimed.len(), 2);
        let done = claimed
            .iter()
            .find(|c| c.call_sid == delivered)
            .expect("claimed");
        record(s,
            &attempt(done, 1, T0 + 2, Some(200), None),
            CallbackState::Delivered,
            None,
        )
        .await
        .expect("record");
        let left = claimed
            .iter()
            .find(|c| c.call_sid == sending)
            .expect("claimed")
            .clone();

        assert_eq!(
            s.resume_interrupted_callbacks(T0 + 50)
                .await
                .expect("resume"),
            1
        );
        assert_eq!(
            s.resume_interrupted_callbacks(T0 + 60)
                .await
                .expect("resume"),
            0
        );
        let (cb, attempts) = journal_of(s, &sending).await;
        assert_eq!(
            (cb.state, cb.next_attempt_at, cb.attempts),
            (CallbackState::Pending, Some(T0 + 50), 0)
        );
        assert!(attempts.is_empty());
        assert_eq!(
            journal_of(s, &delivered).await.0.state,
            CallbackState::Delivered
        );
        assert_eq!(
            journal_of(s, &pending).await.0.next_attempt_at,
            Some(T0 + 10_000)
        );
        let again = s.claim_due_callbacks(T0 + 50, 10).await.expect("claim");
        assert_eq!(ids(&again), [left.id]);
        assert_eq!(again[0].idempotency_token, left.idempotency_token);
    }

    /// A validation request can store its own callback already claimed, for the caller to
    /// deliver: it comes back in `CreatedCall`, `sending`, never claimable, unsettled, and
    /// after a crash it is resumed like any callback left `sending`, with the same token.
    async fn a_callback_stored_claimed_is_handed_back_and_resumed_after_a_crash(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let mut new = Request::new(&a, &phone(7))
            .behavior(Behavior::Busy)
            .with_callback()
            .plan();
        new.claim_callback = true;
        let sid = new.change.to.sid.clone();
        let created = s.create_call(new).await.expect("created");
        let handed = created.callback.expect("the callback handed back");
        assert_eq!(
            (&handed.call_sid, handed.state, handed.next_attempt_at),
            (&sid, CallbackState::Sending, None)
        );
        assert_eq!(param(&handed, "CallStatus").as_deref(), Some("busy"));
        assert!(s
            .claim_due_callbacks(i64::MAX, 10)
            .await
            .expect("claim")
            .is_empty());
        let (journalled, _) = journal_of(s, &sid).await;
        assert_eq!(journalled.id, handed.id);
        assert_eq!(journalled.idempotency_token, handed.idempotency_token);
        assert_eq!(journalled.state, CallbackState::Sending);
        assert_eq!(s.callback_counts().await.expect("counts").unsettled, 1);
        assert_eq!(s.resume_interrupted_callbacks(T0).await.expect("resume"), 1);
        let again = s.claim_due_callbacks(T0, 10).await.expect("claim");
        assert_eq!(ids(&again), [handed.id]);
        assert_eq!(again[0].idempotency_token, handed.idempotency_token);
    }

    /// An attempt of a callback deleted while it was being delivered (its account deleted, or
    /// a reset) is dropped without an error, and the attempts recorded with it still are.
    async fn an_attempt_of_a_deleted_callback_is_dropped_and_the_others_kept(b: Backend) {
        let s = &b.store;
        let gone_account = new_account(s).await;
        ended_call_with_callback(s, &gone_account, &phone(8), T0).await;
        let a = new_account(s).await;
        let kept_call = ended_call_with_callback(s, &a, &phone(9), T0).await;
        let claimed = s.claim_due_callbacks(T0, 10).await.expect("claim");
        assert_eq!(claimed.len(), 2);
        assert!(s.delete_account(&gone_account).await.expect("delete"));
        let (gone, kept): (Vec<_>, Vec<_>) =
            claimed.iter().partition(|cb| cb.account_sid == gone_account);
        let attempts: Vec<Attempted> = [(gone[0], 200), (kept[0], 204)]
            .into_iter()
            .map(|(cb, status)| Attempted {
                attempt: attempt(cb, 1, T0 + 5, Some(status), None),
                state: CallbackState::Delivered,
                next_attempt_at: None,
            })
            .collect();
        s.record_attempts(&attempts)
            .await
            .expect("recorded without the deleted callback's attempt");
        let (journalled, recorded) = journal_of(s, &kept_call).await;
        assert_eq!(journalled.state, CallbackState::Delivered);
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].status_code, Some(204));
        assert!(s
            .callbacks(Some(&gone_account), None, 10)
            .await
            .expect("journal")
            .is_empty());
    }
}
