//! Issue 3: every state and timer of a verification call lives in SQLite. These tests run the
//! real binary on a temporary SQLite file, kill it (SIGKILL) in the middle of a call, start it
//! again on the same file and check that the call resumes and its StatusCallback still arrives.

use std::time::Duration;

use crate::helpers::*;

#[tokio::test]
async fn a_queued_call_survives_a_kill_and_its_callback_is_delivered() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("restart.db");
    let log = dir.path().join("emulator.log");
    let receiver = Receiver::start().await;
    let client = reqwest::Client::new();
    // 0.1 real seconds per simulated second: CallDelay=30 keeps the call queued for 3 s.
    let args = ["--time-scale", "0.1"];

    let first = Emulator::start_on(&db, &log, &args).await;
    let (status, created) = status_json(
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
    let (_, before) = status_json(client.get(first.url(&format!("/_emulator/calls/{sid}")))).await;
    assert_eq!(before["status"], "queued", "killed while queued: {before}");
    first.kill();
    assert!(
        receiver.received().is_empty(),
        "no callback before the kill"
    );

    let second = Emulator::start_on(&db, &log, &args).await;
    let (status, resumed) =
        status_json(client.get(second.url(&format!("/_emulator/calls/{sid}")))).await;
    assert_eq!(status, 200, "the call survived the kill: {resumed}");
    assert_eq!(resumed["validation_code"], created["validation_code"]);

    let got = receiver.wait_for(1).await;
    let cb = &got[0];
    assert_eq!(cb.param("CallSid").as_deref(), Some(sid.as_str()));
    assert_eq!(cb.param("CallStatus").as_deref(), Some("completed"));
    assert_eq!(cb.param("VerificationStatus").as_deref(), Some("success"));
    assert_eq!(cb.param("To").as_deref(), Some("+14155550300"));
    assert!(cb.header("X-Twilio-Signature").is_some());

    let ids = caller_ids(&second, &dev()).await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(ids[0]["phone_number"], "+14155550300");
    assert_eq!(ids[0]["friendly_name"], "Survivor");
    assert_eq!(
        cb.param("OutgoingCallerIdSid").as_deref(),
        ids[0]["sid"].as_str()
    );

    let (_, after) = status_json(client.get(second.url(&format!("/_emulator/calls/{sid}")))).await;
    assert_eq!(
        timeline_statuses(&after),
        ["queued", "ringing", "in-progress", "completed"],
        "each step exactly once"
    );
    let (_, journal) =
        status_json(client.get(second.url(&format!("/_emulator/callbacks?call_sid={sid}")))).await;
    let callbacks = journal["callbacks"].as_array().expect("callbacks");
    assert_eq!(callbacks.len(), 1, "{journal}");
    let delivered = wait_for(Duration::from_secs(10), || async {
        let (_, j) =
            status_json(client.get(second.url(&format!("/_emulator/callbacks?call_sid={sid}"))))
                .await;
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

    let first = Emulator::start_on(&db, &log, &args).await;
    let response = client
        .put(first.url(&format!("/_emulator/accounts/{SID}/phones/%2B14155550301")))
        .json(&serde_json::json!({ "behavior": "manual" }))
        .send()
        .await
        .expect("set behaviour");
    assert_eq!(response.status(), 200);
    let (status, created) = status_json(
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
        let (_, v) = status_json(client.get(view_url(&first))).await;
        (v["status"] == "in-progress").then_some(v)
    })
    .await
    .expect("the call is answered and waits for digits");
    assert!(answered["next_action_at"].is_string());
    first.kill();

    let second = Emulator::start_on(&db, &log, &args).await;
    let (_, resumed) = status_json(client.get(view_url(&second))).await;
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
    let ids = caller_ids(&second, &dev()).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0]["phone_number"], phone);
    assert_eq!(
        cb.param("OutgoingCallerIdSid").as_deref(),
        ids[0]["sid"].as_str()
    );
    let (_, after) = status_json(client.get(view_url(&second))).await;
    assert_eq!(
        timeline_statuses(&after),
        ["queued", "ringing", "in-progress", "digits", "completed"]
    );
    second.kill();
}
