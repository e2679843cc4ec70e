//! Shared test harness: the real router served on a real port over a real SQLite file, a
//! real HTTP client, and a throwaway callback receiver.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::routing::any;
use axum::Router;
use callerid_emulator::settings::{Settings, DEV_ACCOUNT_SID, DEV_AUTH_TOKEN};
use callerid_emulator::AppState;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const SID: &str = DEV_ACCOUNT_SID;
pub const TOKEN: &str = DEV_AUTH_TOKEN;

/// A running emulator.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub dir: Arc<tempfile::TempDir>,
    pub db_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Settings for a test: a fresh SQLite file in its own folder, time scale 0.
pub fn test_settings(dir: &tempfile::TempDir) -> Settings {
    let mut settings = Settings::for_tests();
    settings.database_url = format!("sqlite://{}", dir.path().join("test.db").display());
    settings
}

impl TestApp {
    /// Starts the emulator with default test settings.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Starts the emulator with test settings changed by `tweak`.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut settings = test_settings(&dir);
        tweak(&mut settings);
        TestApp::spawn_in(dir, settings).await
    }

    /// Starts the emulator on `settings`, keeping `dir` alive with it.
    pub async fn spawn_in(dir: Arc<tempfile::TempDir>, settings: Settings) -> TestApp {
        let db_url = settings.database_url.clone();
        let state = AppState::new(settings).await.expect("state");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            callerid_emulator::serve(listener, state, async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
        });
        TestApp {
            addr,
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            dir,
            db_url,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and waits until it has let go of the database.
    pub async fn stop(mut self) -> Arc<tempfile::TempDir> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.dir.clone()
    }

    /// `/2010-04-01/Accounts/{SID}` + `rest`, as a full URL.
    pub fn api(&self, rest: &str) -> String {
        format!("{}/2010-04-01/Accounts/{SID}{rest}", self.base)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.client.get(url).basic_auth(SID, Some(TOKEN))
    }

    pub fn post_form(&self, url: &str, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.client
            .post(url)
            .basic_auth(SID, Some(TOKEN))
            .form(form)
    }

    /// A verified caller ID made through the control API; returns its JSON.
    pub async fn seed_caller_id(&self, phone: &str, name: Option<&str>) -> serde_json::Value {
        let mut body = serde_json::json!({ "phone_number": phone });
        if let Some(name) = name {
            body["friendly_name"] = name.into();
        }
        let response = self
            .client
            .post(self.url(&format!("/_emulator/accounts/{SID}/outgoing-caller-ids")))
            .json(&body)
            .send()
            .await
            .expect("seed");
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("json")
    }

    /// Polls `GET /_emulator/calls/{sid}` until the call has ended; returns its view.
    pub async fn wait_call_ended(&self, call_sid: &str) -> serde_json::Value {
        let url = self.url(&format!("/_emulator/calls/{call_sid}"));
        wait_for(Duration::from_secs(20), || async {
            let v: serde_json::Value =
                self.client.get(&url).send().await.ok()?.json().await.ok()?;
            v["next_action_at"].is_null().then_some(v)
        })
        .await
        .expect("call should end")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Polls `probe` every 20 ms until it gives a value or `limit` passes. This bounds a wait
/// for asynchronous work; it asserts nothing about speed.
pub async fn wait_for<T, F, Fut>(limit: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

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
        callerid_emulator::wire::Params::parse(&raw)
            .expect("form")
            .pairs()
            .to_vec()
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
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            addr,
            url: format!("http://{addr}/status"),
            seen,
        }
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

/// A local address nothing listens on.
pub async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}/status")
}
