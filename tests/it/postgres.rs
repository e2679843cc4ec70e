//! The binary on PostgreSQL when the database is not there: it waits for it at start-up
//! (a log line per try), answers health with 503 and the Twilio API with Twilio's 500 body
//! while it is gone or frozen, and recovers without a restart when it is back. The cluster is one of
//! its own (scripts/pg-cluster), started, halted and resumed by the test; it runs wherever
//! the PostgreSQL tests run (`CALLERID_TEST_POSTGRES_URL` set).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::pg::cluster_url;
use crate::helpers::{wait_for, Emulator, DEV_SID, DEV_TOKEN};

/// A cluster of this test's own, removed when dropped.
struct Cluster {
    dir: PathBuf,
}

fn pg_cluster(args: &[&str], port: Option<u16>) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-cluster");
    let mut command = Command::new(script);
    command.args(args);
    if let Some(port) = port {
        command.env("PG_CLUSTER_PORT", port.to_string());
    }
    let out = command.output().expect("run scripts/pg-cluster");
    assert!(
        out.status.success(),
        "scripts/pg-cluster {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Cluster {
    fn start(port: u16) -> Cluster {
        let exports = pg_cluster(&["start"], Some(port));
        let dir = exports
            .lines()
            .find_map(|l| l.strip_prefix("export PG_CLUSTER_DIR="))
            .expect("the cluster's folder");
        Cluster {
            dir: PathBuf::from(dir),
        }
    }

    fn arg(&self) -> &str {
        self.dir.to_str().expect("folder")
    }

    fn halt(&self) {
        pg_cluster(&["halt", self.arg()], None);
    }

    fn resume(&self) {
        pg_cluster(&["resume", self.arg()], None);
    }
}

impl Cluster {
    /// The server's processes: the postmaster (from its pid file) and its children.
    fn processes(&self) -> Vec<String> {
        // None when the server is not running (halted, or never started).
        let Ok(pid_file) = std::fs::read_to_string(self.dir.join("data/postmaster.pid")) else {
            return Vec::new();
        };
        let Some(postmaster) = pid_file.lines().next().map(String::from) else {
            return Vec::new();
        };
        let children = Command::new("pgrep")
            .args(["-P", &postmaster])
            .output()
            .expect("pgrep");
        let mut pids: Vec<String> = String::from_utf8_lossy(&children.stdout)
            .split_whitespace()
            .map(String::from)
            .collect();
        pids.push(postmaster);
        pids
    }

    /// Sends `signal` to every process of the server, by pid.
    fn signal(&self, signal: &str) {
        for pid in self.processes() {
            let _ = Command::new("kill").args([signal, &pid]).status();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-cluster"))
            .args(["stop", self.arg()])
            .output();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The health check's status and body (a client-side timeout: never a hang).
async fn health(emulator: &Emulator) -> (StatusCode, Value) {
    let response = emulator
        .client
        .get(format!("{}/_emulator/health", base(emulator)))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("health answers");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

fn base(emulator: &Emulator) -> String {
    crate::helpers::Server::base(emulator).to_string()
}

#[tokio::test]
async fn waits_for_postgres_answers_503_while_it_is_gone_and_recovers() {
    if cluster_url("the PostgreSQL availability test").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let starting = Emulator::start_unready(dir.path(), &["--database-url", &url]);
    // Nothing listens on the port yet: the emulator says it tries again, and keeps trying.
    let retried = wait_for(Duration::from_secs(30), || {
        let output = starting.output();
        std::future::ready(
            (output
                .matches("the database is unreachable; trying again")
                .count()
                >= 2)
                .then_some(()),
        )
    })
    .await;
    assert!(retried.is_some(), "no retry logged: {}", starting.output());

    let cluster = Cluster::start(port);
    let emulator = starting.ready().await;
    let (status, body) = health(&emulator).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["backend"].as_str(), body["database"].as_str()),
        (Some("postgres"), Some("ok"))
    );
    assert_eq!(emulator.list(DEV_SID, DEV_SID, DEV_TOKEN).await.0, 200);

    cluster.halt();
    let (status, body) = health(&emulator).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["backend"].as_str()),
        (Some("unavailable"), Some("postgres"))
    );
    let (status, body) = emulator.list(DEV_SID, DEV_SID, DEV_TOKEN).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["code"], 20500, "{body}");

    cluster.resume();
    let back = wait_for(Duration::from_secs(30), || async {
        (health(&emulator).await.0 == StatusCode::OK).then_some(())
    })
    .await;
    assert!(
        back.is_some(),
        "health never came back: {}",
        emulator.logs()
    );
    let listed = wait_for(Duration::from_secs(30), || async {
        (emulator.list(DEV_SID, DEV_SID, DEV_TOKEN).await.0 == 200).then_some(())
    })
    .await;
    assert!(
        listed.is_some(),
        "the API never came back: {}",
        emulator.logs()
    );
}

/// A database that stops answering without closing its connections (its processes frozen):
/// requests still get an answer, Twilio's 500 body, rather than waiting on TCP; health says
/// 503; once it answers again, so does the emulator.
#[tokio::test]
async fn a_frozen_postgres_gets_answers_not_a_hang() {
    if cluster_url("the frozen PostgreSQL test").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let cluster = Cluster::start(port);
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let emulator = Emulator::start(dir.path(), &["--database-url", &url], &[]).await;
    assert_eq!(emulator.list(DEV_SID, DEV_SID, DEV_TOKEN).await.0, 200);

    cluster.signal("-STOP");
    let (status, body) = health(&emulator).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, body) = emulator.list(DEV_SID, DEV_SID, DEV_TOKEN).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["code"], 20500, "{body}");

    cluster.signal("-CONT");
    let back = wait_for(Duration::from_secs(30), || async {
        (emulator.list(DEV_SID, DEV_SID, DEV_TOKEN).await.0 == 200).then_some(())
    })
    .await;
    assert!(
        back.is_some(),
        "the API never came back: {}",
        emulator.logs()
    );
    assert_eq!(health(&emulator).await.0, StatusCode::OK);
}
