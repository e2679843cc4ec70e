//! Operation: limits answered with Twilio's error body, the bounded request journal, health
//! and metrics.

use crate::helpers::*;

#[tokio::test]
async fn oversized_body_gets_413_with_twilio_body() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 1024).await;
    let big = "x".repeat(4096);
    let response = app
        .post_form(
            &app.api("/OutgoingCallerIds.json"),
            &[("FriendlyName", &big)],
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 413);
    let body = json_of(response).await;
    assert_eq!(body["status"], 413);
    assert_eq!(body["code"], 20001);
    assert!(body["message"].as_str().unwrap_or("").contains("1024"));
}

#[tokio::test]
async fn oversized_headers_get_431_with_twilio_body() {
    let app = TestApp::spawn_with(|s| s.max_header_bytes = 512).await;
    let response = app
        .get(&app.api("/OutgoingCallerIds"))
        .header("X-Padding", "y".repeat(2048))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 431);
    let text = response.text().await.expect("text");
    assert!(text.starts_with("<?xml version='1.0' encoding='UTF-8'?>\n<TwilioResponse><RestException><Code>20001</Code>"), "{text}");
}

#[tokio::test]
async fn request_timeout_gets_408_with_twilio_body() {
    // No time at all: the request is answered 408 before its handler runs.
    let app = TestApp::spawn_with(|s| s.request_timeout_ms = 0).await;
    let response = app
        .get(&app.api("/Calls/CA00000000000000000000000000000001.json"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 408);
    let body = json_of(response).await;
    assert_eq!(body["status"], 408);
    assert_eq!(
        body["more_info"],
        "https://www.twilio.com/docs/errors/20001"
    );
}

#[tokio::test]
async fn request_journal_is_bounded_and_newest_first() {
    let app = TestApp::spawn_with(|s| s.request_journal_size = 3).await;
    for name in ["a", "b", "c", "d", "e"] {
        let status = app
            .get(&app.api(&format!("/OutgoingCallerIds.json?FriendlyName={name}")))
            .send()
            .await
            .expect("send")
            .status();
        assert_eq!(status, 200);
    }
    let journal = json_of(
        app.client
            .get(app.url("/_emulator/requests"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    let requests = journal["requests"].as_array().expect("array");
    let names: Vec<&str> = requests
        .iter()
        .map(|r| r["query"]["FriendlyName"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["e", "d", "c"]);
}

#[tokio::test]
async fn health_and_metrics() {
    let app = TestApp::spawn().await;
    let health = app
        .client
        .get(app.url("/_emulator/health"))
        .send()
        .await
        .expect("send");
    assert_eq!(health.status(), 200);
    assert_eq!(json_of(health).await["status"], "ok");

    seed_in(&app, SID, "+14155550123", None).await;
    let created = app
        .post_form(
            &app.api("/OutgoingCallerIds.json"),
            &[("PhoneNumber", "+14155550124")],
        )
        .send()
        .await
        .expect("send");
    assert_eq!(created.status(), 200);
    let call_sid = json_of(created).await["call_sid"]
        .as_str()
        .expect("call_sid")
        .to_string();
    app.wait_call_ended(&call_sid).await;
    let missing = app
        .get(&app.api("/OutgoingCallerIds/PN00000000000000000000000000000000.json"))
        .send()
        .await
        .expect("send");
    assert_eq!(missing.status(), 404);

    let response = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert!(response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .starts_with("text/plain"));
    let text = response.text().await.expect("text");
    for line in [
        "callerid_http_requests_total{method=\"POST\",route=\"/2010-04-01/Accounts/{account}/{list}\",status=\"200\"} 1",
        "callerid_http_requests_total{method=\"GET\",route=\"/2010-04-01/Accounts/{account}/OutgoingCallerIds/{sid}\",status=\"404\"} 1",
        "callerid_validation_requests_total 1",
        "callerid_calls_ended_total{status=\"completed\"} 1",
        "callerid_pending_calls 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(text.contains("callerid_http_request_duration_seconds_bucket{le=\"+Inf\"}"));
}

#[tokio::test]
async fn health_and_metrics_stay_open_when_the_control_api_is_protected() {
    let app = TestApp::spawn_with(|s| s.control_token = Some("secret".into())).await;
    let health = app
        .client
        .get(app.url("/_emulator/health"))
        .send()
        .await
        .expect("send");
    assert_eq!(health.status(), 200);
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("send");
    assert_eq!(metrics.status(), 200);
    let reset = app
        .client
        .post(app.url("/_emulator/reset"))
        .send()
        .await
        .expect("send");
    assert_eq!(reset.status(), 401);
    assert_eq!(json_of(reset).await["code"], 20003);
}

#[tokio::test]
async fn a_body_that_stalls_gets_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|s| s.request_timeout_ms = 300).await;
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /2010-04-01/Accounts/{SID}/OutgoingCallerIds.json HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nPhone"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read(&mut buf))
        .await
        .expect("the server answers a stalled body")
        .expect("read");
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"code\": 20001"), "{text}");
}

#[tokio::test]
async fn unsupported_methods_on_the_control_api_get_twilio_405() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (reqwest::Method::PUT, "/_emulator/accounts"),
        (reqwest::Method::POST, "/_emulator/events"),
        (reqwest::Method::DELETE, "/_emulator/reset"),
        (reqwest::Method::POST, "/_emulator/health"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 405, "{method} {path}");
        let body = json_of(response).await;
        assert_eq!(body["code"], 20004, "{method} {path}");
    }
}

#[tokio::test]
async fn unknown_paths_share_one_metrics_label() {
    let app = TestApp::spawn().await;
    for i in 0..3 {
        let status = app
            .client
            .get(app.url(&format!("/random-{i}/x")))
            .send()
            .await
            .expect("send")
            .status();
        assert_eq!(status, 404);
    }
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(!text.contains("random-"), "{text}");
    assert!(
        text.contains(
            "callerid_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 3"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn control_characters_never_reach_xml() {
    let app = TestApp::spawn().await;
    // A FriendlyName XML cannot carry is refused ...
    let response = app
        .post_form(
            &app.api("/OutgoingCallerIds.json"),
            &[("PhoneNumber", "+14155550190"), ("FriendlyName", "a\u{1}b")],
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    assert_eq!(json_of(response).await["code"], 20001);
    // ... and input echoed into an XML error message is made safe.
    let response = app
        .post_form(&app.api("/OutgoingCallerIds"), &[("PhoneNumber", "1\u{1}")])
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    let text = response.text().await.expect("text");
    assert!(text.contains("<Code>21421</Code>"), "{text}");
    assert!(!text.contains('\u{1}'), "{text:?}");
    assert!(text.contains('\u{FFFD}'), "{text:?}");
}
