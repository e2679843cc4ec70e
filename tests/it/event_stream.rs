//! `GET /_emulator/events` read by a real HTTP client (Issue 12): the events of a validation
//! request arrive as SSE, the account filter works, the control token is required when set (as
//! a header or `?token=`), and the stream is not served with the control API off.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// An open event stream, parsed as it arrives.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(app: &TestApp, query: &str) -> Stream {
        let response = app
            .client
            .get(app.url(&format!("/_emulator/events{query}")))
            .send()
            .await
            .expect("the event stream");
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().unwrap_or("");
        assert_eq!(content_type, "text/event-stream");
        let mut stream = Stream {
            response,
            buffer: String::new(),
        };
        let (name, _) = stream.next().await.expect("the ready event");
        assert_eq!(name, "ready");
        stream
    }

    /// The next event (name and data), or `None` if none comes within 10 s.
    async fn next(&mut self) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                match name {
                    // A keep-alive comment.
                    None => continue,
                    Some(name) => {
                        let data = serde_json::from_str(&data).expect("JSON data");
                        return Some((name, data));
                    }
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// Every event until one named `last` (included).
    async fn until(&mut self, last: &str) -> Vec<(String, Value)> {
        let mut seen = Vec::new();
        while let Some(event) = self.next().await {
            let done = event.0 == last;
            seen.push(event);
            if done {
                return seen;
            }
        }
        panic!("no {last} event; saw {seen:?}");
    }
}

#[tokio::test]
async fn a_validation_request_streams_its_steps_caller_id_and_callback() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let mut stream = Stream::open(&app, "").await;
    let created = create(
        &app,
        &[
            ("PhoneNumber", "+14155550180"),
            ("StatusCallback", &receiver.url),
        ],
    )
    .await;
    let call = call_sid(&created);
    let seen = stream.until("callback.attempted").await;
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"request.journalled"), "{names:?}");
    assert!(names.contains(&"caller_id.created"), "{names:?}");
    let steps: Vec<&str> = seen
        .iter()
        .filter(|(n, d)| n == "call.step" && d["call_sid"] == call.as_str())
        .filter_map(|(_, d)| d["kind"].as_str())
        .collect();
    assert_eq!(steps, ["queued", "ringing", "in-progress", "completed"]);
    let (_, created_id) = seen
        .iter()
        .find(|(n, _)| n == "caller_id.created")
        .expect("caller_id.created");
    assert_eq!(created_id["phone_number"], "+14155550180");
    assert_eq!(created_id["account_sid"], SID);
    let (_, attempt) = seen.last().expect("an attempt");
    assert_eq!(attempt["state"], "delivered");
    assert_eq!(attempt["status_code"], 200);
    assert!(attempt["signature"].as_str().is_some_and(|s| !s.is_empty()));
    let (_, completed) = seen
        .iter()
        .rfind(|(n, _)| n == "call.step")
        .expect("a step");
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["verification_status"], "success");
}

#[tokio::test]
async fn the_account_filter_keeps_other_accounts_out() {
    let app = TestApp::spawn().await;
    let other = new_account(&app).await;
    let mut mine = Stream::open(&app, &format!("?account_sid={}", other.sid)).await;
    // A change on the dev account first, then one on the other: only the second arrives.
    seed_in(&app, SID, "+14155550181", Some("dev's")).await;
    seed_in(&app, &other.sid, "+14155550182", Some("other's")).await;
    let (name, data) = mine.next().await.expect("an event");
    assert_eq!(name, "caller_id.created");
    assert_eq!(data["account_sid"], other.sid.as_str());
    assert_eq!(data["friendly_name"], "other's");

    let bad = send(
        app.client
            .get(app.url("/_emulator/events?account_sid=nope")),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
}

#[tokio::test]
async fn the_stream_needs_the_control_token_when_one_is_set() {
    let app = TestApp::spawn_with(|s| s.control_token = Some("str3am".into())).await;
    let none = send(app.client.get(app.url("/_emulator/events"))).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let wrong = send(app.client.get(app.url("/_emulator/events?token=nope"))).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    Stream::open(&app, "?token=str3am").await;
    let header = app
        .client
        .get(app.url("/_emulator/events"))
        .bearer_auth("str3am")
        .send()
        .await
        .expect("stream");
    assert_eq!(header.status(), StatusCode::OK);
    // `?token=` opens the stream only, not the rest of the control API.
    let other = send(app.client.get(app.url("/_emulator/requests?token=str3am"))).await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn no_stream_without_the_control_api() {
    let app = TestApp::spawn_with(|s| s.control_api = false).await;
    let reply = send(app.client.get(app.url("/_emulator/events"))).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_reader_that_falls_behind_gets_a_resync() {
    let app = TestApp::spawn().await;
    let mut stream = Stream::open(&app, "").await;
    // Far more events than the backlog, while this reader reads nothing.
    for _ in 0..20_000 {
        app.state
            .service
            .events()
            .publish(|| vec![callerid_emulator::domain::event::Event::Reset]);
    }
    let mut names = Vec::new();
    while let Some((name, _)) = stream.next().await {
        let done = name == "resync";
        names.push(name);
        if done {
            break;
        }
    }
    assert_eq!(names.last().map(String::as_str), Some("resync"));
}

#[tokio::test]
async fn a_burst_beyond_the_backlog_is_reported_as_missed_and_the_rest_arrives_in_order() {
    let app = TestApp::spawn_with(|s| s.event_backlog = 10).await;
    let mut stream = Stream::open(&app, "").await;
    // 25 events at once, before the dispatcher can send any: 10 wait, 15 are dropped.
    let events = app.state.service.events();
    events.publish(|| {
        (0..25)
            .map(|_| callerid_emulator::domain::event::Event::Reset)
            .collect()
    });
    let (name, data) = stream.next().await.expect("an event");
    assert_eq!(name, "resync");
    assert_eq!(data["missed"], 15);
    for _ in 0..10 {
        let (name, _) = stream.next().await.expect("a reset");
        assert_eq!(name, "reset");
    }
    // Then the stream goes on as before.
    seed_in(&app, SID, "+14155550183", Some("after")).await;
    let (name, data) = stream.next().await.expect("an event");
    assert_eq!(name, "caller_id.created");
    assert_eq!(data["friendly_name"], "after");
}

#[tokio::test]
async fn an_open_stream_does_not_hold_up_shutdown() {
    let app = TestApp::spawn().await;
    let mut stream = Stream::open(&app, "").await;
    let stopped = tokio::time::timeout(Duration::from_secs(10), app.stop()).await;
    assert!(stopped.is_ok(), "the server stopped with a stream open");
    // The stream ended with the server.
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn request_journalled_events_carry_the_error_code() {
    let app = TestApp::spawn().await;
    let mut stream = Stream::open(&app, "").await;
    let missing = "/OutgoingCallerIds/PN00000000000000000000000000000000.json";
    let reply = send(own(&app, &dev(), reqwest::Method::GET, missing)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    let (_, failed) = stream.until("request.journalled").await.pop().expect("one");
    assert_eq!(failed["path"], path_of(SID, missing));
    assert_eq!(failed["status"], 404);
    assert_eq!(failed["error_code"], 20404, "{failed}");

    let reply = send(own(
        &app,
        &dev(),
        reqwest::Method::GET,
        "/OutgoingCallerIds.json",
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let (_, listed) = stream.until("request.journalled").await.pop().expect("one");
    assert_eq!(listed["status"], 200);
    assert!(
        listed
            .as_object()
            .is_some_and(|d| d.contains_key("error_code")),
        "{listed}"
    );
    assert_eq!(listed["error_code"], Value::Null);
}
