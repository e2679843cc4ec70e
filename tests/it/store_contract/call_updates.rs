//! Moving calls on as the scheduler does (`apply_call_updates`: done, stale, number taken)
//! and digits keyed by the callee (`key_digits`).

use callerid_emulator::domain::call::{Behavior, CallStatus, EventKind, VerificationStatus};
use callerid_emulator::domain::callback::CallbackState;
use callerid_emulator::domain::plan::CallUpdate;
use callerid_emulator::domain::sid::CallSid;
use callerid_emulator::store::{Applied, Store};

use super::fixtures::*;

/// Applies one update, expecting one outcome.
async fn apply_one(s: &Store, update: &CallUpdate) -> Applied {
    let mut applied = s
        .apply_call_updates(std::slice::from_ref(update))
        .await
        .expect("apply");
    assert_eq!(applied.len(), 1, "{applied:?}");
    applied.remove(0)
}

contract_tests! {
    /// A real-time call walked through its steps by updates: each is done, the last makes
    /// the caller ID and queues the callback.
    async fn updates_walk_a_call_to_success(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let timing = real_time();
        let (sid, _) = Request::new(&a, &phone(1))
            .queued(1)
            .with_callback()
            .created(s)
            .await;
        let mut expected = vec![CallStatus::Queued];
        let mut made = None;
        for (step, status) in [
            CallStatus::Ringing,
            CallStatus::InProgress,
            CallStatus::Completed,
        ]
        .into_iter()
        .enumerate()
        {
            let now = s
                .next_call_due()
                .await
                .expect("next")
                .expect("a call is pending");
            let due = s.due_calls(now, 10).await.expect("due");
            assert_eq!(
                due.iter().map(|c| &c.sid).collect::<Vec<_>>(),
                [&sid],
                "step {step}"
            );
            let update = plan_update(&due[0], &timing, now);
            assert_eq!(update.change.to.status, status);
            match apply_one(s, &update).await {
                Applied::Done { caller_id } => {
                    assert_eq!(
                        caller_id.is_some(),
                        status == CallStatus::Completed,
                        "{status:?}"
                    );
                    made = made.or(caller_id);
                }
                other => panic!("step {step}: {other:?}"),
            }
            expected.push(status);
            let c = call(s, &sid).await;
            assert_eq!((c.status, c.date_updated), (status, now));
            let events = s.call_events(&sid).await.expect("events");
            assert_eq!(kinds(&events), statuses(&expected));
            assert_eq!(events.last().map(|e| e.at), Some(now));
        }
        let made = made.expect("caller ID");
        let c = call(s, &sid).await;
        assert_eq!(c.verification_status, Some(VerificationStatus::Success));
        assert_eq!(c.next_action_at, None);
        assert_eq!(c.outgoing_caller_id_sid.as_ref(), Some(&made.sid));
        assert_eq!((c.start_time, c.duration), (Some(T0 + 4_000), Some(8)));
        assert_eq!(listed(s, &a).await, vec![made.sid.clone()]);
        assert_eq!(
            s.caller_id(&a, &made.sid)
                .await
                .expect("get")
                .map(|r| r.phone_number.clone()),
            Some(phone(1))
        );
        let cbs = callbacks_of(s, &sid).await;
        assert_eq!(cbs.len(), 1);
        assert_eq!(
            (cbs[0].state, cbs[0].next_attempt_at),
            (CallbackState::Pending, c.end_time)
        );
        assert_eq!(
            param(&cbs[0], "OutgoingCallerIdSid").as_deref(),
            Some(made.sid.as_str())
        );
        assert_eq!(s.pending_calls().await.expect("pending"), 0);
        assert_eq!(s.next_call_due().await.expect("next"), None);
    }

    /// An update applies only to the state it was planned from: applied twice, the second is
    /// stale and writes nothing; in a batch, each update has its own outcome, in order.
    async fn an_update_planned_from_an_old_state_is_stale(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let timing = real_time();
        let (one, _) = Request::new(&a, &phone(1)).queued(1).created(s).await;
        let (two, _) = Request::new(&a, &phone(2)).queued(1).created(s).await;
        let now = T0 + 1_000;
        let first = plan_update(&call(s, &one).await, &timing, now);
        assert!(matches!(
            apply_one(s, &first).await,
            Applied::Done { caller_id: None }
        ));
        let after = call(s, &one).await;
        let events = s.call_events(&one).await.expect("events");

        let later = plan_update(&call(s, &two).await, &timing, now);
        let replay = replanned_at(&first, now + 500);
        let applied = s.apply_call_updates(&[replay, later]).await.expect("apply");
        assert!(
            matches!(
                applied[..],
                [Applied::Stale, Applied::Done { caller_id: None }]
            ),
            "{applied:?}"
        );
        assert_eq!(call(s, &one).await, after, "a stale update writes nothing");
        assert_eq!(s.call_events(&one).await.expect("events"), events);
        assert_eq!(call(s, &two).await.status, CallStatus::Ringing);

        // A guard on an unknown call is stale too.
        let mut ghost = first.clone();
        ghost.from.sid = CallSid::generate();
        assert!(matches!(apply_one(s, &ghost).await, Applied::Stale));
        assert!(s
            .apply_call_updates(&[])
            .await
            .expect("apply none")
            .is_empty());
    }

    /// An update that would verify a number the account verified meanwhile is refused as
    /// `NumberTaken` and writes nothing; planned again as a failed verification it applies.
    async fn an_update_for_a_number_verified_meanwhile(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let timing = real_time();
        let (sid, _) = Request::new(&a, &phone(1))
            .with_callback()
            .timing(timing.clone())
            .created(s)
            .await;
        // ringing → in-progress.
        let ringing = call(s, &sid).await;
        let answer = plan_update(&ringing, &timing, T0 + 3_000);
        assert!(matches!(
            apply_one(s, &answer).await,
            Applied::Done { caller_id: None }
        ));

        let before = call(s, &sid).await;
        let events = s.call_events(&sid).await.expect("events");
        let verify = plan_update(&before, &timing, T0 + 11_000);
        assert!(verify.change.caller_id.is_some(), "planned as a success");
        let seeded = seed_caller_id(s, &a, &phone(1)).await;

        assert!(matches!(apply_one(s, &verify).await, Applied::NumberTaken));
        assert_eq!(call(s, &sid).await, before, "nothing written");
        assert_eq!(s.call_events(&sid).await.expect("events"), events);
        assert!(callbacks_of(s, &sid).await.is_empty());
        assert_eq!(listed(s, &a).await, vec![seeded.clone()]);

        let failed = CallUpdate {
            from: verify.from.clone(),
            change: verify.change.clone().number_already_verified(),
        };
        assert!(matches!(
            apply_one(s, &failed).await,
            Applied::Done { caller_id: None }
        ));
        let c = call(s, &sid).await;
        assert_eq!(
            (c.status, c.verification_status),
            (CallStatus::Completed, Some(VerificationStatus::Failed))
        );
        assert_eq!(c.outgoing_caller_id_sid, None);
        assert_eq!(listed(s, &a).await, [seeded]);
        let cbs = callbacks_of(s, &sid).await;
        assert_eq!(cbs.len(), 1);
        assert_eq!(param(&cbs[0], "VerificationStatus").as_deref(), Some("failed"));
        assert_eq!(param(&cbs[0], "OutgoingCallerIdSid").as_deref(), None);
    }

    /// Digits keyed while a call waits for them are recorded and make it due now; once the
    /// call has ended (or for an unknown call) there is nothing to key into.
    async fn digits_keyed_while_pending(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let timing = instant();
        let (sid, created) = Request::new(&a, &phone(1))
            .behavior(Behavior::Manual)
            .created(s)
            .await;
        assert!(created.caller_id.is_none());
        let waiting = call(s, &sid).await;
        assert_eq!(
            (waiting.status, waiting.next_action_at),
            (CallStatus::InProgress, Some(T0 + 60_000))
        );

        let now = T0 + 2_000;
        let keyed = s
            .key_digits(&sid, "123456", now)
            .await
            .expect("key")
            .expect("pending call");
        assert_eq!(keyed.sid, sid);
        assert_eq!(keyed.digits.as_deref(), Some("123456"));
        assert_eq!(
            (keyed.status, keyed.next_action_at, keyed.date_updated),
            (CallStatus::InProgress, Some(now), now)
        );
        assert_eq!(call(s, &sid).await, keyed);
        let events = s.call_events(&sid).await.expect("events");
        let last = events.last().expect("an event");
        assert_eq!((last.kind, last.at), (EventKind::Digits, now));
        assert!(last.note.contains("123456"), "{last:?}");
        let due = s.due_calls(now, 10).await.expect("due");
        assert_eq!(due.iter().map(|c| &c.sid).collect::<Vec<_>>(), [&sid]);

        let update = plan_update(&keyed, &timing, now);
        let Applied::Done {
            caller_id: Some(made),
        } = apply_one(s, &update).await
        else {
            panic!("the keyed code verifies the number");
        };
        assert_eq!(listed(s, &a).await, vec![made.sid.clone()]);
        let c = call(s, &sid).await;
        assert_eq!(
            (c.status, c.verification_status, c.duration),
            (
                CallStatus::Completed,
                Some(VerificationStatus::Success),
                Some(2)
            )
        );

        assert_eq!(
            s.key_digits(&sid, "9", now + 1).await.expect("key"),
            None,
            "ended"
        );
        assert_eq!(call(s, &sid).await, c, "nothing written to an ended call");
        assert_eq!(
            s.key_digits(&CallSid::generate(), "1", now)
                .await
                .expect("key"),
            None
        );

        // Keyed before the call is answered: recorded, but not due any sooner.
        let (queued, _) = Request::new(&a, &phone(2)).queued(5).created(s).await;
        let early = s
            .key_digits(&queued, "42", T0 + 1)
            .await
            .expect("key")
            .expect("pending");
        assert_eq!(
            (early.status, early.digits.as_deref()),
            (CallStatus::Queued, Some("42"))
        );
        assert_eq!(early.next_action_at, Some(T0 + 5_000));
    }
}

/// The same update, as if planned at `at` (from the same guard).
fn replanned_at(update: &CallUpdate, at: i64) -> CallUpdate {
    let mut u = update.clone();
    u.change.at = at;
    u.change.to.date_updated = at;
    u
}
