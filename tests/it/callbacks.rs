//! Issue 3: StatusCallback delivery: a receiver that is down (one callback, or many due
//! together, issue 15), answers 500 or hangs, retries by policy, the callback journal, and durability: a graceful shutdown waits for the
//! callback in flight and records it, a callback being sent cannot be claimed twice, and one
//! cut short by a crash is sent again with the same idempotency token. The durability tests
//! read the SQLite file itself.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;

use crate::helpers::db::{callback_rows, connect, delivered_then_stopped, Delivered};
use crate::helpers::*;

// ---- callback delivery failures -----------------------------------------------------------

#[tokio::test]
async fn receiver_down_is_recorded_as_failed_after_one_attempt() {
    let app = TestApp::spawn().await;
    let url = closed_port_url().await;
    let created = create(
        &app,
        &[("PhoneNumber", "+14155550150"), ("StatusCallback", &url)],
    )
    .await;
    let sid = call_sid(&created);
    // The API keeps answering.
    assert!(caller_ids(&app, &dev()).await.len() <= 1);
    let journal = wait_callback_state(&app, &sid, "failed").await;
    assert_eq!(journal["url"], url.as_str());
    let attempts = journal["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "Twilio makes one attempt: {journal}");
    assert!(attempts[0]["status_code"].is_null());
    assert!(
        attempts[0]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{journal}"
    );
    // Verification itself does not depend on the callback.
    assert_eq!(
        call_view(&app, &sid).await["verification_status"],
        "success"
    );
    assert_eq!(caller_ids(&app, &dev()).await.len(), 1);
}

#[tokio::test]
async fn receiver_down_is_retried_by_policy() {
    let app = TestApp::spawn_with(|s| {
        s.callback_attempts = 3;
        s.callback_retry_delay_ms = 50;
    })
    .await;
    let url = closed_port_url().await;
    let created = create(
        &app,
        &[("PhoneNumber", "+14155550151"), ("StatusCallback", &url)],
    )
    .await;
    let sid = call_sid(&created);
    let journal = wait_callback_state(&app, &sid, "failed").await;
    let attempts = journal["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 3, "{journal}");
    for (i, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt["attempt"], i as u64 + 1);
        assert!(attempt["error"].is_string(), "{attempt}");
        assert!(attempt["status_code"].is_null(), "{attempt}");
    }
}

#[tokio::test]
async fn callbacks_due_together_to_a_receiver_that_is_down_each_get_their_attempts() {
    // Callbacks to one receiver may be sent as a batch that shares one connection attempt:
    // each still ends with its own attempts recorded, as many as the policy says.
    let app = TestApp::spawn_with(|s| {
        s.callback_attempts = 2;
        s.callback_retry_delay_ms = 50;
    })
    .await;
    let url = closed_port_url().await;
    let mut sids = Vec::new();
    for i in 0..12 {
        let phone = format!("+1415555{:04}", 170 + i);
        let created = create(&app, &[("PhoneNumber", &phone), ("StatusCallback", &url)]).await;
        sids.push(call_sid(&created));
    }
    for sid in &sids {
        let journal = wait_callback_state(&app, sid, "failed").await;
        let attempts = journal["attempts"].as_array().expect("attempts");
        assert_eq!(attempts.len(), 2, "{journal}");
        for (i, attempt) in attempts.iter().enumerate() {
            assert_eq!(attempt["attempt"], i as u64 + 1);
            assert!(attempt["status_code"].is_null(), "{attempt}");
            assert!(
                attempt["error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("could not connect")),
                "{attempt}"
            );
        }
    }
}

#[tokio::test]
async fn receiver_answering_500_is_recorded_as_failed() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start_with_status(StatusCode::INTERNAL_SERVER_ERROR).await;
    let created = create(
        &app,
        &[
            ("PhoneNumber", "+14155550152"),
            ("StatusCallback", &receiver.url),
        ],
    )
    .await;
    let sid = call_sid(&created);
    let journal = wait_callback_state(&app, &sid, "failed").await;
    let attempts = journal["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status_code"], 500);
    assert!(attempts[0]["error"].is_string(), "{journal}");
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_hanging_receiver_does_not_block_the_api() {
    // A callback attempt may take two minutes; the API must not wait for it.
    let (app, mut hole, sid) = callback_held_by_black_hole("+14155550153").await;

    // While that attempt hangs, the API answers (the deadline only stops a hung test).
    tokio::time::timeout(Duration::from_secs(30), async {
        let other = create(&app, &[("PhoneNumber", "+14155550154")]).await;
        app.wait_call_ended(&call_sid(&other)).await;
        assert_eq!(caller_ids(&app, &dev()).await.len(), 2);
        let pending = callbacks(&app, &format!("?call_sid={sid}")).await;
        assert_eq!(pending[0]["state"], "sending");
        assert!(pending[0]["attempts"]
            .as_array()
            .expect("attempts")
            .is_empty());
    })
    .await
    .expect("the API answered while a callback hung");

    // The receiver hangs up: the attempt fails and is recorded.
    if let Some(release) = hole.release.take() {
        let _ = release.send(());
    }
    let journal = wait_callback_state(&app, &sid, "failed").await;
    let attempts = journal["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert!(attempts[0]["error"].is_string(), "{journal}");
}

// ---- the callback journal -----------------------------------------------------------------

#[tokio::test]
async fn the_callback_journal_filters_by_account_and_call() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let other = new_account_with_token(&app, "dddddddddddddddddddddddddddddddd").await;
    let a1 = call_sid(
        &create(
            &app,
            &[
                ("PhoneNumber", "+14155550200"),
                ("StatusCallback", &receiver.url),
            ],
        )
        .await,
    );
    let a2 = call_sid(
        &create(
            &app,
            &[
                ("PhoneNumber", "+14155550201"),
                ("StatusCallback", &receiver.url),
            ],
        )
        .await,
    );
    let b1 = call_sid(
        &create_as(
            &app,
            &other,
            &[
                ("PhoneNumber", "+14155550200"),
                ("StatusCallback", &receiver.url),
            ],
        )
        .await,
    );
    for sid in [&a1, &a2, &b1] {
        wait_callback_state(&app, sid, "delivered").await;
    }
    let sids = |list: &[Value]| -> Vec<String> {
        let mut v: Vec<String> = list
            .iter()
            .map(|c| c["call_sid"].as_str().expect("call_sid").to_string())
            .collect();
        v.sort();
        v
    };
    let mine = callbacks(&app, &format!("?account_sid={SID}")).await;
    let mut expected = vec![a1.clone(), a2.clone()];
    expected.sort();
    assert_eq!(sids(&mine), expected);
    assert!(mine.iter().all(|c| c["account_sid"] == SID));
    let theirs = callbacks(&app, &format!("?account_sid={}", other.sid)).await;
    assert_eq!(sids(&theirs), vec![b1.clone()]);
    let one = callbacks(&app, &format!("?call_sid={a2}")).await;
    assert_eq!(sids(&one), vec![a2.clone()]);
    let both = callbacks(&app, &format!("?account_sid={}&call_sid={b1}", other.sid)).await;
    assert_eq!(sids(&both), vec![b1.clone()]);
    let none = callbacks(&app, &format!("?account_sid={SID}&call_sid={b1}")).await;
    assert!(none.is_empty());
    assert_eq!(callbacks(&app, "").await.len(), 3);
    assert_eq!(callbacks(&app, "?limit=1").await.len(), 1);
}

// ---- shutdown and crashes never send a callback twice -------------------------------------

#[tokio::test]
async fn a_graceful_shutdown_waits_for_the_callback_in_flight_and_records_it() {
    let settings_for = |dir: &tempfile::TempDir| {
        let mut settings = test_settings(dir);
        settings.callback_timeout_ms = 30_000;
        settings
    };
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let app = TestApp::spawn_in(dir.clone(), settings_for(&dir)).await;
    let db_url = app.db_url.clone();
    let addr = app.addr;
    let receiver = gated_receiver().await;
    let created = create(
        &app,
        &[
            ("PhoneNumber", "+14155550294"),
            ("StatusCallback", &receiver.url),
        ],
    )
    .await;
    let sid = call_sid(&created);
    wait_arrived(&receiver.arrived, "the callback reaches the receiver").await;

    // Shut down while the receiver holds the callback; answer once the server has stopped
    // taking requests, i.e. once shutdown is under way.
    let stopping = tokio::spawn(app.stop());
    wait_for(Duration::from_secs(20), || async {
        tokio::net::TcpStream::connect(addr).await.err().map(|_| ())
    })
    .await
    .expect("the server stops listening");
    tokio::time::sleep(Duration::from_millis(200)).await;
    receiver.release.add_permits(1);
    let dir = stopping.await.expect("stop");

    // The attempt was recorded before the database closed: nothing is left to send.
    let rows = callback_rows(&db_url).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (state, attempts, next_attempt_at, _, attempt_rows) = &rows[0];
    assert_eq!(state, "delivered", "{rows:?}");
    assert_eq!((*attempts, *next_attempt_at, *attempt_rows), (1, None, 1));

    // After a restart, the next callback goes out and the first is not sent again.
    let app = TestApp::spawn_in(dir.clone(), settings_for(&dir)).await;
    receiver.release.add_permits(10);
    let other = create(
        &app,
        &[
            ("PhoneNumber", "+14155550295"),
            ("StatusCallback", &receiver.url),
        ],
    )
    .await;
    wait_callback_state(&app, &call_sid(&other), "delivered").await;
    let journal = callbacks(&app, &format!("?call_sid={sid}")).await;
    assert_eq!(journal[0]["state"], "delivered");
    assert_eq!(journal[0]["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(receiver.arrived.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_callback_being_sent_is_not_claimable_and_counts_as_pending() {
    let (app, mut hole, sid) = callback_held_by_black_hole("+14155550296").await;

    // Claimed: `sending`, with no next attempt that could let another pass take it.
    let journal = callbacks(&app, &format!("?call_sid={sid}")).await;
    assert_eq!(journal[0]["state"], "sending", "{journal:?}");
    let rows = callback_rows(&app.db_url).await;
    assert_eq!(rows[0].0, "sending");
    assert_eq!(rows[0].2, None, "no lease to run out: {rows:?}");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.lines().any(|l| l == "callerid_pending_callbacks 1"),
        "{metrics}"
    );

    if let Some(release) = hole.release.take() {
        let _ = release.send(());
    }
    let journal = wait_callback_state(&app, &sid, "failed").await;
    assert_eq!(journal["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(hole.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_callback_cut_short_by_a_crash_is_sent_again_with_the_same_token() {
    if crate::helpers::pg::skip_on_postgres("staging a crash by writing the callback row") {
        return;
    }
    let Delivered {
        dir,
        db_url,
        receiver,
        call_sid: sid,
        first,
    } = delivered_then_stopped("+14155550297").await;

    // Put the file in the state a crash mid-delivery leaves: claimed, nothing recorded.
    let pool = connect(&db_url, true).await;
    sqlx::query("DELETE FROM callback_attempts")
        .execute(&pool)
        .await
        .expect("delete attempts");
    sqlx::query(
        "UPDATE callbacks SET state = 'sending', attempts = 0, next_attempt_at = NULL,
         last_at = NULL, last_url = NULL, last_signature = NULL, last_status_code = NULL,
         last_latency_ms = NULL, last_error = NULL",
    )
    .execute(&pool)
    .await
    .expect("mark sending");
    pool.close().await;

    let app = TestApp::spawn_in(dir.clone(), test_settings(&dir)).await;
    let all = receiver.wait_for(2).await;
    let again = all.last().expect("second delivery");
    assert_eq!(again.param("CallSid").as_deref(), Some(sid.as_str()));
    assert_eq!(
        again.header("I-Twilio-Idempotency-Token"),
        first.header("I-Twilio-Idempotency-Token")
    );
    assert_signed(again, &receiver, TOKEN);
    let journal = wait_callback_state(&app, &sid, "delivered").await;
    assert_eq!(journal["attempts"].as_array().map(Vec::len), Some(1));
}
