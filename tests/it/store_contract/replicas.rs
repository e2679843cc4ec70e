//! Several replicas on one PostgreSQL database (two `Store`s connected to it, as two
//! processes would be): what one writes the other reads at once, the already-verified rule and
//! each call step hold across them, a callback claimed by a live replica is left to it while a
//! dead one's is resumed, and one whose lease ran out goes to another replica. PostgreSQL only:
//! SQLite serves one process.

use callerid_emulator::domain::call::Behavior;
use callerid_emulator::domain::callback::CallbackState;
use callerid_emulator::store::{Applied, Store, StoreError};

use super::fixtures::*;
use super::Backend;

/// A fresh database and two stores on it; `None` when PostgreSQL is not configured here.
async fn two_replicas() -> Option<(Backend, Store)> {
    let first = Backend::postgres().await?;
    let second = Store::connect(&first.url, 4)
        .await
        .expect("the second replica connects");
    Some((first, second))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_on_one_replica_is_read_on_the_other_at_once() {
    let Some((b, other)) = two_replicas().await else {
        return;
    };
    let one = &b.store;
    let a = new_account(one).await;
    assert!(other.account(&a).await.expect("account").is_some());
    let key = api_key(&a);
    one.create_api_key(&key).await.expect("key");
    let cred = other
        .credential(key.sid.as_str())
        .await
        .expect("credential")
        .expect("the key, read on the other replica");
    assert_eq!(cred.secret, key.secret);

    let sid = seed_caller_id(one, &a, &phone(1)).await;
    assert_eq!(listed(&other, &a).await, vec![sid.clone()]);
    one.rename_caller_id(&a, &sid, &name("renamed"), T0 / 1000 + 1)
        .await
        .expect("rename");
    let seen = other
        .caller_id(&a, &sid)
        .await
        .expect("get")
        .expect("there");
    assert_eq!(seen.friendly_name.as_str(), "renamed");
    let again = other
        .insert_caller_id(new_caller_id(&a, &phone(1), "twice"))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    other
        .set_behavior(&a, &phone(2), Behavior::Busy)
        .await
        .expect("behaviour");
    assert_eq!(
        one.behavior(&a, &phone(2)).await.expect("behaviour"),
        Some(Behavior::Busy)
    );

    one.delete_account(&a).await.expect("delete");
    assert!(other
        .credential(key.sid.as_str())
        .await
        .expect("credential")
        .is_none());
    assert!(other
        .credential(a.as_str())
        .await
        .expect("credential")
        .is_none());
    assert!(listed(&other, &a).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_requests_for_one_number_over_two_replicas_verify_it_once() {
    let Some((b, other)) = two_replicas().await else {
        return;
    };
    let a = new_account(&b.store).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..50 {
        let store = if n % 2 == 0 {
            b.store.clone()
        } else {
            other.clone()
        };
        let request = Request::new(&a, &phone(1));
        tasks.spawn(async move { request.create(&store).await.1 });
    }
    let (mut made, mut conflicts) = (Vec::new(), 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task") {
            Ok(created) => made.push(created.caller_id.expect("the winner verified it")),
            Err(StoreError::Conflict(_)) => conflicts += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((made.len(), conflicts), (1, 49));
    assert_eq!(listed(&other, &a).await, vec![made[0].sid.clone()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_step_is_taken_by_one_replica_only() {
    let Some((b, other)) = two_replicas().await else {
        return;
    };
    let a = new_account(&b.store).await;
    let (sid, _) = Request::new(&a, &phone(1))
        .queued(1)
        .created(&b.store)
        .await;
    let now = T0 + 1_000;
    let read_by_one = b.store.due_calls(now, 10).await.expect("due");
    let read_by_other = other.due_calls(now, 10).await.expect("due");
    assert_eq!(read_by_one.len(), 1);
    assert_eq!(read_by_other.len(), 1);
    let timing = real_time();
    let first = b
        .store
        .apply_call_updates(&[plan_update(&read_by_one[0], &timing, now)])
        .await
        .expect("apply");
    assert!(matches!(first[..], [Applied::Done { .. }]), "{first:?}");
    let second = other
        .apply_call_updates(&[plan_update(&read_by_other[0], &timing, now)])
        .await
        .expect("apply");
    assert!(matches!(second[..], [Applied::Stale]), "{second:?}");
    let events = other.call_events(&sid).await.expect("events");
    assert_eq!(events.len(), 2, "queued, then one ringing: {events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_replicas_callbacks_stay_its_own_and_a_dead_ones_are_resumed() {
    let Some((b, other)) = two_replicas().await else {
        return;
    };
    let a = new_account(&other).await;
    let call = ended_call_with_callback(&other, &a, &phone(1), T0).await;
    let claimed = other.claim_due_callbacks(T0, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    let held = claimed[0].clone();

    // The holder lives: resuming on the first replica leaves its callback alone, and its
    // lease keeps it from being claimed.
    let s = &b.store;
    assert_eq!(
        s.resume_interrupted_callbacks(T0 + 10)
            .await
            .expect("resume"),
        0
    );
    assert!(s
        .claim_due_callbacks(i64::MAX, 10)
        .await
        .expect("claim")
        .is_empty());
    // Nor can the first replica put back what the other holds.
    s.requeue_callback(held.id, T0).await.expect("requeue");
    assert_eq!(journal_of(s, &call).await.0.state, CallbackState::Sending);

    // The holder dies without a word: its callback is resumed, with the same token.
    drop(other);
    assert_eq!(
        s.resume_interrupted_callbacks(T0 + 20)
            .await
            .expect("resume"),
        1
    );
    let again = s.claim_due_callbacks(T0 + 20, 10).await.expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].id, &again[0].idempotency_token),
        (held.id, &held.idempotency_token)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_callback_whose_lease_ran_out_is_claimed_by_another_replica() {
    let Some((b, other)) = two_replicas().await else {
        return;
    };
    let a = new_account(&other).await;
    let call = ended_call_with_callback(&other, &a, &phone(1), T0).await;
    let held = other.claim_due_callbacks(T0, 10).await.expect("claim");
    assert_eq!(held.len(), 1);
    let s = &b.store;
    assert!(s
        .claim_due_callbacks(i64::MAX, 10)
        .await
        .expect("claim")
        .is_empty());

    // The lease is a minute of the database's clock: the test ages it rather than wait (the
    // one statement here not made through the store).
    let pool = sqlx::PgPool::connect(&b.url).await.expect("connect");
    sqlx::query("UPDATE callbacks SET lease_until = clock_timestamp() - interval '1 second'")
        .execute(&pool)
        .await
        .expect("age the lease");
    pool.close().await;

    let taken = s.claim_due_callbacks(T0 + 5, 10).await.expect("claim");
    assert_eq!(taken.len(), 1, "the expired lease is claimable");
    assert_eq!(
        (taken[0].id, &taken[0].idempotency_token, taken[0].state),
        (
            held[0].id,
            &held[0].idempotency_token,
            CallbackState::Sending
        )
    );
    // Now it is the first replica's: the other can no longer put it back.
    other
        .requeue_callback(held[0].id, T0)
        .await
        .expect("requeue");
    assert_eq!(journal_of(s, &call).await.0.state, CallbackState::Sending);
    assert!(other
        .claim_due_callbacks(i64::MAX, 10)
        .await
        .expect("claim")
        .is_empty());
}
