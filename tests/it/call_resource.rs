//! Issue 3: the Call resource and the control API's call view as a verification call moves:
//! its fields in JSON and XML, its timeline, and simulated time (scale 0, 1, and 1/100 with
//! the scheduler taking the steps).

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn the_call_resource_follows_the_call() {
    let app = TestApp::spawn().await;
    let phone = "+14155550180";
    let created = create(&app, &[("PhoneNumber", phone)]).await;
    let sid = call_sid(&created);
    app.wait_call_ended(&sid).await;

    let response = fetch_call(&app, &dev(), &sid, ".json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let call: Value = response.json().await.expect("json");
    assert_eq!(call["sid"], sid.as_str());
    assert_eq!(call["account_sid"], SID);
    assert_eq!(call["status"], "completed");
    assert_eq!(call["direction"], "outbound-api");
    assert_eq!(call["from"], VERIFICATION_CALLER);
    assert_eq!(call["to"], phone);
    assert_eq!(call["api_version"], "2010-04-01");
    let start = chrono::DateTime::parse_from_rfc2822(call["start_time"].as_str().expect("start"))
        .expect("start_time is RFC 2822");
    let end = chrono::DateTime::parse_from_rfc2822(call["end_time"].as_str().expect("end"))
        .expect("end_time is RFC 2822");
    assert!(end >= start);
    let duration: i64 = call["duration"]
        .as_str()
        .expect("duration")
        .parse()
        .expect("number");
    assert!(duration > 0);
    assert_eq!(
        call["uri"],
        format!("/2010-04-01/Accounts/{SID}/Calls/{sid}.json")
    );

    for suffix in ["", ".xml"] {
        let response = fetch_call(&app, &dev(), &sid, suffix).await;
        assert_eq!(response.status(), StatusCode::OK);
        let xml = response.text().await.expect("text");
        assert!(xml.contains("<Call>"), "{xml}");
        assert!(xml.contains(&format!("<Sid>{sid}</Sid>")), "{xml}");
        assert!(xml.contains("<Status>completed</Status>"), "{xml}");
        assert!(xml.contains("<Direction>outbound-api</Direction>"), "{xml}");
        assert!(
            xml.contains(&format!("<From>{VERIFICATION_CALLER}</From>")),
            "{xml}"
        );
        assert!(xml.contains(&format!("<To>{phone}</To>")), "{xml}");
        assert!(
            xml.contains(&format!("<Duration>{duration}</Duration>")),
            "{xml}"
        );
    }

    // Another account's call is not found, nor is an unknown one.
    let other = new_account_with_token(&app, "cccccccccccccccccccccccccccccccc").await;
    let response = fetch_call(&app, &other, &sid, ".json").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["code"], 20404);
    assert_eq!(body["status"], 404);
    let unknown = "CA00000000000000000000000000000000";
    let response = fetch_call(&app, &dev(), unknown, ".json").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_call_view_lists_the_timeline_in_order() {
    let app = TestApp::spawn().await;
    let created = create(&app, &[("PhoneNumber", "+14155550210")]).await;
    let sid = call_sid(&created);
    let view = app.wait_call_ended(&sid).await;
    assert_eq!(
        timeline_statuses(&view),
        ["queued", "ringing", "in-progress", "completed"]
    );
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = view["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| {
            chrono::DateTime::parse_from_rfc3339(e["at"].as_str().expect("at")).expect("rfc3339")
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(view["validation_code"], created["validation_code"]);
    assert_eq!(view["to"], "+14155550210");
    assert_eq!(view["from"], VERIFICATION_CALLER);
    assert_eq!(view["behavior"], "correct-code");
    assert_eq!(view["status"], "completed");
}

// ---- simulated time -----------------------------------------------------------------------

#[tokio::test]
async fn time_scale_zero_makes_a_long_call_delay_instant() {
    let app = TestApp::spawn().await; // time scale 0
    let created = create(
        &app,
        &[("PhoneNumber", "+14155550190"), ("CallDelay", "60")],
    )
    .await;
    let sid = call_sid(&created);
    let url = app.url(&format!("/_emulator/calls/{sid}"));
    let view = wait_for(Duration::from_secs(5), || async {
        let v: Value = app.client.get(&url).send().await.ok()?.json().await.ok()?;
        v["next_action_at"].is_null().then_some(v)
    })
    .await
    .expect("a CallDelay=60 call completes at once with time scale 0");
    assert_eq!(view["status"], "completed");
    assert_eq!(view["verification_status"], "success");
}

#[tokio::test]
async fn time_scale_one_keeps_the_call_queued_for_its_delay() {
    let app = TestApp::spawn_with(|s| s.time_scale = 1.0).await;
    let created = create(
        &app,
        &[("PhoneNumber", "+14155550191"), ("CallDelay", "60")],
    )
    .await;
    let sid = call_sid(&created);
    let call: Value = fetch_call(&app, &dev(), &sid, ".json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(call["status"], "queued");
    assert!(call["start_time"].is_null(), "{call}");
    assert!(call["end_time"].is_null(), "{call}");
    assert!(call["duration"].is_null(), "{call}");
    let view = call_view(&app, &sid).await;
    assert_eq!(view["status"], "queued");
    assert!(view["next_action_at"].is_string());
    assert!(view["verification_status"].is_null());
    assert!(caller_ids(&app, &dev()).await.is_empty());
}

#[tokio::test]
async fn the_scheduler_moves_many_calls_step_by_step_in_real_time() {
    // 1/20 of real time: each call waits at every step (its CallDelay 50 ms, long enough to
    // see it queued on a loaded machine), so the scheduler (not the request) takes the steps,
    // several calls per transaction.
    let app = TestApp::spawn_with(|s| s.time_scale = 0.05).await;
    let receiver = Receiver::start().await;
    let cases = [
        ("+14155550201", "correct-code", "completed", "success"),
        ("+14155550202", "wrong-code", "completed", "failed"),
        ("+14155550203", "busy", "busy", "failed"),
        ("+14155550204", "no-answer", "no-answer", "failed"),
        ("+14155550205", "correct-code", "completed", "success"),
        ("+14155550206", "correct-code", "completed", "success"),
    ];
    let mut sids = Vec::new();
    for (phone, behavior, _, _) in cases {
        let sid = create_with_callback(&app, phone, behavior, &receiver).await;
        assert_eq!(call_view(&app, &sid).await["status"], "queued");
        sids.push(sid);
    }
    for (sid, (_, _, status, verification)) in sids.iter().zip(cases) {
        let view = wait_status(&app, sid, status).await;
        assert_eq!(view["verification_status"], verification, "{view}");
        let timeline = timeline_statuses(&view);
        let expected: &[&str] = match status {
            "completed" => &["queued", "ringing", "in-progress", "completed"],
            other => &["queued", "ringing", other],
        };
        assert_eq!(timeline, expected, "{view}");
        let callback = wait_callback(&receiver, sid).await;
        let params = params_map(&callback);
        assert_eq!(params["CallStatus"], status);
        assert_eq!(params["VerificationStatus"], verification);
    }
    let verified: Vec<String> = caller_ids(&app, &dev())
        .await
        .iter()
        .map(|c| c["phone_number"].as_str().expect("number").to_string())
        .collect();
    assert_eq!(
        verified,
        ["+14155550201", "+14155550205", "+14155550206"],
        "one caller ID per successful call, in creation order"
    );
}
