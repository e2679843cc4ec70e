//! The StatusCallback journal: attempts and the state they leave, the journal's filters, and
//! the counts by state.

use callerid_emulator::domain::callback::{Attempted, Callback, CallbackAttempt, CallbackState};
use callerid_emulator::domain::sid::{AccountSid, CallSid};

use super::fixtures::*;

contract_tests! {
    /// Each attempt is recorded with the callback's new state: retried, then delivered; the
    /// journal shows the attempts in order, and the counts follow.
    async fn attempts_are_recorded_with_the_new_state(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let call = ended_call_with_callback(s, &a, &phone(1), T0).await;
        let cb = s
            .claim_due_callbacks(T0, 10)
            .await
            .expect("claim")
            .remove(0);
        let first = attempt(&cb, 1, T0 + 10, Some(500), Some("HTTP 500"));
        record(s, &first, CallbackState::Pending, Some(T0 + 1_000))
            .await
            .expect("record");
        let (journalled, attempts) = journal_of(s, &call).await;
        assert_eq!(
            (
                journalled.state,
                journalled.attempts,
                journalled.next_attempt_at
            ),
            (CallbackState::Pending, 1, Some(T0 + 1_000))
        );
        assert_eq!(attempts.len(), 1);
        assert_eq!(s.next_callback_due().await.expect("next"), Some(T0 + 1_000));
        assert_eq!(s.callback_counts().await.expect("counts").unsettled, 1);

        let retried = s
            .claim_due_callbacks(T0 + 1_000, 10)
            .await
            .expect("claim")
            .remove(0);
        assert_eq!((retried.id, retried.attempts), (cb.id, 1));
        assert_eq!(retried.idempotency_token, cb.idempotency_token);
        let second = attempt(&cb, 2, T0 + 1_020, Some(204), None);
        record(s, &second, CallbackState::Delivered, None)
            .await
            .expect("record");

        let (journalled, attempts) = journal_of(s, &call).await;
        assert_eq!(
            (
                journalled.state,
                journalled.attempts,
                journalled.next_attempt_at
            ),
            (CallbackState::Delivered, 2, None)
        );
        let seen: Vec<_> = attempts
            .iter()
            .map(|t| {
                (
                    t.callback_id,
                    t.attempt,
                    t.at,
                    t.status_code,
                    t.latency_ms,
                    t.error.as_deref(),
                    t.signature.as_str(),
                    t.url.as_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    cb.id,
                    1,
                    T0 + 10,
                    Some(500),
                    11,
                    Some("HTTP 500"),
                    "signature 1",
                    CALLBACK_URL
                ),
                (
                    cb.id,
                    2,
                    T0 + 1_020,
                    Some(204),
                    12,
                    None,
                    "signature 2",
                    CALLBACK_URL
                ),
            ]
        );
        assert_eq!(s.next_callback_due().await.expect("next"), None);

        // Another gives up after a timeout with no status at all.
        let other = ended_call_with_callback(s, &a, &phone(2), T0).await;
        let cb2 = s
            .claim_due_callbacks(T0, 10)
            .await
            .expect("claim")
            .remove(0);
        assert_eq!(cb2.call_sid, other);
        record(s,
            &attempt(&cb2, 1, T0 + 5, None, Some("timed out")),
            CallbackState::Failed,
            None,
        )
        .await
        .expect("record");
        let (journalled, attempts) = journal_of(s, &other).await;
        assert_eq!(
            (journalled.state, journalled.attempts),
            (CallbackState::Failed, 1)
        );
        assert_eq!(
            (attempts[0].status_code, attempts[0].error.as_deref()),
            (None, Some("timed out"))
        );

        let counts = s.callback_counts().await.expect("counts");
        assert_eq!(
            (counts.delivered, counts.failed, counts.unsettled),
            (1, 1, 0)
        );
    }

    /// The journal is newest first, filtered by account and/or call, up to the limit.
    async fn the_journal_filters_by_account_and_call(b: Backend) {
        let s = &b.store;
        let (a, other) = (new_account(s).await, new_account(s).await);
        let a1 = ended_call_with_callback(s, &a, &phone(1), T0).await;
        let o1 = ended_call_with_callback(s, &other, &phone(1), T0 + 1).await;
        let a2 = ended_call_with_callback(s, &a, &phone(2), T0 + 2).await;
        let calls = |found: Vec<(Callback, Vec<CallbackAttempt>)>| {
            found
                .into_iter()
                .map(|(cb, _)| cb.call_sid)
                .collect::<Vec<_>>()
        };
        let all = s.callbacks(None, None, 10).await.expect("journal");
        let ids: Vec<i64> = all.iter().map(|(cb, _)| cb.id).collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
        assert_eq!(calls(all), [a2.clone(), o1.clone(), a1.clone()]);
        assert_eq!(
            calls(s.callbacks(None, None, 2).await.expect("journal")),
            [a2.clone(), o1.clone()]
        );
        assert_eq!(
            calls(s.callbacks(Some(&a), None, 10).await.expect("journal")),
            [a2.clone(), a1.clone()]
        );
        assert_eq!(
            calls(s.callbacks(Some(&a), None, 1).await.expect("journal")),
            vec![a2.clone()]
        );
        assert_eq!(
            calls(s.callbacks(Some(&other), None, 10).await.expect("journal")),
            vec![o1.clone()]
        );
        assert_eq!(
            calls(s.callbacks(None, Some(&a1), 10).await.expect("journal")),
            vec![a1.clone()]
        );
        assert_eq!(
            calls(s.callbacks(Some(&a), Some(&a1), 10).await.expect("journal")),
            vec![a1.clone()]
        );
        assert!(s
            .callbacks(Some(&a), Some(&o1), 10)
            .await
            .expect("journal")
            .is_empty());
        assert!(s
            .callbacks(Some(&AccountSid::generate()), None, 10)
            .await
            .expect("j")
            .is_empty());
        assert!(s
            .callbacks(None, Some(&CallSid::generate()), 10)
            .await
            .expect("j")
            .is_empty());
    }

    /// Callbacks counted by where they stand: pending and sending are unsettled.
    async fn callback_counts_by_state(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        assert_eq!(
            s.callback_counts().await.expect("counts"),
            Default::default()
        );
        for n in 1..=4 {
            ended_call_with_callback(s, &a, &phone(n), T0 + i64::from(n)).await;
        }
        let counts = s.callback_counts().await.expect("counts");
        assert_eq!(
            (counts.delivered, counts.failed, counts.unsettled),
            (0, 0, 4),
            "all pending"
        );
        let claimed = s.claim_due_callbacks(T0 + 3, 3).await.expect("claim");
        assert_eq!(claimed.len(), 3);
        record(s,
            &attempt(&claimed[0], 1, T0 + 5, Some(200), None),
            CallbackState::Delivered,
            None,
        )
        .await
        .expect("record");
        record(s,
            &attempt(&claimed[1], 1, T0 + 5, Some(404), None),
            CallbackState::Failed,
            None,
        )
        .await
        .expect("record");
        let counts = s.callback_counts().await.expect("counts");
        assert_eq!(
            (counts.delivered, counts.failed, counts.unsettled),
            (1, 1, 2),
            "one sending, one pending"
        );
    }

    /// Attempts recorded together keep their order and their callbacks apart: a retry with
    /// another callback's first attempt, and (as a crash and a restart can leave them) two
    /// attempts of one callback in one call.
    async fn attempts_recorded_together_are_each_listed_with_their_callback(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let retried_call = ended_call_with_callback(s, &a, &phone(21), T0).await;
        let other_call = ended_call_with_callback(s, &a, &phone(22), T0).await;
        let claimed = s.claim_due_callbacks(T0, 10).await.expect("claim");
        let of = |call: &CallSid| {
            claimed
                .iter()
                .find(|cb| &cb.call_sid == call)
                .expect("claimed")
                .clone()
        };
        let (retried, other) = (of(&retried_call), of(&other_call));
        let first = attempt(&retried, 1, T0 + 10, Some(500), Some("HTTP 500"));
        record(s, &first, CallbackState::Pending, Some(T0 + 20))
            .await
            .expect("record");
        let pending = |attempt: CallbackAttempt, state, next_attempt_at| Attempted {
            attempt,
            state,
            next_attempt_at,
        };
        // A retry beside another callback's first attempt.
        s.record_attempts(&[
            pending(
                attempt(&retried, 2, T0 + 30, Some(503), Some("HTTP 503")),
                CallbackState::Pending,
                Some(T0 + 40),
            ),
            pending(
                attempt(&other, 1, T0 + 31, Some(204), None),
                CallbackState::Delivered,
                None,
            ),
        ])
        .await
        .expect("record together");
        // Two attempts of one callback.
        s.record_attempts(&[
            pending(
                attempt(&retried, 3, T0 + 50, Some(502), Some("HTTP 502")),
                CallbackState::Pending,
                Some(T0 + 60),
            ),
            pending(
                attempt(&retried, 4, T0 + 70, Some(200), None),
                CallbackState::Delivered,
                None,
            ),
        ])
        .await
        .expect("record one callback's two");
        let (journalled, attempts) = journal_of(s, &retried_call).await;
        assert_eq!(
            (journalled.state, journalled.attempts),
            (CallbackState::Delivered, 4)
        );
        let listed: Vec<(i64, Option<i64>)> =
            attempts.iter().map(|a| (a.attempt, a.status_code)).collect();
        assert_eq!(
            listed,
            [(1, Some(500)), (2, Some(503)), (3, Some(502)), (4, Some(200))]
        );
        assert_eq!(attempts[1].error.as_deref(), Some("HTTP 503"));
        let (journalled, attempts) = journal_of(s, &other_call).await;
        assert_eq!(journalled.state, CallbackState::Delivered);
        assert_eq!(attempts.len(), 1);
        assert_eq!((attempts[0].attempt, attempts[0].status_code), (1, Some(204)));
        assert_eq!(s.callback_counts().await.expect("counts").delivered, 2);
    }
}
