//! Tests of the real `callerid-emulator` binary on a SQLite file: data survives a restart
//! after a graceful shutdown on SIGTERM, configured accounts replace the old ones, what the
//! running server answers is what the file holds, and the WAL stays short.

use serde_json::{json, Value};

use crate::helpers::*;

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
    let _ = seed_in(
        &first,
        DEV_SID,
        "+14158675309",
        Some("Home \"Café\" \\ 東京"),
    )
    .await;
    let office = seed_in(&first, DEV_SID, "+14155551212", Some("Office")).await;
    let _ = seed_in(&first, other_sid, "+442071838750", Some("London")).await;
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
    let gone = seed_in(&first, DEV_SID, "+14155551213", Some("Gone")).await;
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
