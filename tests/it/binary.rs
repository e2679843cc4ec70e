//! Tests of the real `callerid-emulator` binary: configuration by flags and environment,
//! start-up refusing a bad setting, and logs (and `--help`) that never show an auth token.

use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

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

    let _ = seed_in(&emulator, a, "+14158675309", Some("Env")).await;
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
    if crate::helpers::pg::skip_on_postgres("the default database file") {
        return;
    }
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

/// At the default level (`info`), a StatusCallback attempt that failed is logged with its
/// error, and one that was delivered is not (the callback journal lists both).
#[tokio::test]
async fn failed_callback_attempts_are_logged_and_delivered_ones_only_at_debug() {
    let dir = tempfile::tempdir().expect("dir");
    let emulator = Emulator::start(dir.path(), &["--database-url", "sqlite://logs.db"], &[]).await;
    let receiver = Receiver::start().await;
    let refusing = closed_port_url().await;
    let mut sids = Vec::new();
    for (phone, url) in [("+14155550161", &receiver.url), ("+14155550162", &refusing)] {
        let form = [("PhoneNumber", phone), ("StatusCallback", url.as_str())];
        let reply =
            send(own(&emulator, &dev(), Method::POST, "/OutgoingCallerIds.json").form(&form)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        sids.push(
            reply.json()["call_sid"]
                .as_str()
                .expect("call_sid")
                .to_string(),
        );
    }
    let (delivered, refused) = (&sids[0], &sids[1]);
    wait_callback(&receiver, delivered).await;
    let url = emulator.url(&format!("/_emulator/callbacks?call_sid={refused}"));
    let settled = wait_for(Duration::from_secs(20), || async {
        let body: Value = emulator
            .client
            .get(&url)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (body["callbacks"][0]["state"] == "failed").then_some(())
    })
    .await;
    assert!(
        settled.is_some(),
        "the refused callback never failed: {}",
        emulator.logs()
    );

    let (exit, logs) = emulator.terminate().await;
    assert!(exit.success(), "{logs}");
    let failed: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("status callback attempt failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{logs}");
    assert!(
        failed[0].contains(refused.as_str()) && failed[0].contains("could not connect"),
        "{logs}"
    );
    assert!(!logs.contains("status callback delivered"), "{logs}");
}
