//! Issue 3: every state and timer of a verification call lives in SQLite. These tests run the
//! real binary on a temporary SQLite file, kill it (SIGKILL) in the middle of a call, start it
//! again on the same file and check that the call resumes and its StatusCallback still arrives.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The emulator binary as a child process; killed when dropped.
struct Emulator {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Emulator {
    /// Starts the binary on `db` with `args` and waits until it reports healthy.
    async fn start(db: &Path, log: &Path, args: &[&str]) -> Emulator {
        let port = free_port();
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let err = out.try_clone().expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_callerid-emulator"));
        // Only the flags below count, whatever the environment of the test run says.
        for (name, _) in std::env::vars() {
            if name.starts_with("CALLERID_") {
                command.env_remove(name);
            }
        }
        let child = command
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--database-url")
            .arg(format!("sqlite://{}", db.display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("start the emulator binary");
        let mut emulator = Emulator {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
        };
        let client = reqwest::Client::new();
        let health = format!("{}/_emulator/health", emulator.base);
        let up = wait_for(Duration::from_secs(30), || async {
            let response = client.get(&health).send().await.ok()?;
            (response.status() == 200).then_some(())
        })
        .await;
        if up.is_none() {
            let exited = emulator.child.try_wait().ok().flatten();
            panic!(
                "the emulator did not become healthy (exit: {exited:?}); log:\n{}",
                emulator.log_text()
            );
        }
        emulator
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn api(&self, rest: &str) -> String {
        self.url(&format!("/2010-04-01/Accounts/{SID}{rest}"))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no flushing beyond what SQLite already committed.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn json(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

fn statuses(view: &Value) -> Vec<String> {
    view["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["status"].as_str().expect("status").to_string())
        .collect()
}

async fn caller_ids(client: &reqwest::Client, emulator: &Emulator) -> Vec<Value> {
    let (status, body) = json(
        client
            .get(emulator.api("/OutgoingCallerIds.json"))
            .basic_auth(SID, Some(TOKEN)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["outgoing_caller_ids"]
        .as_array()
        .expect("outgoing_caller_ids")
        .clone()
}

#[tokio::test]
async fn a_queued_call_survives_a_kill_and_its_callback_is_delivered() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("restart.db");
    let log = dir.path().join("emulator.log");
    let receiver = Receiver::start().await;
    let client = reqwest::Client::new();
    // 0.1 real seconds per simulated second: CallDelay=30 keeps the call queued for 3 s.
    let args = ["--time-scale", "0.1"];

    let first = Emulator::start(&db, &log, &args).await;
    let (status, created) = json(
        client
            .post(first.api("/OutgoingCallerIds.json"))
            .basic_auth(SID, Some(TOKEN))
            .form(&[
                ("PhoneNumber", "+14155550300"),
                ("FriendlyName", "Survivor"),
                ("CallDelay", "30"),
                ("StatusCallback", receiver.url.as_str()),
            ]),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let sid = created["call_sid"].as_str().expect("call_sid").to_string();
    let (_, before) = json(client.get(first.url(&format!("/_emulator/calls/{sid}")))).await;
    assert_eq!(before["status"], "queued", "killed while queued: {before}");
    first.kill();
    assert!(
        receiver.received().is_empty(),
        "no callback before the kill"
    );

    let second = Emulator::start(&db, &log, &args).await;
    let (status, resumed) = json(client.get(second.url(&format!("/_emulator/calls/{sid}")))).await;
    assert_eq!(status, 200, "the call survived the kill: {resumed}");
    assert_eq!(resumed["validation_code"], created["validation_code"]);

    let got = receiver.wait_for(1).await;
    let cb = &got[0];
    assert_eq!(cb.param("CallSid").as_deref(), Some(sid.as_str()));
    assert_eq!(cb.param("CallStatus").as_deref(), Some("completed"));
    assert_eq!(cb.param("VerificationStatus").as_deref(), Some("success"));
    assert_eq!(cb.param("To").as_deref(), Some("+14155550300"));
    assert!(cb.header("X-Twilio-Signature").is_some());

    let ids = caller_ids(&client, &second).await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(ids[0]["phone_number"], "+14155550300");
    assert_eq!(ids[0]["friendly_name"], "Survivor");
    assert_eq!(
        cb.param("OutgoingCallerIdSid").as_deref(),
        ids[0]["sid"].as_str()
    );

    let (_, after) = json(client.get(second.url(&format!("/_emulator/calls/{sid}")))).await;
    assert_eq!(
        statuses(&after),
        ["queued", "ringing", "in-progress", "completed"],
        "each step exactly once"
    );
    let (_, journal) =
        json(client.get(second.url(&format!("/_emulator/callbacks?call_sid={sid}")))).await;
    let callbacks = journal["callbacks"].as_array().expect("callbacks");
    assert_eq!(callbacks.len(), 1, "{journal}");
    let delivered = wait_for(Duration::from_secs(10), || async {
        let (_, j) =
            json(client.get(second.url(&format!("/_emulator/callbacks?call_sid={sid}")))).await;
        (j["callbacks"][0]["state"] == "delivered").then_some(j)
    })
    .await
    .expect("delivered");
    assert_eq!(
        delivered["callbacks"][0]["attempts"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(receiver.received().len(), 1, "delivered exactly once");
    second.kill();
}

#[tokio::test]
async fn an_answered_call_waiting_for_digits_survives_a_kill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("restart.db");
    let log = dir.path().join("emulator.log");
    let receiver = Receiver::start().await;
    let client = reqwest::Client::new();
    let args = ["--time-scale", "0", "--manual-digits-timeout", "120"];
    let phone = "+14155550301";

    let first = Emulator::start(&db, &log, &args).await;
    let response = client
        .put(first.url(&format!("/_emulator/accounts/{SID}/phones/%2B14155550301")))
        .json(&serde_json::json!({ "behavior": "manual" }))
        .send()
        .await
        .expect("set behaviour");
    assert_eq!(response.status(), 200);
    let (status, created) = json(
        client
            .post(first.api("/OutgoingCallerIds.json"))
            .basic_auth(SID, Some(TOKEN))
            .form(&[
                ("PhoneNumber", phone),
                ("StatusCallback", receiver.url.as_str()),
                ("StatusCallbackMethod", "GET"),
            ]),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let sid = created["call_sid"].as_str().expect("call_sid").to_string();
    let view_url = |e: &Emulator| e.url(&format!("/_emulator/calls/{sid}"));
    let answered = wait_for(Duration::from_secs(20), || async {
        let (_, v) = json(client.get(view_url(&first))).await;
        (v["status"] == "in-progress").then_some(v)
    })
    .await
    .expect("the call is answered and waits for digits");
    assert!(answered["next_action_at"].is_string());
    first.kill();

    let second = Emulator::start(&db, &log, &args).await;
    let (_, resumed) = json(client.get(view_url(&second))).await;
    assert_eq!(resumed["status"], "in-progress", "{resumed}");
    assert_eq!(resumed["behavior"], "manual");
    let code = created["validation_code"].as_str().expect("code");
    let response = client
        .post(second.url(&format!("/_emulator/calls/{sid}/digits")))
        .json(&serde_json::json!({ "digits": code }))
        .send()
        .await
        .expect("digits");
    assert_eq!(response.status(), 200);

    let got = receiver.wait_for(1).await;
    let cb = &got[0];
    assert_eq!(cb.method, axum::http::Method::GET);
    assert_eq!(cb.param("CallSid").as_deref(), Some(sid.as_str()));
    assert_eq!(cb.param("VerificationStatus").as_deref(), Some("success"));
    let ids = caller_ids(&client, &second).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0]["phone_number"], phone);
    assert_eq!(
        cb.param("OutgoingCallerIdSid").as_deref(),
        ids[0]["sid"].as_str()
    );
    let (_, after) = json(client.get(view_url(&second))).await;
    assert_eq!(
        statuses(&after),
        ["queued", "ringing", "in-progress", "digits", "completed"]
    );
    second.kill();
}
