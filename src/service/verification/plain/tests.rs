use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hyper::Method;
use reqwest::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// A receiver that answers each request with the next of `answers` (and closes the connection
/// after it when its flag says so), counting connections and keeping each request.
struct Scripted {
    url: Url,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn scripted(answers: Vec<(&'static [u8], bool)>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = Url::parse(&format!(
        "http://{}/cb?x=1",
        listener.local_addr().expect("addr")
    ))
    .expect("url");
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (count, seen) = (connections.clone(), requests.clone());
    tokio::spawn(async move {
        let mut answers = answers.into_iter();
        'accept: while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            loop {
                let Some(request) = read_request(&mut stream).await else {
                    continue 'accept;
                };
                seen.lock().expect("requests").push(request);
                let Some((answer, close)) = answers.next() else {
                    return;
                };
                let _ = stream.write_all(answer).await;
                if close {
                    continue 'accept;
                }
            }
        }
    });
    Scripted {
        url,
        connections,
        requests,
    }
}

/// One request's head and its `Content-Length` body, as text; `None` once the client closed.
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..at]).to_string();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= at + 4 + length {
                return Some(String::from_utf8_lossy(&buf).to_string());
            }
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn post<'a>(url: &'a Url, headers: &'a [(&'static str, &'a str)]) -> Callout<'a> {
    Callout {
        method: Method::POST,
        url,
        headers,
        body: Some("CallSid=CA1&To=%2B14155550100"),
    }
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn a_kept_connection_carries_the_next_request_after_a_length_or_chunked_body() {
    let receiver = scripted(vec![
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false),
        (
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
            false,
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", false),
    ])
    .await;
    let plain = Plain::default();
    let headers = [("X-Twilio-Signature", "c2ln"), ("Bad", "a\r\nInjected: 1")];
    for want in [200, 201, 204] {
        match plain.send(&post(&receiver.url, &headers), SECOND).await {
            Outcome::Answered(status) => assert_eq!(status, want),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 1);
    let requests = receiver.requests.lock().expect("requests").clone();
    assert_eq!(requests.len(), 3);
    let first = &requests[0];
    let port = receiver.url.port().expect("port");
    assert!(
        first.starts_with(&format!(
            "POST /cb?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        )),
        "{first}"
    );
    assert!(
        first.contains("\r\nX-Twilio-Signature: c2ln\r\n"),
        "{first}"
    );
    assert!(!first.contains("Injected"), "{first}");
    assert!(
        first.ends_with("Content-Length: 29\r\n\r\nCallSid=CA1&To=%2B14155550100"),
        "{first}"
    );
}

#[tokio::test]
async fn an_answer_that_closes_or_has_no_length_is_not_kept() {
    let receiver = scripted(vec![
        (b"HTTP/1.0 200 OK\r\n\r\nbody until close", true),
        (
            b"HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            false,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false),
    ])
    .await;
    let plain = Plain::default();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        match plain.send(&post(&receiver.url, &[]), SECOND).await {
            Outcome::Answered(status) => statuses.push(status),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(statuses, [200, 500, 200]);
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_kept_connection_the_receiver_closed_is_replaced_and_interim_answers_are_skipped() {
    // The first answer claims keep-alive, then the receiver closes the connection anyway.
    let receiver = scripted(vec![
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok",
            false,
        ),
    ])
    .await;
    let plain = Plain::default();
    assert!(matches!(
        plain.send(&post(&receiver.url, &[]), SECOND).await,
        Outcome::Answered(200)
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    match plain.send(&post(&receiver.url, &[]), SECOND).await {
        Outcome::Answered(status) => assert_eq!(status, 202),
        other => panic!("{other:?}"),
    }
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 2);
    assert_eq!(receiver.requests.lock().expect("requests").len(), 2);
}

#[tokio::test]
async fn refused_silent_and_garbled_receivers_fail_the_attempt_with_what_happened() {
    let free = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = Url::parse(&format!("http://{}/cb", free.local_addr().expect("addr"))).expect("url");
    drop(free);
    let plain = Plain::default();
    match plain.send(&post(&url, &[]), SECOND).await {
        Outcome::Failed { refused, error } => {
            assert!(refused);
            assert!(error.starts_with("could not connect"), "{error}");
        }
        other => panic!("{other:?}"),
    }

    // Accepts, reads, never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url =
        Url::parse(&format!("http://{}/cb", silent.local_addr().expect("addr"))).expect("url");
    tokio::spawn(async move {
        let (mut stream, _) = silent.accept().await.expect("accept");
        let _ = read_request(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    match plain
        .send(&post(&url, &[]), Duration::from_millis(200))
        .await
    {
        Outcome::Failed { refused, error } => {
            assert!(!refused);
            assert_eq!(error, "timed out after 200 ms");
        }
        other => panic!("{other:?}"),
    }

    let garbled = scripted(vec![(b"SMTP ready\r\n\r\n", true)]).await;
    match plain.send(&post(&garbled.url, &[]), SECOND).await {
        Outcome::Failed { refused, error } => {
            assert!(!refused);
            assert!(error.contains("not HTTP"), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_get_has_its_query_no_body_and_no_length_and_the_default_port_is_not_named() {
    let url = Url::parse("http://example.com/status?CallSid=CA1&To=%2B1").expect("url");
    let callout = Callout {
        method: Method::GET,
        url: &url,
        headers: &[("Accept", "*/*")],
        body: None,
    };
    let text = String::from_utf8(encode(&callout)).expect("text");
    assert_eq!(
        text,
        "GET /status?CallSid=CA1&To=%2B1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
    );
}

#[test]
fn heads_without_a_reason_or_with_odd_framing_are_read_as_a_client_must() {
    let answer = |head: &[u8]| match parse_head(head) {
        Ok(Some((Some(answer), used))) => (answer, used),
        _ => panic!("{}", String::from_utf8_lossy(head)),
    };
    let (a, used) = answer(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\nrest");
    assert_eq!((a.status, a.reusable, used), (200, true, 35));
    assert!(matches!(a.body, Body::Empty));
    // Chunked wins over a length; a length that does not parse reads to the close.
    let (a, _) =
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    assert!(matches!(a.body, Body::Chunked) && a.reusable);
    let (a, _) = answer(b"HTTP/1.1 200 OK\r\nContent-Length: nine\r\n\r\n");
    assert!(matches!(a.body, Body::UntilClose) && !a.reusable);
    let (a, _) = answer(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n");
    assert!(matches!(a.body, Body::Length(2)) && !a.reusable);
    let (a, _) =
        answer(b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 2\r\n\r\n");
    assert!(!a.reusable);
    assert!(matches!(
        parse_head(b"HTTP/1.1 100 Continue\r\n\r\n"),
        Ok(Some((None, 25)))
    ));
    assert!(matches!(
        parse_head(b"HTTP/1.1 200 OK\r\nContent-Le"),
        Ok(None)
    ));
}

#[tokio::test]
async fn the_sweep_drops_connections_their_receiver_closed_and_keeps_open_ones() {
    // The first answer says keep-alive, then the receiver closes that connection anyway.
    let receiver = scripted(vec![
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false),
    ])
    .await;
    let plain = Plain::default();
    let key: Receiver = ("127.0.0.1".to_string(), receiver.url.port().expect("port"));
    let send = || async {
        assert!(matches!(
            plain.send(&post(&receiver.url, &[]), SECOND).await,
            Outcome::Answered(200)
        ));
    };
    send().await;
    assert_eq!(plain.pool.len(), 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    plain.pool.sweep();
    assert_eq!(plain.pool.len(), 0, "the closed connection is swept");
    send().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    plain.pool.sweep();
    assert_eq!(plain.pool.len(), 1, "the open one is kept");
    assert!(plain.pool.take(&key).is_some());
    assert!(plain.pool.take(&key).is_none());
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_reused_connection_closed_without_an_answer_is_stale_and_a_new_one_fails() {
    // Reads the request and closes without a byte of answer.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = read_request(&mut stream).await;
        }
    });
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    assert!(matches!(
        exchange(stream, request, true).await,
        Err(Failure::Stale)
    ));
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    match exchange(stream, request, false).await {
        Err(Failure::Other(error)) => assert!(error.contains("closed before an answer"), "{error}"),
        _ => panic!("a new connection closed without an answer fails the attempt"),
    }
}
