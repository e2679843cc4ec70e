//! Tests of the real `callerid-emulator` binary: configuration by flags and environment,
//! persistence across a restart on the same SQLite file, graceful shutdown on SIGTERM, and
//! logs that never show an auth token.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const DEV_SID: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const DEV_TOKEN: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// One run of the binary, its output collected line by line.
struct Emulator {
    child: Option<Child>,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
}

fn collect(stream: impl Read + Send + 'static, lines: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut lines) = lines.lock() {
                lines.push(line);
            }
        }
    });
}

/// The port in the `listening` log line (text or JSON format).
fn listening_port(line: &str) -> Option<u16> {
    if !line.contains("listening") {
        return None;
    }
    let at = line.find("127.0.0.1:")? + "127.0.0.1:".len();
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl Emulator {
    /// Starts the binary in `dir` with `args` and `envs` (on top of port 0 and time scale 0)
    /// and waits until it listens and its health check answers.
    async fn start(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Emulator {
        let mut command = Command::new(env!("CARGO_BIN_EXE_callerid-emulator"));
        command
            .current_dir(dir)
            .args(["--listen", "127.0.0.1:0", "--time-scale", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars() {
            if name.starts_with("CALLERID_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        command.envs(envs.iter().copied());
        let mut child = command.spawn().expect("spawn callerid-emulator");
        let lines = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().expect("stdout"), lines.clone());
        collect(child.stderr.take().expect("stderr"), lines.clone());

        let deadline = Instant::now() + Duration::from_secs(60);
        let port = loop {
            let found = lines
                .lock()
                .expect("lines")
                .iter()
                .find_map(|l| listening_port(l));
            if let Some(port) = found {
                break port;
            }
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!(
                    "emulator exited with {status} before listening: {:?}",
                    lines.lock().expect("lines")
                );
            }
            assert!(
                Instant::now() < deadline,
                "emulator never listened: {:?}",
                lines.lock().expect("lines")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let emulator = Emulator {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            lines,
            client: reqwest::Client::new(),
        };
        let health = emulator.url("/_emulator/health");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = emulator.client.get(&health).send().await {
                if r.status() == 200 {
                    let v: Value = r.json().await.expect("json");
                    assert_eq!(v["status"], "ok");
                    break;
                }
            }
            assert!(Instant::now() < deadline, "health never answered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        emulator
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn logs(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }

    /// GET of `account`'s caller-ID list as `user:password`; returns status and body.
    async fn list(&self, account: &str, user: &str, password: &str) -> (u16, Value) {
        let response = self
            .client
            .get(self.url(&format!(
                "/2010-04-01/Accounts/{account}/OutgoingCallerIds.json"
            )))
            .basic_auth(user, Some(password))
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json"))
    }

    async fn seed(&self, account: &str, phone: &str, name: &str) -> Value {
        let response = self
            .client
            .post(self.url(&format!(
                "/_emulator/accounts/{account}/outgoing-caller-ids"
            )))
            .json(&json!({"phone_number": phone, "friendly_name": name}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 201);
        response.json().await.expect("json")
    }

    /// Sends SIGTERM and waits for the process to exit.
    async fn terminate(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("child");
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("emulator did not stop on SIGTERM: {}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // Let the reader threads drain the pipes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (status, self.logs())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn data_survives_a_restart_on_the_same_file() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("x.db");
    let url = format!("sqlite://{}", db.display());
    let args = ["--database-url", url.as_str()];

    let first = Emulator::start(dir.path(), &args, &[]).await;
    assert!(db.exists(), "the database file is created");
    // A control-API account with its own data, and data in the dev account.
    let other_sid = "AC0123456789abcdef0123456789abcdef";
    let other_token = "0ther-t0ken-value";
    let response = first
        .client
        .post(first.url("/_emulator/accounts"))
        .json(&json!({"sid": other_sid, "auth_token": other_token}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 201);
    // Quotes, a backslash and non-ASCII text survive the JSON the index is loaded from.
    let _ = first
        .seed(DEV_SID, "+14158675309", "Home \"Café\" \\ 東京")
        .await;
    let office = first.seed(DEV_SID, "+14155551212", "Office").await;
    let _ = first.seed(other_sid, "+442071838750", "London").await;
    // An update through the Twilio API.
    let response = first
        .client
        .post(first.url(&format!(
            "/2010-04-01/Accounts/{DEV_SID}/OutgoingCallerIds/{}.json",
            office["sid"].as_str().expect("sid")
        )))
        .basic_auth(DEV_SID, Some(DEV_TOKEN))
        .form(&[("FriendlyName", "Office (renamed)")])
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    // And a delete.
    let gone = first.seed(DEV_SID, "+14155551213", "Gone").await;
    let response = first
        .client
        .delete(first.url(&format!(
            "/2010-04-01/Accounts/{DEV_SID}/OutgoingCallerIds/{}.json",
            gone["sid"].as_str().expect("sid")
        )))
        .basic_auth(DEV_SID, Some(DEV_TOKEN))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 204);

    let (status, dev_before) = first.list(DEV_SID, DEV_SID, DEV_TOKEN).await;
    assert_eq!(status, 200);
    assert_eq!(
        dev_before["outgoing_caller_ids"].as_array().map(Vec::len),
        Some(2)
    );
    let (status, other_before) = first.list(other_sid, other_sid, other_token).await;
    assert_eq!(status, 200);
    // A callee behaviour, which the emulator also keeps in memory.
    let phone_url = |e: &Emulator| {
        e.url(&format!(
            "/_emulator/accounts/{DEV_SID}/phones/%2B14155550177"
        ))
    };
    let response = first
        .client
        .put(phone_url(&first))
        .json(&json!({"behavior": "busy"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);

    let (exit, logs) = first.terminate().await;
    assert!(
        exit.success(),
        "SIGTERM is a clean exit, got {exit}: {logs}"
    );
    assert!(logs.contains("shutting down"), "{logs}");

    // Same file, new process: everything is still there, byte for byte.
    let second = Emulator::start(dir.path(), &args, &[]).await;
    let (status, dev_after) = second.list(DEV_SID, DEV_SID, DEV_TOKEN).await;
    assert_eq!(status, 200);
    assert_eq!(dev_after, dev_before);
    assert_eq!(
        dev_after["outgoing_caller_ids"][1]["friendly_name"],
        "Office (renamed)"
    );
    let (status, other_after) = second.list(other_sid, other_sid, other_token).await;
    assert_eq!(status, 200, "the control-API account persists");
    assert_eq!(other_after, other_before);
    // The unique (account, number) rule persists as well.
    let response = second
        .client
        .post(second.url(&format!(
            "/_emulator/accounts/{DEV_SID}/outgoing-caller-ids"
        )))
        .json(&json!({"phone_number": "+14158675309"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    let behavior: Value = second
        .client
        .get(phone_url(&second))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(behavior["behavior"], "busy", "{behavior}");
    let (exit, _) = second.terminate().await;
    assert!(exit.success());
}

#[tokio::test]
async fn account_flags_configure_the_accounts_and_tokens_stay_out_of_the_logs() {
    let dir = tempfile::tempdir().expect("dir");
    let a = "AC11111111111111111111111111111111";
    let b = "AC22222222222222222222222222222222";
    let token_a = "flag-token-a-7c1e9d";
    let token_b = "flag-token-b-52aa0f";
    let account_a = format!("{a}:{token_a}");
    let account_b = format!("{b}:{token_b}");
    let emulator = Emulator::start(
        dir.path(),
        &[
            "--database-url",
            "sqlite://flags.db",
            "--account",
            &account_a,
            "--account",
            &account_b,
        ],
        &[("RUST_LOG", "debug")],
    )
    .await;
    assert!(
        dir.path().join("flags.db").exists(),
        "a relative sqlite:// URL is relative to the working directory"
    );

    assert_eq!(emulator.list(a, a, token_a).await.0, 200);
    assert_eq!(emulator.list(b, b, token_b).await.0, 200);
    let (status, body) = emulator.list(b, b, token_a).await;
    assert_eq!(
        (status, body["message"].clone()),
        (401, json!("Authenticate"))
    );
    assert_eq!(emulator.list(a, b, token_b).await.0, 401);
    // With accounts configured, the development account does not exist.
    let (status, body) = emulator.list(DEV_SID, DEV_SID, DEV_TOKEN).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Authentication Error - invalid username");
    // A reset keeps configured accounts.
    let response = emulator
        .client
        .post(emulator.url("/_emulator/reset"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(emulator.list(a, a, token_a).await.0, 200);

    let (exit, logs) = emulator.terminate().await;
    assert!(exit.success(), "{logs}");
    assert!(logs.contains(a), "the logs name the accounts: {logs}");
    assert!(logs.contains("request"), "requests are logged: {logs}");
    for token in [token_a, token_b] {
        assert!(
            !logs.contains(token),
            "auth token {token} in the logs:\n{logs}"
        );
    }
}

#[tokio::test]
async fn environment_configures_the_accounts_and_database() {
    let dir = tempfile::tempdir().expect("dir");
    let a = "AC33333333333333333333333333333333";
    let b = "AC44444444444444444444444444444444";
    let token_a = "env-token-a-0b9f3e";
    let token_b = "env-token-b-d41c77";
    let accounts = format!("{a}:{token_a},{b}:{token_b}");
    let db = dir.path().join("env.db");
    let db_url = format!("sqlite://{}", db.display());
    let emulator = Emulator::start(
        dir.path(),
        &["--log-format", "json"],
        &[
            ("CALLERID_ACCOUNTS", accounts.as_str()),
            ("CALLERID_DATABASE_URL", db_url.as_str()),
        ],
    )
    .await;
    assert!(db.exists());
    assert!(!dir.path().join("callerid-emulator.db").exists());

    let _ = emulator.seed(a, "+14158675309", "Env").await;
    let (status, list) = emulator.list(a, a, token_a).await;
    assert_eq!(status, 200);
    assert_eq!(list["outgoing_caller_ids"][0]["friendly_name"], "Env");
    let (status, list) = emulator.list(b, b, token_b).await;
    assert_eq!(status, 200);
    assert_eq!(list["outgoing_caller_ids"], json!([]));
    assert_eq!(emulator.list(DEV_SID, DEV_SID, DEV_TOKEN).await.0, 401);
    assert_eq!(emulator.list(a, a, "wrong").await.0, 401);

    let (exit, logs) = emulator.terminate().await;
    assert!(exit.success(), "{logs}");
    // JSON logs: one object a line.
    let mut messages = Vec::new();
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        messages.push(v["fields"]["message"].as_str().unwrap_or("").to_string());
    }
    for expected in ["starting", "listening", "request", "shutting down"] {
        assert!(
            messages.iter().any(|m| m == expected),
            "{expected}: {messages:?}"
        );
    }
    for token in [token_a, token_b, accounts.as_str()] {
        assert!(
            !logs.contains(token),
            "auth token {token} in the logs:\n{logs}"
        );
    }
}

#[tokio::test]
async fn default_database_is_a_file_in_the_working_directory() {
    let dir = tempfile::tempdir().expect("dir");
    let emulator = Emulator::start(dir.path(), &[], &[]).await;
    assert!(dir.path().join("callerid-emulator.db").exists());
    // The development account exists when none is configured.
    assert_eq!(emulator.list(DEV_SID, DEV_SID, DEV_TOKEN).await.0, 200);
    let (exit, logs) = emulator.terminate().await;
    assert!(exit.success(), "{logs}");
    assert!(!logs.contains(DEV_TOKEN), "{logs}");
}

#[tokio::test]
async fn a_bad_account_setting_stops_start_up_with_a_message() {
    let dir = tempfile::tempdir().expect("dir");
    for bad in ["notasid:secret-value-1", DEV_SID, "ACaaaa:secret-value-1"] {
        let output = Command::new(env!("CARGO_BIN_EXE_callerid-emulator"))
            .current_dir(dir.path())
            .args(["--listen", "127.0.0.1:0", "--account", bad])
            .env_remove("CALLERID_ACCOUNTS")
            .output()
            .expect("run");
        assert!(!output.status.success(), "{bad} should be refused");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stderr.contains("callerid-emulator:"), "{stderr}");
        assert!(
            !stderr.contains("secret-value-1") && !stdout.contains("secret-value-1"),
            "{stderr}{stdout}"
        );
    }
}

#[tokio::test]
async fn an_account_no_longer_configured_is_gone_after_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let db = ["--database-url", "sqlite://accounts.db"];
    let first = Emulator::start(dir.path(), &db, &[]).await;
    assert_eq!(first.list(DEV_SID, DEV_SID, DEV_TOKEN).await.0, 200);
    let (exit, logs) = first.terminate().await;
    assert!(exit.success(), "{logs}");

    let a = "AC33333333333333333333333333333333";
    let account = format!("{a}:token-c");
    let args = [db[0], db[1], "--account", account.as_str()];
    let second = Emulator::start(dir.path(), &args, &[]).await;
    assert_eq!(second.list(a, a, "token-c").await.0, 200);
    let (status, body) = second.list(DEV_SID, DEV_SID, DEV_TOKEN).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Authentication Error - invalid username");
    let (exit, logs) = second.terminate().await;
    assert!(exit.success(), "{logs}");
}

#[test]
fn help_never_shows_tokens_from_the_environment() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_callerid-emulator"))
        .arg("--help")
        .env(
            "CALLERID_ACCOUNTS",
            "AC44444444444444444444444444444444:help-secret-token",
        )
        .env("CALLERID_CONTROL_TOKEN", "help-control-token")
        .output()
        .expect("run --help");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("--account"), "{text}");
    assert!(text.contains("--time-scale"), "{text}");
    assert!(!text.contains("help-secret-token"), "{text}");
    assert!(!text.contains("help-control-token"), "{text}");
}

/// The binary on a new database file (`x.db` in the returned folder, at the returned URL)
/// holding one caller ID, and that caller ID's instance path.
async fn one_caller_id_on_a_file() -> (tempfile::TempDir, String, Emulator, String) {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let emulator = Emulator::start(dir.path(), &["--database-url", url.as_str()], &[]).await;
    let row = emulator.seed(DEV_SID, "+14158675309", "Start").await;
    let path = format!(
        "/2010-04-01/Accounts/{DEV_SID}/OutgoingCallerIds/{}.json",
        row["sid"].as_str().expect("sid")
    );
    (dir, url, emulator, path)
}

#[tokio::test]
async fn concurrent_updates_leave_reads_agreeing_with_the_file() {
    let (dir, url, first, path) = one_caller_id_on_a_file().await;
    let args = ["--database-url", url.as_str()];
    let mut updates = tokio::task::JoinSet::new();
    for n in 0..40 {
        let request = first
            .client
            .post(first.url(&path))
            .basic_auth(DEV_SID, Some(DEV_TOKEN))
            .form(&[("FriendlyName", format!("Name {n}"))]);
        updates.spawn(async move { request.send().await.expect("send").status() });
    }
    while let Some(status) = updates.join_next().await {
        assert_eq!(status.expect("join"), 200);
    }
    let fetch = |emulator: &Emulator| {
        emulator
            .client
            .get(emulator.url(&path))
            .basic_auth(DEV_SID, Some(DEV_TOKEN))
            .send()
    };
    let before: Value = fetch(&first)
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let (exit, _) = first.terminate().await;
    assert!(exit.success());
    // What the running server answered from memory is what the file holds.
    let second = Emulator::start(dir.path(), &args, &[]).await;
    let after: Value = fetch(&second)
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(after, before);
    assert!(after["friendly_name"]
        .as_str()
        .is_some_and(|n| n.starts_with("Name ")));
    let (exit, _) = second.terminate().await;
    assert!(exit.success());
}

#[tokio::test]
async fn the_wal_stays_short_under_sustained_writes() {
    let (dir, _, emulator, path) = one_caller_id_on_a_file().await;
    // At least one 4 KiB WAL frame per update: over 4 MB of WAL if nothing started it again.
    let mut largest = 0;
    for round in 0..100 {
        let mut updates = tokio::task::JoinSet::new();
        for n in 0..10 {
            let request = emulator
                .client
                .post(emulator.url(&path))
                .basic_auth(DEV_SID, Some(DEV_TOKEN))
                .form(&[("FriendlyName", format!("Name {round} {n}"))]);
            updates.spawn(async move { request.send().await.expect("send").status() });
        }
        while let Some(status) = updates.join_next().await {
            assert_eq!(status.expect("join"), 200);
        }
        let wal = std::fs::metadata(dir.path().join("x.db-wal")).map_or(0, |m| m.len());
        largest = largest.max(wal);
    }
    assert!(
        largest < 2 * 1024 * 1024,
        "the WAL grew to {largest} bytes over 1,000 updates"
    );
    let (exit, _) = emulator.terminate().await;
    assert!(exit.success());
}
