//! Creating validation requests' calls: played out at creation (time scale 0) or left
//! queued (real time), refused for a verified number, superseding a pending call for the same
//! number, and many at once for one number; then the reads of calls and their timelines and
//! which are due.

use std::collections::HashSet;

use callerid_emulator::domain::call::{CallStatus, EventKind, VerificationStatus};
use callerid_emulator::domain::callback::CallbackState;
use callerid_emulator::domain::sid::CallSid;
use callerid_emulator::store::StoreError;

use super::fixtures::*;

contract_tests! {
    /// At time scale 0 the whole call plays out in the create: the call completed, its
    /// timeline, the caller ID (returned and stored) and the StatusCallback.
    async fn a_call_at_time_scale_0_plays_out_at_creation(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let (sid, created) = Request::new(&a, &phone(1)).with_callback().created(s).await;
        assert!(created.superseded.is_empty());
        let made = created.caller_id.expect("the caller ID made at creation");
        assert_eq!((&made.account_sid, &made.phone_number), (&a, &phone(1)));
        assert_eq!(made.friendly_name.as_str(), "(415) 555-0001");
        assert_eq!(
            (made.date_created, made.date_updated),
            (T0 / 1000, T0 / 1000)
        );

        let c = call(s, &sid).await;
        assert_eq!(
            (c.status, c.verification_status),
            (CallStatus::Completed, Some(VerificationStatus::Success))
        );
        assert_eq!(c.next_action_at, None);
        assert_eq!(c.digits.as_deref(), Some("123456"));
        assert_eq!(c.outgoing_caller_id_sid.as_ref(), Some(&made.sid));
        assert_eq!((c.date_created, c.date_updated), (T0, T0));
        assert_eq!((c.start_time, c.end_time), (Some(T0), Some(T0)));
        assert_eq!(c.account_sid, a);
        assert_eq!(c.status_callback.as_deref(), Some(CALLBACK_URL));

        let events = s.call_events(&sid).await.expect("events");
        use CallStatus::*;
        assert_eq!(
            kinds(&events),
            statuses(&[Queued, Ringing, InProgress, Completed])
        );
        assert!(events.iter().all(|e| e.at == T0), "{events:?}");
        assert!(
            events[0].note.starts_with("validation request created"),
            "{events:?}"
        );

        let stored = s
            .caller_id(&a, &made.sid)
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(stored.phone_number, phone(1));
        assert_eq!(listed(s, &a).await, vec![made.sid.clone()]);

        let cbs = callbacks_of(s, &sid).await;
        assert_eq!(cbs.len(), 1);
        let cb = &cbs[0];
        assert_eq!(
            (cb.state, cb.attempts, cb.next_attempt_at),
            (CallbackState::Pending, 0, Some(T0))
        );
        assert_eq!(
            (&cb.account_sid, &cb.call_sid, cb.url.as_str()),
            (&a, &sid, CALLBACK_URL)
        );
        assert_eq!(param(cb, "CallStatus").as_deref(), Some("completed"));
        assert_eq!(param(cb, "VerificationStatus").as_deref(), Some("success"));
        assert_eq!(param(cb, "OutgoingCallerIdSid").as_deref(), Some(made.sid.as_str()));
        assert_eq!(cb.created_at, T0);

        assert_eq!(s.pending_calls().await.expect("pending"), 0);
        assert_eq!(s.next_call_due().await.expect("next"), None);
        assert!(s.due_calls(i64::MAX, 10).await.expect("due").is_empty());
    }

    /// In real time with a CallDelay the call is stored queued, due when its delay is up,
    /// with nothing else made yet.
    async fn a_call_in_real_time_stays_queued(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let (sid, created) = Request::new(&a, &phone(1))
            .queued(5)
            .with_callback()
            .created(s)
            .await;
        assert!(created.superseded.is_empty());
        assert!(created.caller_id.is_none());

        let c = call(s, &sid).await;
        assert_eq!(
            (c.status, c.verification_status),
            (CallStatus::Queued, None)
        );
        assert_eq!(c.next_action_at, Some(T0 + 5_000));
        assert_eq!((c.call_delay, c.digits.as_deref()), (5, None));
        assert_eq!(c.outgoing_caller_id_sid, None);
        assert_eq!(
            kinds(&s.call_events(&sid).await.expect("events")),
            statuses(&[CallStatus::Queued])
        );
        assert!(listed(s, &a).await.is_empty());
        assert!(callbacks_of(s, &sid).await.is_empty());

        assert_eq!(s.pending_calls().await.expect("pending"), 1);
        assert_eq!(s.next_call_due().await.expect("next"), Some(T0 + 5_000));
        assert!(s.due_calls(T0 + 4_999, 10).await.expect("due").is_empty());
        let due = s.due_calls(T0 + 5_000, 10).await.expect("due");
        assert_eq!(due, [c]);

        // Without a delay, real time takes the first step at creation: ringing for 3 s.
        let (ringing, _) = Request::new(&a, &phone(2))
            .timing(real_time())
            .created(s)
            .await;
        let c = call(s, &ringing).await;
        assert_eq!(
            (c.status, c.next_action_at),
            (CallStatus::Ringing, Some(T0 + 3_000))
        );
        let events = s.call_events(&ringing).await.expect("events");
        assert_eq!(
            kinds(&events),
            statuses(&[CallStatus::Queued, CallStatus::Ringing])
        );
        assert_eq!(s.next_call_due().await.expect("next"), Some(T0 + 3_000));
    }

    /// A number verified on the account cannot get a call: a conflict, nothing stored. On
    /// another account it can.
    async fn a_call_for_a_verified_number_is_a_conflict(b: Backend) {
        let s = &b.store;
        let (a, other) = (new_account(s).await, new_account(s).await);
        let existing = seed_caller_id(s, &a, &phone(1)).await;
        for request in [
            Request::new(&a, &phone(1)),
            Request::new(&a, &phone(1)).queued(5).with_callback(),
        ] {
            let (sid, result) = request.create(s).await;
            assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
            assert_eq!(s.call(&sid).await.expect("call"), None);
            assert!(s.call_events(&sid).await.expect("events").is_empty());
        }
        assert_eq!(listed(s, &a).await, [existing]);
        assert_eq!(s.pending_calls().await.expect("pending"), 0);
        assert!(s
            .callbacks(None, None, 10)
            .await
            .expect("callbacks")
            .is_empty());

        let (_, created) = Request::new(&other, &phone(1)).created(s).await;
        assert!(created.caller_id.is_some());
        // And once verified by a call, the number is taken for the next call too.
        let (_, again) = Request::new(&other, &phone(1)).create(s).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    }

    /// A call for an unknown account is refused and leaves nothing.
    async fn a_call_for_a_missing_account_is_not_found(b: Backend) {
        let s = &b.store;
        let missing = callerid_emulator::domain::sid::AccountSid::generate();
        let (sid, result) = Request::new(&missing, &phone(1))
            .with_callback()
            .create(s)
            .await;
        assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
        assert_eq!(s.call(&sid).await.expect("call"), None);
        assert!(listed(s, &missing).await.is_empty());
        // The store goes on.
        let a = new_account(s).await;
        assert!(Request::new(&a, &phone(1))
            .created(s)
            .await
            .1
            .caller_id
            .is_some());
    }

    /// A second request for a number while its first call is pending ends that call
    /// `canceled` (a failed verification, with its callback); other numbers and other
    /// accounts' calls are untouched.
    async fn a_second_request_supersedes_the_pending_call(b: Backend) {
        let s = &b.store;
        let (a, other) = (new_account(s).await, new_account(s).await);
        let (first, _) = Request::new(&a, &phone(1))
            .queued(30)
            .with_callback()
            .created(s)
            .await;
        let (quiet, _) = Request::new(&a, &phone(2)).queued(30).created(s).await;
        let (theirs, _) = Request::new(&other, &phone(1)).queued(30).created(s).await;
        let later = T0 + 1_000;

        let (second, created) = Request::new(&a, &phone(1))
            .queued(30)
            .at(later)
            .created(s)
            .await;
        assert!(created.caller_id.is_none());
        assert_eq!(created.superseded.len(), 1, "{:?}", created.superseded);
        let ended = &created.superseded[0];
        assert_eq!(ended.sid, first);
        assert_eq!(
            (ended.status, ended.verification_status),
            (CallStatus::Canceled, Some(VerificationStatus::Failed))
        );
        assert_eq!(
            (ended.next_action_at, ended.end_time, ended.date_updated),
            (None, Some(later), later)
        );
        assert_eq!(&call(s, &first).await, ended);

        let events = s.call_events(&first).await.expect("events");
        assert_eq!(
            kinds(&events),
            statuses(&[CallStatus::Queued, CallStatus::Canceled])
        );
        assert_eq!(events[1].at, later);
        assert_eq!(
            events[1].note,
            format!("superseded by validation request {second}")
        );

        let cbs = callbacks_of(s, &first).await;
        assert_eq!(cbs.len(), 1, "the superseded call's callback");
        assert_eq!(
            (cbs[0].state, cbs[0].next_attempt_at),
            (CallbackState::Pending, Some(later))
        );
        assert_eq!(param(&cbs[0], "CallStatus").as_deref(), Some("canceled"));
        assert_eq!(param(&cbs[0], "VerificationStatus").as_deref(), Some("failed"));
        assert_eq!(param(&cbs[0], "OutgoingCallerIdSid").as_deref(), None);

        assert_eq!(call(s, &second).await.status, CallStatus::Queued);
        for untouched in [&quiet, &theirs] {
            let c = call(s, untouched).await;
            assert_eq!(
                (c.status, c.next_action_at),
                (CallStatus::Queued, Some(T0 + 30_000))
            );
        }
        assert_eq!(s.pending_calls().await.expect("pending"), 3);

        // A third, played out at once, supersedes the second (which has no callback) and
        // verifies the number.
        let (third, created) = Request::new(&a, &phone(1)).at(later + 1).created(s).await;
        assert_eq!(
            created
                .superseded
                .iter()
                .map(|c| &c.sid)
                .collect::<Vec<_>>(),
            [&second]
        );
        assert!(callbacks_of(s, &second).await.is_empty());
        let made = created.caller_id.expect("verified");
        assert_eq!(
            call(s, &third).await.outgoing_caller_id_sid,
            Some(made.sid.clone())
        );
        // An ended call is not superseded again.
        let (_, again) = Request::new(&a, &phone(1)).create(s).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        assert_eq!(call(s, &first).await.status, CallStatus::Canceled);
    }

    /// Fifty validation requests for one new number at once, at time scale 0: exactly one
    /// verifies it; the other 49 are conflicts and leave no call; one caller ID is listed.
    async fn concurrent_requests_for_one_number_verify_it_once(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (store, request) = (s.clone(), Request::new(&a, &phone(1)));
            tasks.spawn(async move { request.create(&store).await });
        }
        let mut verified = Vec::new();
        let mut conflicts: Vec<CallSid> = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined.expect("task") {
                (sid, Ok(created)) => verified.push((sid, created)),
                (sid, Err(StoreError::Conflict(_))) => conflicts.push(sid),
                (sid, Err(e)) => panic!("{sid}: {e:?}"),
            }
        }
        assert_eq!((verified.len(), conflicts.len()), (1, 49));
        let (sid, created) = &verified[0];
        let made = created
            .caller_id
            .as_ref()
            .expect("the winner made the caller ID");
        assert!(created.superseded.is_empty());
        assert_eq!(listed(s, &a).await, vec![made.sid.clone()]);
        assert_eq!(
            listed_with_number(s, &a, &phone(1)).await,
            vec![made.sid.clone()]
        );
        assert_eq!(
            call(s, sid).await.outgoing_caller_id_sid.as_ref(),
            Some(&made.sid)
        );
        for lost in &conflicts {
            assert_eq!(s.call(lost).await.expect("call"), None, "{lost}");
        }
        let distinct: HashSet<_> = conflicts.iter().chain([sid]).collect();
        assert_eq!(distinct.len(), 50);
    }

    /// Unknown calls read as nothing; a timeline comes back in the order it happened.
    async fn calls_and_timelines_read_back(b: Backend) {
        let s = &b.store;
        let unknown = CallSid::generate();
        assert_eq!(s.call(&unknown).await.expect("call"), None);
        assert!(s.call_events(&unknown).await.expect("events").is_empty());

        let a = new_account(s).await;
        let request = Request::new(&a, &phone(1))
            .behavior(callerid_emulator::domain::call::Behavior::WrongCode);
        let (sid, created) = request.created(s).await;
        assert!(created.caller_id.is_none());
        let c = call(s, &sid).await;
        assert_eq!(
            (c.status, c.verification_status),
            (CallStatus::Completed, Some(VerificationStatus::Failed))
        );
        assert_eq!(c.digits.as_deref(), Some("234567"));
        let events = s.call_events(&sid).await.expect("events");
        use CallStatus::*;
        assert_eq!(
            kinds(&events),
            statuses(&[Queued, Ringing, InProgress, Completed])
        );
        assert!(
            events[3].note.contains("not the validation code"),
            "{events:?}"
        );
        assert!(listed(s, &a).await.is_empty());
        assert!(!kinds(&events).contains(&EventKind::Digits));
    }

    /// Due calls come soonest first, up to the limit; `next_call_due` and `pending_calls`
    /// count only calls that have not ended.
    async fn due_calls_soonest_first(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let mut sids = Vec::new();
        for (n, delay) in [(1, 3), (2, 1), (3, 2)] {
            sids.push(Request::new(&a, &phone(n)).queued(delay).created(s).await.0);
        }
        Request::new(&a, &phone(4)).created(s).await; // ended at creation
        let due = |now, limit| async move {
            let calls = s.due_calls(now, limit).await.expect("due");
            calls.into_iter().map(|c| c.sid).collect::<Vec<_>>()
        };
        assert_eq!(due(T0, 10).await, []);
        assert_eq!(due(T0 + 1_000, 10).await, vec![sids[1].clone()]);
        assert_eq!(
            due(T0 + 2_500, 10).await,
            [sids[1].clone(), sids[2].clone()]
        );
        let all = [sids[1].clone(), sids[2].clone(), sids[0].clone()];
        assert_eq!(due(T0 + 10_000, 10).await, all);
        assert_eq!(due(T0 + 10_000, 2).await, all[..2]);
        assert_eq!(s.next_call_due().await.expect("next"), Some(T0 + 1_000));
        assert_eq!(s.pending_calls().await.expect("pending"), 3);
    }
}
