//! Issue 3: how a verification call proceeds when it needs more than its callee's behaviour:
//! a `manual` callee that waits for digits (right, wrong or none), and a new request for the
//! same number that supersedes a call still pending or queued.

use axum::http::StatusCode;
use serde_json::Value;

use crate::helpers::*;

// ---- manual -------------------------------------------------------------------------------

#[tokio::test]
async fn manual_call_waits_for_the_right_digits() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let phone = "+14155550120";
    set_behavior(&app, SID, phone, "manual").await;
    let created = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let sid = call_sid(&created);
    let code = created["validation_code"].as_str().expect("code");
    let view = wait_status(&app, &sid, "in-progress").await;
    assert!(
        view["next_action_at"].is_string(),
        "waits for digits: {view}"
    );
    assert!(
        receiver.received().is_empty(),
        "no callback while in progress"
    );

    let response = post_digits(&app, &sid, code).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cb = wait_callback(&receiver, &sid).await;
    let p = params_map(&cb);
    assert_eq!(p["CallStatus"], "completed");
    assert_eq!(p["VerificationStatus"], "success");
    let ids = caller_ids(&app, &dev()).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(
        p["OutgoingCallerIdSid"],
        ids[0]["sid"].as_str().expect("sid")
    );

    let view = call_view(&app, &sid).await;
    assert_eq!(
        timeline_statuses(&view),
        ["queued", "ringing", "in-progress", "digits", "completed"]
    );

    // The call has ended: more digits are refused, in Twilio's error body.
    let response = post_digits(&app, &sid, code).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], 409);
    assert!(body["code"].is_u64(), "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(
        body["more_info"],
        format!(
            "https://www.twilio.com/docs/errors/{}",
            body["code"].as_u64().expect("code")
        )
    );
}

#[tokio::test]
async fn manual_call_with_wrong_digits_fails() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let phone = "+14155550121";
    set_behavior(&app, SID, phone, "manual").await;
    let created = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let sid = call_sid(&created);
    let code = created["validation_code"].as_str().expect("code");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    wait_status(&app, &sid, "in-progress").await;
    assert_eq!(
        post_digits(&app, &sid, wrong).await.status(),
        StatusCode::OK
    );
    let cb = wait_callback(&receiver, &sid).await;
    let p = params_map(&cb);
    assert_eq!(p["CallStatus"], "completed");
    assert_eq!(p["VerificationStatus"], "failed");
    assert!(!p.contains_key("OutgoingCallerIdSid"));
    assert!(caller_ids(&app, &dev()).await.is_empty());
    assert_eq!(call_view(&app, &sid).await["digits"], wrong);
}

#[tokio::test]
async fn manual_call_times_out_without_digits() {
    let app = TestApp::spawn_with(|s| s.manual_digits_timeout = 1).await;
    let receiver = Receiver::start().await;
    let phone = "+14155550122";
    set_behavior(&app, SID, phone, "manual").await;
    let created = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let sid = call_sid(&created);
    let cb = wait_callback(&receiver, &sid).await;
    let p = params_map(&cb);
    assert_eq!(p["VerificationStatus"], "failed");
    assert!(!p.contains_key("OutgoingCallerIdSid"));
    let view = call_view(&app, &sid).await;
    assert!(view["digits"].is_null(), "{view}");
    assert_eq!(
        timeline_statuses(&view),
        ["queued", "ringing", "in-progress", "completed"]
    );
    assert!(caller_ids(&app, &dev()).await.is_empty());
    assert_eq!(
        post_digits(
            &app,
            &sid,
            created["validation_code"].as_str().expect("code")
        )
        .await
        .status(),
        StatusCode::CONFLICT
    );
}

// ---- superseded ---------------------------------------------------------------------------

#[tokio::test]
async fn a_new_request_supersedes_the_pending_call() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let phone = "+14155550140";
    set_behavior(&app, SID, phone, "manual").await;
    let first = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let first_sid = call_sid(&first);
    wait_status(&app, &first_sid, "in-progress").await;

    set_behavior(&app, SID, phone, "correct-code").await;
    let second = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let second_sid = call_sid(&second);
    assert_ne!(first_sid, second_sid);

    let cb1 = wait_callback(&receiver, &first_sid).await;
    let p1 = params_map(&cb1);
    assert_eq!(p1["CallStatus"], "canceled");
    assert_eq!(p1["VerificationStatus"], "failed");
    assert!(!p1.contains_key("OutgoingCallerIdSid"));
    assert_signed(&cb1, &receiver, TOKEN);

    let cb2 = wait_callback(&receiver, &second_sid).await;
    let p2 = params_map(&cb2);
    assert_eq!(p2["CallStatus"], "completed");
    assert_eq!(p2["VerificationStatus"], "success");

    let view1 = call_view(&app, &first_sid).await;
    assert_eq!(view1["status"], "canceled");
    assert_eq!(view1["verification_status"], "failed");
    assert!(view1["next_action_at"].is_null());
    assert_eq!(
        timeline_statuses(&view1).last().map(String::as_str),
        Some("canceled")
    );
    // The first call's code no longer does anything.
    let code1 = first["validation_code"].as_str().expect("code");
    assert_eq!(
        post_digits(&app, &first_sid, code1).await.status(),
        StatusCode::CONFLICT
    );

    let ids = caller_ids(&app, &dev()).await;
    assert_eq!(ids.len(), 1, "exactly one caller ID: {ids:?}");
    assert_eq!(
        p2["OutgoingCallerIdSid"],
        ids[0]["sid"].as_str().expect("sid")
    );
    assert_eq!(
        callback_for(&receiver, &first_sid)
            .param("CallStatus")
            .as_deref(),
        Some("canceled")
    );
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn a_new_request_supersedes_a_call_still_queued() {
    // Real time: CallDelay=60 keeps the first call queued for a minute.
    let app = TestApp::spawn_with(|s| s.time_scale = 1.0).await;
    let receiver = Receiver::start().await;
    let phone = "+14155550141";
    let first = create(
        &app,
        &[
            ("PhoneNumber", phone),
            ("CallDelay", "60"),
            ("StatusCallback", &receiver.url),
        ],
    )
    .await;
    let first_sid = call_sid(&first);
    assert_eq!(call_view(&app, &first_sid).await["status"], "queued");
    let second = create(
        &app,
        &[
            ("PhoneNumber", phone),
            ("CallDelay", "60"),
            ("StatusCallback", &receiver.url),
        ],
    )
    .await;
    let cb1 = wait_callback(&receiver, &first_sid).await;
    assert_eq!(cb1.param("CallStatus").as_deref(), Some("canceled"));
    assert_eq!(cb1.param("VerificationStatus").as_deref(), Some("failed"));
    let view2 = call_view(&app, &call_sid(&second)).await;
    assert_eq!(view2["status"], "queued");
    assert!(caller_ids(&app, &dev()).await.is_empty());
}
