//! Fault rules (Issue 13): `POST/GET/DELETE /_emulator/faults`, what each action does to the
//! Twilio API requests a rule matches (Twilio's error body and the request not processed; a
//! delay, then the real answer; a connection closed without an answer), the marks in the
//! request journal, the checks of a rule, and the reset.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

const LIST: &str = "/OutgoingCallerIds.json";

async fn calls_of(app: &TestApp, account: &str) -> usize {
    let url = app.url(&format!("/_emulator/calls?account_sid={account}"));
    let reply = send(app.client.get(url)).await;
    reply.json()["calls"].as_array().expect("calls").len()
}

#[tokio::test]
async fn status_rules_answer_twilio_errors_and_nothing_is_processed() {
    let app = TestApp::spawn().await;
    let other = new_account(&app).await;
    let rule = add_fault(
        &app,
        json!({"account_sid": SID, "method": "POST", "resource": "OutgoingCallerIds", "times": 2,
               "action": {"status": 429, "code": 20429, "retry_after": 2}}),
    )
    .await;
    let id = rule["id"].as_str().expect("id");
    assert!(id.starts_with("FR") && id.len() == 34, "{rule}");
    assert_eq!(rule["hits"], 0);
    assert_eq!(
        rule["action"],
        json!({"status": 429, "code": 20429, "message": "Too Many Requests", "retry_after": 2})
    );

    let create = || own(&app, &dev(), Method::POST, LIST).form(&[("PhoneNumber", "+14155550100")]);
    for _ in 0..2 {
        let reply = send(create()).await;
        assert_eq!(json_error(&reply, 429, 20429), "Too Many Requests");
        assert_eq!(reply.header("retry-after"), "2");
        assert!(reply.header("twilio-request-id").starts_with("RQ"));
    }
    assert_eq!(
        calls_of(&app, SID).await,
        0,
        "a faulted request is not processed"
    );
    // Other methods and other accounts are not matched; after two hits the rule is spent.
    assert_eq!(send(own(&app, &dev(), Method::GET, LIST)).await.status, 200);
    let reply =
        send(own(&app, &other, Method::POST, LIST).form(&[("PhoneNumber", "+14155550101")])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(send(create()).await.status, 200);
    assert_eq!(calls_of(&app, SID).await, 1);
    assert_eq!(hits_of(&app, id).await, 2);

    // Default codes and messages; the error in the path's format (XML without a suffix).
    add_fault(
        &app,
        json!({"resource": "Calls", "action": {"status": 503}}),
    )
    .await;
    let call = "/Calls/CA0123456789abcdef0123456789abcdef";
    let reply = send(own(&app, &dev(), Method::GET, call)).await;
    assert_eq!(xml_error(&reply, 503, 20503), "Service Unavailable");
    assert_eq!(
        reply.header("retry-after"),
        "",
        "no Retry-After unless asked"
    );
    add_fault(
        &app,
        json!({"resource": "OutgoingCallerIds", "method": "delete",
                           "action": {"status": 500, "message": "boom"}}),
    )
    .await;
    let reply = send(own(
        &app,
        &dev(),
        Method::DELETE,
        "/OutgoingCallerIds/PN0123456789abcdef0123456789abcdef.json",
    ))
    .await;
    assert_eq!(json_error(&reply, 500, 20500), "boom");
}

#[tokio::test]
async fn rules_match_lists_instances_and_suffixes_and_the_journal_marks_them() {
    let app = TestApp::spawn().await;
    let caller = seed_in(&app, SID, "+14155550100", None).await;
    let sid = caller["sid"].as_str().expect("sid");
    let rule = add_fault(
        &app,
        json!({"resource": "OutgoingCallerIds", "action": {"status": 500}}),
    )
    .await;
    for rest in [
        "/OutgoingCallerIds".to_string(),
        "/OutgoingCallerIds.csv".to_string(),
        format!("/OutgoingCallerIds/{sid}.json"),
        format!("/OutgoingCallerIds/{sid}.xml"),
    ] {
        assert_eq!(
            send(own(&app, &dev(), Method::GET, &rest)).await.status,
            500,
            "{rest}"
        );
    }
    assert_eq!(
        send(own(
            &app,
            &dev(),
            Method::GET,
            "/Calls/CA0123456789abcdef0123456789abcdef.json"
        ))
        .await
        .status,
        404
    );
    assert_eq!(hits_of(&app, rule["id"].as_str().expect("id")).await, 4);

    let journal = journal_of(&app, SID).await;
    assert_eq!(journal.len(), 5);
    for entry in &journal[..4] {
        assert_eq!(entry["status"], 500);
        assert_eq!(entry["fault"]["id"], rule["id"]);
        assert_eq!(entry["fault"]["action"], rule["action"]);
    }
    assert_eq!(journal[4]["fault"], Value::Null);
}

#[tokio::test]
async fn a_delay_then_the_real_answer() {
    let app = TestApp::spawn().await;
    let caller = seed_in(&app, SID, "+14155550100", None).await;
    add_fault(
        &app,
        json!({"account_sid": SID, "times": 1, "action": {"delay_ms": 300}}),
    )
    .await;
    let reply = send(own(&app, &dev(), Method::GET, LIST)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["outgoing_caller_ids"], json!([caller]));
    let journal = journal_of(&app, SID).await;
    assert!(
        journal[0]["duration_ms"].as_f64().expect("ms") >= 300.0,
        "{}",
        journal[0]
    );
    assert_eq!(journal[0]["fault"]["action"], json!({"delay_ms": 300}));
}

#[tokio::test]
async fn a_drop_closes_the_connection_without_an_answer() {
    let app = TestApp::spawn().await;
    let rule = add_fault(
        &app,
        json!({"method": "GET", "times": 1, "action": {"drop": true}}),
    )
    .await;
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let request = format!(
        "GET /2010-04-01/Accounts/{SID}/OutgoingCallerIds.json HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\n\r\n",
        basic(SID, TOKEN)
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    // End of stream or a reset, with not one byte of an answer either way.
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection was closed");
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    // reqwest sees an error, not a response; the next request is answered.
    add_fault(&app, json!({"times": 1, "action": {"drop": true}})).await;
    assert!(own(&app, &dev(), Method::GET, LIST).send().await.is_err());
    assert_eq!(send(own(&app, &dev(), Method::GET, LIST)).await.status, 200);
    let journal = journal_of(&app, SID).await;
    assert_eq!(
        (
            journal[0]["status"].clone(),
            journal[0]["fault"]["id"].clone()
        ),
        (json!(0), rule["id"].clone())
    );
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[tokio::test]
async fn probability_times_order_delete_and_reset() {
    let app = TestApp::spawn().await;
    let never = add_fault(&app, json!({"probability": 0, "action": {"status": 500}})).await;
    add_fault(
        &app,
        json!({"probability": 1.0, "times": 3, "action": {"status": 503}}),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            send(own(&app, &dev(), Method::GET, LIST))
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(statuses, [503, 503, 503, 200, 200]);
    let rules = faults(&app).await;
    assert_eq!(
        rules.iter().map(|r| r["hits"].clone()).collect::<Vec<_>>(),
        [json!(0), json!(3)]
    );
    assert_eq!(rules[0]["id"], never["id"], "in the order made");

    let delete = |path: String| send(app.client.delete(app.url(&path)));
    let never_path = format!("/_emulator/faults/{}", never["id"].as_str().expect("id"));
    assert_eq!(
        delete(never_path.clone()).await.status,
        StatusCode::NO_CONTENT
    );
    json_error(&delete(never_path).await, 404, 20404);
    assert_eq!(faults(&app).await.len(), 1);
    assert_eq!(
        delete("/_emulator/faults".into()).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(faults(&app).await.is_empty());

    add_fault(&app, json!({"action": {"status": 500}})).await;
    add_fault(&app, json!({"action": {"drop": true}})).await;
    let reset = send(app.client.post(app.url("/_emulator/reset"))).await;
    assert_eq!(reset.status, 200);
    assert!(faults(&app).await.is_empty(), "reset clears the rules");
    assert_eq!(send(own(&app, &dev(), Method::GET, LIST)).await.status, 200);
}

#[tokio::test]
async fn bad_rules_are_refused_with_a_reason() {
    let app = TestApp::spawn().await;
    let cases: [(&str, &str); 19] = [
        ("", "action"),
        ("{", "JSON"),
        (r#"{"action": {"status": 429}, "nope": 1}"#, "nope"),
        (r#"{"action": {"status": 429, "nope": 1}}"#, "nope"),
        (
            r#"{"resource": "Messages", "action": {"status": 429}}"#,
            "resource",
        ),
        (
            r#"{"method": "FETCH", "action": {"status": 429}}"#,
            "method",
        ),
        (
            r#"{"account_sid": "AC1", "action": {"status": 429}}"#,
            "account_sid",
        ),
        (r#"{"times": 0, "action": {"status": 429}}"#, "times"),
        (r#"{"times": -1, "action": {"status": 429}}"#, "times"),
        (
            r#"{"probability": 1.5, "action": {"status": 429}}"#,
            "probability",
        ),
        (
            r#"{"probability": -0.1, "action": {"status": 429}}"#,
            "probability",
        ),
        (r#"{"action": {}}"#, "one of"),
        (r#"{"action": {"status": 429, "drop": true}}"#, "several"),
        (r#"{"action": {"delay_ms": 5, "drop": true}}"#, "several"),
        (r#"{"action": {"status": 302}}"#, "status"),
        (r#"{"action": {"code": 20429}}"#, "status"),
        (r#"{"action": {"drop": false}}"#, "drop"),
        (r#"{"action": {"delay_ms": -5}}"#, "delay_ms"),
        (r#"{"method": "head", "action": {"drop": true}}"#, "HEAD"),
    ];
    for (body, word) in cases {
        let reply = send(
            app.client
                .post(app.url("/_emulator/faults"))
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        let message = json_error(&reply, 400, 20001);
        assert!(message.contains(word), "{body}: {message}");
    }
    assert!(faults(&app).await.is_empty());

    // With a control token, the fault API needs it like the rest of the control API.
    let locked = TestApp::spawn_with(|s| s.control_token = Some("secret".into())).await;
    let rule = json!({"action": {"drop": true}});
    let reply = send(
        locked
            .client
            .post(locked.url("/_emulator/faults"))
            .json(&rule),
    )
    .await;
    json_error(&reply, 401, 20003);
    let reply = send(
        locked
            .client
            .post(locked.url("/_emulator/faults"))
            .bearer_auth("secret")
            .json(&rule),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
}
