//! Any client, unchanged (issue 11): the local CA, the TLS listener and the forward proxy,
//! driven by a real HTTP client that knows only `https://api.twilio.com`, trusting the CA.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Certificate, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::*;

const TWILIO: &str = "https://api.twilio.com/2010-04-01/Accounts";

async fn edges() -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let settings = test_settings(&dir);
    TestApp::spawn_with_edges(dir, settings).await
}

async fn ca_pem(app: &TestApp) -> String {
    let response = app
        .client
        .get(app.url("/_emulator/ca.pem"))
        .send()
        .await
        .expect("ca.pem");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("application/x-pem-file")
    );
    response.text().await.expect("pem")
}

/// A client that trusts only the emulator's CA.
async fn trusting(app: &TestApp) -> reqwest::ClientBuilder {
    let ca = Certificate::from_pem(ca_pem(app).await.as_bytes()).expect("certificate");
    reqwest::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
}

fn proxy_url(app: &TestApp) -> String {
    format!("http://{}", app.proxy.expect("proxy"))
}

/// The request journal, newest first.
async fn journal(app: &TestApp) -> Vec<Value> {
    let journal: Value = app
        .client
        .get(app.url("/_emulator/requests"))
        .send()
        .await
        .expect("journal")
        .json()
        .await
        .expect("json");
    journal["requests"].as_array().cloned().unwrap_or_default()
}

async fn last_request(app: &TestApp) -> Value {
    journal(app).await.first().cloned().unwrap_or_default()
}

#[tokio::test]
async fn the_ca_is_served_written_to_the_data_folder_and_kept_across_restarts() {
    let app = edges().await;
    let pem = ca_pem(&app).await;
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let file = app.dir.path().join("callerid-emulator-ca.pem");
    assert_eq!(std::fs::read_to_string(&file).expect("CA file"), pem);
    let dir = app.stop().await;
    let again = TestApp::spawn_with_edges(dir.clone(), test_settings(&dir)).await;
    assert_eq!(ca_pem(&again).await, pem, "the same CA after a restart");
    // And a server certificate of the new start still chains to it.
    let client = trusting(&again)
        .await
        .proxy(reqwest::Proxy::https(proxy_url(&again)).expect("proxy"))
        .build()
        .expect("client");
    let url = format!("{TWILIO}/{SID}/OutgoingCallerIds.json");
    let response = client.get(&url).basic_auth(SID, Some(TOKEN)).send().await;
    assert_eq!(
        response.expect("through the proxy").status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_client_that_knows_only_api_twilio_com_verifies_a_number_through_the_proxy() {
    let app = edges().await;
    let client = trusting(&app)
        .await
        .proxy(reqwest::Proxy::https(proxy_url(&app)).expect("proxy"))
        .build()
        .expect("client");
    let list = format!("{TWILIO}/{SID}/OutgoingCallerIds.json");
    let created: Value = client
        .post(&list)
        .basic_auth(SID, Some(TOKEN))
        .form(&[
            ("PhoneNumber", "+14155550190"),
            ("FriendlyName", "Via proxy"),
        ])
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    assert_eq!(created["phone_number"], "+14155550190");
    app.wait_call_ended(&call_sid(&created)).await;
    // Keep-alive: the same client, the same tunnel, more requests.
    for _ in 0..3 {
        let page: Value = client
            .get(&list)
            .basic_auth(SID, Some(TOKEN))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        assert_eq!(page["outgoing_caller_ids"][0]["friendly_name"], "Via proxy");
    }
    let entry = last_request(&app).await;
    assert_eq!(entry["host"], "api.twilio.com");
    assert_eq!(entry["via"], "proxy");
}

#[tokio::test]
async fn absolute_form_requests_for_twilio_are_served_and_others_refused() {
    let app = edges().await;
    let client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(proxy_url(&app)).expect("proxy"))
        .build()
        .expect("client");
    let url = format!("http://api.twilio.com/2010-04-01/Accounts/{SID}/OutgoingCallerIds.json");
    let response = client
        .get(&url)
        .basic_auth(SID, Some(TOKEN))
        .send()
        .await
        .expect("served");
    assert_eq!(response.status(), StatusCode::OK);
    let entry = last_request(&app).await;
    assert_eq!(entry["via"], "proxy");
    assert_eq!(entry["host"], "api.twilio.com");
    let other = client
        .get("http://example.com/")
        .send()
        .await
        .expect("answer");
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    let reason = other.text().await.expect("text");
    assert!(
        reason.contains("example.com is not a Twilio API host"),
        "{reason}"
    );
}

/// What the proxy answers a raw request, its status line.
async fn raw(proxy: SocketAddr, request: String) -> String {
    let mut stream = TcpStream::connect(proxy).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("an answer in time")
        .expect("read");
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn the_proxy_refuses_other_hosts_and_dials_nothing() {
    let app = edges().await;
    let proxy = app.proxy.expect("proxy");
    // A local server that must never be reached through the proxy.
    let target = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = target.local_addr().expect("addr").port();
    for request in [
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".to_string(),
        format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"),
        format!("GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"),
        "CONNECT api.twilio.com:8443 HTTP/1.1\r\nHost: api.twilio.com:8443\r\n\r\n".to_string(),
    ] {
        let status = raw(proxy, request.clone()).await;
        assert!(
            status.starts_with("HTTP/1.1 403"),
            "{request:?} -> {status}"
        );
    }
    let reached = tokio::time::timeout(Duration::from_millis(300), target.accept()).await;
    assert!(reached.is_err(), "the proxy connected to the target");
    let tunnel = raw(
        proxy,
        "CONNECT api.twilio.com:443 HTTP/1.1\r\nHost: api.twilio.com:443\r\n\r\n".to_string(),
    )
    .await;
    assert!(tunnel.starts_with("HTTP/1.1 200"), "{tunnel}");
}

#[tokio::test]
async fn the_tls_listener_serves_the_api_and_the_control_api_under_twilio_names() {
    let app = edges().await;
    let tls = app.tls.expect("tls");
    let client = trusting(&app)
        .await
        .resolve("api.twilio.com", tls)
        .resolve("api.dublin.ie1.twilio.com", tls)
        .build()
        .expect("client");
    for host in ["api.twilio.com", "api.dublin.ie1.twilio.com"] {
        let url = format!(
            "https://{host}:{}/2010-04-01/Accounts/{SID}/OutgoingCallerIds.json",
            tls.port()
        );
        let response = client
            .get(&url)
            .basic_auth(SID, Some(TOKEN))
            .send()
            .await
            .expect("over TLS");
        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
    let entry = last_request(&app).await;
    assert_eq!(entry["via"], "https");
    assert_eq!(
        entry["host"],
        format!("api.dublin.ie1.twilio.com:{}", tls.port())
    );
    let health = trusting(&app)
        .await
        .build()
        .expect("client")
        .get(format!("https://localhost:{}/_emulator/health", tls.port()))
        .send()
        .await
        .expect("health over TLS");
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_fails_its_handshake() {
    let app = edges().await;
    let tls = app.tls.expect("tls");
    let client = reqwest::Client::builder()
        .no_proxy()
        .resolve("api.twilio.com", tls)
        .build()
        .expect("client");
    let url = format!("https://api.twilio.com:{}/2010-04-01/Accounts", tls.port());
    let error = client
        .get(&url)
        .send()
        .await
        .expect_err("an untrusted certificate");
    assert!(error.is_connect() || error.is_request(), "{error:?}");
    // Nothing reached the app.
    assert_eq!(journal(&app).await.len(), 0);
}
