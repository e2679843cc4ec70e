//! Several real emulator binaries on one PostgreSQL database ([`Replicas`]), a callback
//! receiver that answers slowly so that callbacks are in flight ([`SlowReceiver`]), SQL
//! straight into that database for what only it can tell ([`Replicas::query_i64`]), and the
//! requests the replica tests make of any one replica.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;
use axum::Router;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use tokio::net::TcpListener;

use super::accounts::Account;
use super::binary::Emulator;
use super::client::{own, status_json, Server};
use super::pg::{cluster_url, TempDatabase};
use super::Params;

/// `n` emulator binaries on one fresh database; a killed one leaves a `None`. The binaries are
/// dropped (killed) before the database.
pub struct Replicas {
    emulators: Vec<Option<Emulator>>,
    ids: Vec<i32>,
    _dirs: Vec<tempfile::TempDir>,
    pub db: TempDatabase,
}

/// The replica id in the `PostgreSQL store ready` log line (text or JSON format).
fn replica_id(logs: &str) -> Option<i32> {
    let line = logs
        .lines()
        .find(|l| l.contains("PostgreSQL store ready"))?;
    let at = line.find("replica")? + "replica".len();
    let digits: String = line[at..]
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl Replicas {
    /// `n` replicas started together on a new database with `args` (plus `--database-url`);
    /// `None` (after saying why) when PostgreSQL is not configured here, outside CI.
    pub async fn start(what: &str, n: usize, args: &[&str]) -> Option<Replicas> {
        let cluster = cluster_url(what)?;
        let db = TempDatabase::create(&cluster);
        let dirs: Vec<tempfile::TempDir> =
            (0..n).map(|_| tempfile::tempdir().expect("dir")).collect();
        let mut all = vec!["--database-url", db.url.as_str()];
        all.extend_from_slice(args);
        let starts: Vec<_> = dirs.iter().map(|dir| spawn_one(dir.path(), &all)).collect();
        let mut emulators = Vec::new();
        for start in starts {
            emulators.push(start.await.expect("the replica starts"));
        }
        let ids = emulators
            .iter()
            .map(|e| replica_id(&e.logs()).unwrap_or_else(|| panic!("no replica id: {}", e.logs())))
            .collect();
        Some(Replicas {
            emulators: emulators.into_iter().map(Some).collect(),
            ids,
            _dirs: dirs,
            db,
        })
    }

    /// Replica `i`, which must be alive.
    pub fn at(&self, i: usize) -> &Emulator {
        self.emulators[i].as_ref().expect("a live replica")
    }

    /// The live replicas, in order.
    pub fn alive(&self) -> Vec<&Emulator> {
        self.emulators.iter().flatten().collect()
    }

    pub fn len(&self) -> usize {
        self.emulators.len()
    }

    /// The index of the replica whose store id is `id`.
    pub fn index_of(&self, id: i32) -> Option<usize> {
        self.ids.iter().position(|&x| x == id)
    }

    /// SIGKILL of replica `i`: no shutdown of any kind.
    pub fn kill(&mut self, i: usize) {
        self.emulators[i].take().expect("a live replica").kill();
    }

    /// Runs `sql` (one row, one integer column) on the replicas' database.
    pub async fn query_i64(&self, sql: &str) -> i64 {
        let mut conn = PgConnection::connect(&self.db.url).await.expect("connect");
        let v: i64 = sqlx::query_scalar(sql)
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.close().await;
        v
    }

    /// Runs `sql` (rows of one text column) on the replicas' database.
    pub async fn query_texts(&self, sql: &str) -> Vec<String> {
        self.query_column(sql).await
    }

    async fn query_column<T>(&self, sql: &str) -> Vec<T>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    {
        let mut conn = PgConnection::connect(&self.db.url).await.expect("connect");
        let v: Vec<T> = sqlx::query_scalar(sql)
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.close().await;
        v
    }
}

/// Starts the binary in `dir` with `args`, on a task of its own (so that replicas start
/// together, migrations and all).
fn spawn_one(dir: &Path, args: &[&str]) -> tokio::task::JoinHandle<Emulator> {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::spawn(async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Emulator::start(&dir, &args, &[]).await
    })
}

/// A GET on the control API of `server` that must answer 200; its JSON.
pub async fn control_get(server: &impl Server, path: &str) -> Value {
    let (status, body) = status_json(server.client().get(server.url(path))).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// `/_emulator/accounts/{account}/phones/{phone}`.
pub fn phone_path(account: &str, phone: &str) -> String {
    format!(
        "/_emulator/accounts/{account}/phones/{}",
        phone.replace('+', "%2B")
    )
}

pub async fn set_behavior(server: &Emulator, account: &str, phone: &str, behavior: &str) {
    let request = server
        .client
        .put(server.url(&phone_path(account, phone)))
        .json(&json!({ "behavior": behavior }));
    let (status, body) = status_json(request).await;
    assert_eq!(status, 200, "{body}");
}

/// A validation request on `server` as `who`; its status and JSON.
pub async fn validation_request(
    server: &Emulator,
    who: &Account,
    form: &[(&str, &str)],
) -> (u16, Value) {
    status_json(own(server, who, Method::POST, "/OutgoingCallerIds.json").form(form)).await
}

/// `GET …/OutgoingCallerIds/{sid}.json` on `server`; status and JSON.
pub async fn fetch_caller_id(server: &Emulator, who: &Account, sid: &str) -> (u16, Value) {
    status_json(own(
        server,
        who,
        Method::GET,
        &format!("/OutgoingCallerIds/{sid}.json"),
    ))
    .await
}

/// The sids of `account`'s caller IDs as the control API of `server` lists them.
pub async fn listed(server: &Emulator, account: &str) -> BTreeSet<String> {
    let body = control_get(
        server,
        &format!("/_emulator/accounts/{account}/outgoing-caller-ids"),
    )
    .await;
    body["outgoing_caller_ids"]
        .as_array()
        .expect("outgoing_caller_ids")
        .iter()
        .map(|c| c["sid"].as_str().expect("sid").to_string())
        .collect()
}

/// What the control API says about `account` on `server`: accounts, keys, caller IDs, calls,
/// callbacks and a behaviour. Not the request journal (`/_emulator/requests`), which is each
/// replica's own until it moves into the database (issue-10b's part of issue 10).
pub async fn control_answers(server: &Emulator, account: &str) -> Vec<Value> {
    let mut answers = Vec::new();
    for path in [
        "/_emulator/accounts".to_string(),
        format!("/_emulator/accounts/{account}/keys"),
        format!("/_emulator/accounts/{account}/outgoing-caller-ids"),
        format!("/_emulator/calls?account_sid={account}"),
        format!("/_emulator/callbacks?account_sid={account}"),
        phone_path(account, "+14155550100"),
    ] {
        answers.push(control_get(server, &path).await);
    }
    answers
}

/// Makes caller IDs through the control API, round robin over `servers`, until `stop`; the sids
/// of those whose creation was acknowledged (201).
pub async fn write_until(
    servers: Vec<String>,
    account: String,
    stop: Arc<AtomicBool>,
) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    let mut n = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let base = &servers[n as usize % servers.len()];
        let url = format!("{base}/_emulator/accounts/{account}/outgoing-caller-ids");
        let body = json!({ "phone_number": format!("+1415601{:04}", n) });
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let Ok(response) = client.post(&url).json(&body).send().await else {
            continue;
        };
        if response.status() == 201 {
            if let Ok(v) = response.json::<Value>().await {
                acknowledged.push(v["sid"].as_str().expect("sid").to_string());
            }
        }
    }
    acknowledged
}

/// One callback a [`SlowReceiver`] got: its call and its idempotency token.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub call_sid: String,
    pub token: String,
}

/// A callback receiver that records each request on arrival and answers 200 only after
/// `delay`, so that callbacks stay in flight for a while.
pub struct SlowReceiver {
    pub url: String,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
}

impl SlowReceiver {
    pub async fn start(delay: Duration) -> SlowReceiver {
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let seen = arrivals.clone();
        let app = Router::new().fallback(any(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let params = Params::parse(body.as_bytes()).expect("form");
                let call_sid = params
                    .pairs()
                    .iter()
                    .find(|(k, _)| k == "CallSid")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let token = headers
                    .get("I-Twilio-Idempotency-Token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                if let Ok(mut seen) = seen.lock() {
                    seen.push(Arrival { call_sid, token });
                }
                tokio::time::sleep(delay).await;
                StatusCode::OK
            }
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/status", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SlowReceiver { url, arrivals }
    }

    pub fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// The calls of the callbacks that have arrived so far.
    pub fn arrived_calls(&self) -> BTreeSet<String> {
        self.arrivals().into_iter().map(|a| a.call_sid).collect()
    }
}
