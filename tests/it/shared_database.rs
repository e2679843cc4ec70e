//! Two in-process emulators on one PostgreSQL database serve one emulator: what one does shows
//! on the other's event stream (LISTEN/NOTIFY), from its `ready` on and only while some replica
//! has a reader, a reset on one reaches the other, a call left
//! by a stopped replica is finished by the other, and a callback whose holder stopped sending
//! it is sent by the other once its lease runs out, with the same idempotency token. Runs
//! wherever the PostgreSQL tests run (`CALLERID_TEST_POSTGRES_URL` set).

use std::sync::Arc;
use std::time::Duration;

use callerid_emulator::settings::Settings;
use callerid_emulator::store::Store;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::pg::{cluster_url, TempDatabase};
use crate::helpers::*;

/// Settings for one replica on `url`, with a folder of its own.
fn replica_settings(
    url: &str,
    tweak: &impl Fn(&mut Settings),
) -> (Arc<tempfile::TempDir>, Settings) {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut settings = Settings::for_tests();
    settings.database_url = url.to_string();
    settings.data_dir = Some(dir.path().to_path_buf());
    tweak(&mut settings);
    (dir, settings)
}

async fn replica(url: &str, tweak: &impl Fn(&mut Settings)) -> TestApp {
    let (dir, settings) = replica_settings(url, tweak);
    TestApp::spawn_in(dir, settings).await
}

/// A fresh database and two replicas on it; `None` (skipped) without a cluster.
async fn two_replicas(
    what: &str,
    tweak: impl Fn(&mut Settings),
) -> Option<(TempDatabase, TestApp, TestApp)> {
    let cluster = cluster_url(what)?;
    let db = TempDatabase::create(&cluster);
    let a = replica(&db.url, &tweak).await;
    let b = replica(&db.url, &tweak).await;
    Some((db, a, b))
}

/// An open `/_emulator/events` stream, read as it arrives.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(app: &TestApp) -> Stream {
        let response = app
            .client
            .get(app.url("/_emulator/events"))
            .send()
            .await
            .expect("the event stream");
        assert_eq!(response.status(), StatusCode::OK);
        let mut stream = Stream {
            response,
            buffer: String::new(),
        };
        stream.until("ready").await;
        stream
    }

    /// The data of the first event named `name`; panics if none comes within 15 s.
    async fn until(&mut self, name: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        let mut seen = Vec::new();
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let event = block.lines().find_map(|l| l.strip_prefix("event:"));
                let data: String = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                let Some(event) = event.map(str::trim) else {
                    continue;
                };
                if event == name {
                    return serde_json::from_str(&data).unwrap_or(Value::Null);
                }
                seen.push(event.to_string());
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => panic!("no {name} event on the stream; saw {seen:?}"),
            }
        }
    }
}

#[tokio::test]
async fn what_one_replica_does_shows_on_the_others_event_stream() {
    let Some((_db, a, b)) = two_replicas("events across replicas", |_| {}).await else {
        return;
    };
    let mut on_b = Stream::open(&b).await;
    let created = create(&a, &[("PhoneNumber", "+14155550181")]).await;
    let call = call_sid(&created);
    let step = on_b.until("call.step").await;
    assert_eq!(step["call_sid"], call.as_str());
    let caller_id = on_b.until("caller_id.created").await;
    assert_eq!(caller_id["phone_number"], "+14155550181");
    assert_eq!(caller_id["account_sid"], SID);
    let journalled = on_b.until("request.journalled").await;
    assert_eq!(journalled["method"], "POST");
    assert_eq!(
        journalled["path"],
        format!("/2010-04-01/Accounts/{SID}/OutgoingCallerIds.json")
    );
    assert_eq!(journalled["error_code"], Value::Null, "{journalled}");
    // A failed request's error code crosses to the other replica too.
    let missing = "/OutgoingCallerIds/PN00000000000000000000000000000000.json";
    let missing = send(own(&a, &dev(), reqwest::Method::GET, missing)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let journalled = on_b.until("request.journalled").await;
    assert_eq!(journalled["status"], 404);
    assert_eq!(journalled["error_code"], 20404, "{journalled}");

    // And the other way: a reset made on B shows on A's stream, and empties A's lists.
    let mut on_a = Stream::open(&a).await;
    let reset = b
        .client
        .post(b.url("/_emulator/reset"))
        .send()
        .await
        .expect("reset");
    assert_eq!(reset.status(), StatusCode::OK);
    on_a.until("reset").await;
    assert!(caller_ids(&a, &dev()).await.is_empty());
    assert!(callbacks(&a, "").await.is_empty());
    a.stop().await;
    b.stop().await;
}

/// The next payload on the replicas' NOTIFY channel, as JSON.
async fn next_payload(raw: &mut sqlx::postgres::PgListener) -> Value {
    let got = tokio::time::timeout(Duration::from_secs(15), raw.recv())
        .await
        .expect("a NOTIFY within 15 s")
        .expect("the channel");
    serde_json::from_str(got.payload()).expect("a JSON payload")
}

#[tokio::test]
async fn events_cross_replicas_only_while_one_has_a_reader_and_from_its_ready_on() {
    // Slow enough that a validation request leaves a call pending: a wake-up for the others.
    let tweak = |s: &mut Settings| s.time_scale = 0.2;
    let Some((db, a, b)) = two_replicas("events only while read", tweak).await else {
        return;
    };
    let mut raw = sqlx::postgres::PgListener::connect(&db.url)
        .await
        .expect("a connection of the test's own");
    raw.listen("callerid_events").await.expect("LISTEN");
    // Nobody reads events anywhere: A's requests are announced to nobody, its wake-up is.
    for _ in 0..5 {
        caller_ids(&a, &dev()).await;
    }
    create(&a, &[("PhoneNumber", "+14155550191")]).await;
    loop {
        let payload = next_payload(&mut raw).await;
        let events = payload["e"].as_array().map_or(0, Vec::len);
        assert_eq!(
            events, 0,
            "an event announced with no reader anywhere: {payload}"
        );
        if payload["c"] == true {
            break;
        }
    }

    // Once B's reader got `ready`, A's very next request shows on it.
    let mut on_b = Stream::open(&b).await;
    caller_ids(&a, &dev()).await;
    let journalled = on_b.until("request.journalled").await;
    assert_eq!(journalled["method"], "GET");
    assert_eq!(
        journalled["path"],
        format!("/2010-04-01/Accounts/{SID}/OutgoingCallerIds.json")
    );

    // A replica that starts while B has a reader announces to it from its first request on.
    let c = replica(&db.url, &tweak).await;
    let call = call_sid(&create(&c, &[("PhoneNumber", "+14155550192")]).await);
    loop {
        let step = on_b.until("call.step").await;
        if step["call_sid"] == call.as_str() {
            break;
        }
    }
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

#[tokio::test]
async fn a_call_left_by_a_stopped_replica_is_finished_by_another() {
    // Slow enough that the call is still under way when its replica stops.
    let Some((_db, a, b)) = two_replicas("calls across replicas", |s| s.time_scale = 0.2).await
    else {
        return;
    };
    let receiver = Receiver::start().await;
    let call = create_with_callback(&a, "+14155550182", "correct-code", &receiver).await;
    a.stop().await;
    let ended = b.wait_call_ended(&call).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    let got = wait_callback(&receiver, &call).await;
    assert_eq!(got.param("CallSid").as_deref(), Some(call.as_str()));
    b.stop().await;
}

#[tokio::test]
async fn a_callback_held_by_a_replica_that_stopped_sending_is_sent_by_another_after_its_lease() {
    // One attempt fails and the second is due in an hour: the callback waits, pending.
    let tweak = |s: &mut Settings| {
        s.callback_attempts = 3;
        s.callback_retry_delay_ms = 3_600_000;
        s.callback_timeout_ms = 1_000;
    };
    let Some(cluster) = cluster_url("callback leases across replicas") else {
        return;
    };
    let db = TempDatabase::create(&cluster);
    let receiver = Receiver::start_with_status(StatusCode::INTERNAL_SERVER_ERROR).await;
    let a = replica(&db.url, &tweak).await;
    let call = create_with_callback(&a, "+14155550183", "correct-code", &receiver).await;
    receiver.wait_for(1).await;
    wait_callback_state(&a, &call, "pending").await;
    a.stop().await;

    // A replica that claims it and then does nothing: alive (it holds its replica lock), so
    // no start-up takes its callbacks; only the lease (an attempt's timeout and a margin)
    // ends its claim.
    let stuck = Store::connect(&db.url, 2).await.expect("a stuck replica");
    stuck.set_callback_timeout(Duration::from_millis(1));
    let claimed = stuck
        .claim_due_callbacks(i64::MAX, 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);

    let b = replica(&db.url, &tweak).await;
    let got = wait_for(Duration::from_secs(30), || async {
        let got = receiver.received();
        (got.len() >= 2).then_some(got)
    })
    .await
    .expect("the callback sent again once its lease ran out");
    let token = |i: usize| got[i].header("I-Twilio-Idempotency-Token");
    assert!(token(0).is_some());
    assert_eq!(token(1), token(0));
    let query = format!("?call_sid={call}");
    let recorded = wait_for(Duration::from_secs(10), || async {
        let journal = callbacks(&b, &query).await;
        let attempts = journal.first()?["attempts"].as_array()?.len();
        (attempts == 2).then_some(())
    })
    .await;
    assert!(recorded.is_some(), "B's attempt is recorded");
    b.stop().await;
    stuck.close().await;
}

#[tokio::test]
async fn every_replica_lists_the_same_request_journal_bounded_and_reset_by_any() {
    let Some((_db, a, b)) = two_replicas("the request journal across replicas", |s| {
        s.request_journal_size = 5
    })
    .await
    else {
        return;
    };
    for (i, app) in [&a, &b, &a].into_iter().enumerate() {
        let phone = format!("+1415555019{i}");
        create(app, &[("PhoneNumber", &phone)]).await;
    }
    // Read on A at once (A writes what waits before it reads); B's request is in the
    // database once B's writer has run, within its batch delay.
    let listed = wait_for(Duration::from_secs(10), || async {
        let on_a = journal_of(&a, SID).await;
        (on_a.len() == 3).then_some(on_a)
    })
    .await
    .expect("A lists the three requests");
    let phones: Vec<&str> = listed
        .iter()
        .map(|r| r["params"]["PhoneNumber"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(phones, ["+14155550190", "+14155550191", "+14155550192"]);
    assert_eq!(journal_of(&b, SID).await, listed);

    // Bounded by --request-journal-size across the replicas: the oldest go.
    for app in [&b, &a, &b] {
        let list = format!("/2010-04-01/Accounts/{SID}/OutgoingCallerIds.json");
        let reply = send(app.get(&app.url(&list))).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let bounded = wait_for(Duration::from_secs(10), || async {
        let on_b = journal_of(&b, SID).await;
        let gets = on_b.iter().filter(|r| r["method"] == "GET").count();
        (gets == 3).then_some(on_b)
    })
    .await;
    let all = bounded.unwrap_or_else(|| panic!("B lists the three GETs"));
    let methods: Vec<&str> = all
        .iter()
        .map(|r| r["method"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(methods, ["POST", "POST", "GET", "GET", "GET"]);
    assert_eq!(all[0]["params"]["PhoneNumber"], "+14155550191");

    let reset = a
        .client
        .post(a.url("/_emulator/reset"))
        .send()
        .await
        .expect("reset");
    assert_eq!(reset.status(), StatusCode::OK);
    assert!(journal_of(&b, SID).await.is_empty());
    a.stop().await;
    b.stop().await;
}
