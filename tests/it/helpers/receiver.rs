//! Callback receivers on port 0: [`Receiver`] records every request and answers a fixed
//! status, [`black_hole`] accepts connections and never answers, [`gated_receiver`] answers
//! only once released; [`closed_port_url`] is an address nothing listens on.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::routing::any;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};

use super::app::TestApp;
use super::calls::{call_sid, create};
use super::wait::wait_for;
use super::Params;

/// One request a [`Receiver`] got.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    /// The form body (POST) or query string (GET) as pairs.
    pub fn params(&self) -> Vec<(String, String)> {
        let raw = if self.method == Method::GET {
            self.uri.query().unwrap_or("").as_bytes().to_vec()
        } else {
            self.body.to_vec()
        };
        Params::parse(&raw).expect("form").pairs().to_vec()
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    }
}

/// The parameters of a received callback, by name.
pub fn params_map(received: &Received) -> BTreeMap<String, String> {
    received.params().into_iter().collect()
}

/// Binds port 0 on 127.0.0.1; the listener and its `http://{addr}/status` URL.
async fn bind() -> (TcpListener, SocketAddr, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    (listener, addr, format!("http://{addr}/status"))
}

/// A throwaway HTTP server on port 0 that records every request and answers `status`.
pub struct Receiver {
    pub addr: SocketAddr,
    pub url: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

#[derive(Clone)]
struct ReceiverState {
    seen: Arc<Mutex<Vec<Received>>>,
    status: StatusCode,
}

async fn record(
    State(state): State<ReceiverState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if let Ok(mut seen) = state.seen.lock() {
        seen.push(Received {
            method,
            uri,
            headers,
            body,
        });
    }
    state.status
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::start_with_status(StatusCode::OK).await
    }

    pub async fn start_with_status(status: StatusCode) -> Receiver {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .fallback(any(record))
            .with_state(ReceiverState {
                seen: seen.clone(),
                status,
            });
        let (listener, addr, url) = bind().await;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, url, seen }
    }

    pub fn received(&self) -> Vec<Received> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        wait_for(Duration::from_secs(20), || async {
            let got = self.received();
            (got.len() >= n).then_some(got)
        })
        .await
        .unwrap_or_else(|| panic!("expected {n} callback(s), got {:?}", self.received()))
    }
}

/// The one callback `receiver` got for `call`.
pub fn callback_for(receiver: &Receiver, call: &str) -> Received {
    let all = receiver.received();
    let mine: Vec<Received> = all
        .into_iter()
        .filter(|r| r.param("CallSid").as_deref() == Some(call))
        .collect();
    assert_eq!(mine.len(), 1, "expected one callback for {call}: {mine:?}");
    mine.into_iter().next().expect("one callback")
}

/// Waits for a callback for `call` to arrive at `receiver`.
pub async fn wait_callback(receiver: &Receiver, call: &str) -> Received {
    wait_for(Duration::from_secs(20), || async {
        receiver
            .received()
            .into_iter()
            .find(|r| r.param("CallSid").as_deref() == Some(call))
    })
    .await
    .unwrap_or_else(|| panic!("no callback for {call}; got {:?}", receiver.received()))
}

/// A local address nothing listens on.
pub async fn closed_port_url() -> String {
    let (listener, _, url) = bind().await;
    drop(listener);
    url
}

/// A receiver that accepts connections and never answers until released; then it drops them.
pub struct BlackHole {
    pub url: String,
    pub accepted: Arc<AtomicUsize>,
    pub release: Option<oneshot::Sender<()>>,
}

pub async fn black_hole() -> BlackHole {
    let (listener, _, url) = bind().await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let (release, mut released) = oneshot::channel::<()>();
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            tokio::select! {
                conn = listener.accept() => {
                    if let Ok((stream, _)) = conn {
                        counter.fetch_add(1, Ordering::SeqCst);
                        held.push(stream);
                    }
                }
                _ = &mut released => break,
            }
        }
        drop(held);
    });
    BlackHole {
        url,
        accepted,
        release: Some(release),
    }
}

/// Waits until `counter` has counted one request or connection.
pub async fn wait_arrived(counter: &AtomicUsize, what: &str) {
    wait_for(Duration::from_secs(20), || async {
        (counter.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("{what}"));
}

/// A server with a two-minute callback timeout, and a verification call to `phone` whose
/// StatusCallback attempt is held open by a [`black_hole`]: returns both and the call's sid
/// once the attempt has reached the receiver.
pub async fn callback_held_by_black_hole(phone: &str) -> (TestApp, BlackHole, String) {
    let app = TestApp::spawn_with(|s| s.callback_timeout_ms = 120_000).await;
    let hole = black_hole().await;
    let created = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &hole.url)],
    )
    .await;
    let sid = call_sid(&created);
    wait_arrived(&hole.accepted, "the callback attempt reaches the receiver").await;
    (app, hole, sid)
}

/// A receiver that records each request on arrival and answers only once released.
pub struct GatedReceiver {
    pub url: String,
    pub arrived: Arc<AtomicUsize>,
    pub release: Arc<Semaphore>,
}

pub async fn gated_receiver() -> GatedReceiver {
    let arrived = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Semaphore::new(0));
    let (count, gate) = (arrived.clone(), release.clone());
    let app = Router::new().fallback(move || {
        let (count, gate) = (count.clone(), gate.clone());
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            if let Ok(permit) = gate.acquire().await {
                permit.forget();
            }
            StatusCode::OK
        }
    });
    let (listener, _, url) = bind().await;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    GatedReceiver {
        url,
        arrived,
        release,
    }
}
