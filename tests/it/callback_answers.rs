//! How a StatusCallback reaches its receiver and what its answer settles: through the proxy of
//! the environment when one is set, and ended by the status whatever the body then does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::*;

/// A receiver that answers 200 and then never finishes its body has answered: the attempt is
/// delivered with 200, not retried (a retry would deliver the callback twice).
#[tokio::test]
async fn an_answer_whose_body_stalls_is_delivered_and_not_retried() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/cb", listener.local_addr().expect("addr"));
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0_u8; 4096];
            let _ = socket.read(&mut buf).await;
            // The head and 2 of the 100 bytes announced, then nothing, connection kept open.
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nok")
                .await;
            held.push(socket);
        }
    });
    let app = TestApp::spawn_with(|s| {
        s.callback_attempts = 2;
        s.callback_retry_delay_ms = 50;
        s.callback_timeout_ms = 300;
    })
    .await;
    let created = create(
        &app,
        &[("PhoneNumber", "+14155550159"), ("StatusCallback", &url)],
    )
    .await;
    let journal = wait_callback_state(&app, &call_sid(&created), "delivered").await;
    let attempts = journal["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{journal}");
    assert_eq!(attempts[0]["status_code"], 200);
    assert!(attempts[0]["error"].is_null(), "{journal}");
    // Past the timeout and the retry delay: still one request.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    assert_eq!(
        callbacks(&app, &format!("?call_sid={}", call_sid(&created))).await[0]["attempts"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

/// With a proxy set in the emulator's environment, a plain-HTTP StatusCallback goes through it
/// (absolute-form request line), as reqwest sends it; the receiver's name is not resolved here.
#[tokio::test]
async fn a_callback_goes_through_the_proxy_set_in_the_environment() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let proxy_url = format!("http://{}", proxy.local_addr().expect("addr"));
    let (seen, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = proxy.accept().await {
            let mut buf = vec![0_u8; 8192];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let _ = seen.send(head.lines().next().unwrap_or("").to_string());
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let dir = tempfile::tempdir().expect("dir");
    let emulator = Emulator::start(
        dir.path(),
        &["--time-scale", "0"],
        &[("HTTP_PROXY", proxy_url.as_str()), ("NO_PROXY", "")],
    )
    .await;
    let reply = emulator
        .client()
        .post(emulator.api("/OutgoingCallerIds.json"))
        .basic_auth(DEV_SID, Some(DEV_TOKEN))
        .form(&[
            ("PhoneNumber", "+14155550191"),
            ("StatusCallback", "http://callbacks.invalid/status"),
        ])
        .send()
        .await
        .expect("validation request");
    assert_eq!(reply.status().as_u16(), 200);
    let line = tokio::time::timeout(Duration::from_secs(20), lines.recv())
        .await
        .expect("the proxy got the callback")
        .expect("a request line");
    assert_eq!(line, "POST http://callbacks.invalid/status HTTP/1.1");
    let (exit, logs) = emulator.terminate().await;
    assert!(exit.success(), "{logs}");
}
