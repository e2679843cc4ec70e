//! Issue 3: validation requests, the simulated verification call and its signed
//! StatusCallback, for each way a callee can behave: success, a wrong code, no answer and
//! busy, the magic numbers, and behaviours that belong to one account. Every test runs the
//! real server over a real SQLite file and, where a callback is involved, a real HTTP receiver
//! on port 0.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::db::count_rows;
use crate::helpers::*;

#[tokio::test]
async fn success_creates_the_caller_id_and_posts_a_signed_callback() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let created = create(
        &app,
        &[
            ("PhoneNumber", "+14155550100"),
            ("FriendlyName", "Front desk"),
            ("CallDelay", "5"),
            ("Extension", "ww123#"),
            ("StatusCallback", &receiver.url),
            ("StatusCallbackMethod", "POST"),
        ],
    )
    .await;
    assert_eq!(created["account_sid"], SID);
    assert_eq!(created["phone_number"], "+14155550100");
    assert_eq!(created["friendly_name"], "Front desk");
    let code = created["validation_code"].as_str().expect("code");
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "validation_code {code:?}"
    );
    let sid = call_sid(&created);
    assert!(sid.len() == 34 && sid.starts_with("CA"), "call_sid {sid:?}");

    let got = receiver.wait_for(1).await;
    let cb = &got[0];
    let caller_id = wait_for(Duration::from_secs(5), || async {
        caller_ids(&app, &dev()).await.into_iter().next()
    })
    .await
    .expect("caller ID created");
    assert_eq!(caller_id["phone_number"], "+14155550100");
    assert_eq!(caller_id["friendly_name"], "Front desk");
    let pn = caller_id["sid"].as_str().expect("sid");
    assert!(pn.starts_with("PN"), "caller ID sid {pn}");

    // The request.
    assert_eq!(cb.method, Method::POST);
    assert_eq!(cb.uri.path(), "/status");
    assert_eq!(cb.uri.query(), None);
    assert_eq!(cb.header("User-Agent").as_deref(), Some("TwilioProxy/1.1"));
    let content_type = cb.header("Content-Type").expect("content type");
    assert!(
        content_type.starts_with("application/x-www-form-urlencoded"),
        "{content_type}"
    );
    let token = cb
        .header("I-Twilio-Idempotency-Token")
        .expect("idempotency token");
    assert!(
        uuid::Uuid::parse_str(&token).is_ok(),
        "idempotency token {token:?}"
    );
    assert_signed(cb, &receiver, TOKEN);

    // Its parameters.
    let p = params_map(cb);
    assert_eq!(p["AccountSid"], SID);
    assert_eq!(p["ApiVersion"], "2010-04-01");
    assert_eq!(p["CallSid"], sid);
    assert_eq!(p["CallStatus"], "completed");
    assert_eq!(p["Called"], "+14155550100");
    assert_eq!(p["To"], "+14155550100");
    assert_eq!(p["Caller"], VERIFICATION_CALLER);
    assert_eq!(p["From"], VERIFICATION_CALLER);
    assert_eq!(p["Direction"], "outbound-api");
    assert_eq!(p["VerificationStatus"], "success");
    assert_eq!(p["OutgoingCallerIdSid"], pn);
    let duration: i64 = p["CallDuration"].parse().expect("CallDuration is a number");
    assert!(duration > 0, "an answered call lasts: {duration}");

    // The Call resource agrees with the callback.
    let call: Value = fetch_call(&app, &dev(), &sid, ".json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(call["duration"], p["CallDuration"].as_str());

    // The journal records the same request, delivered once.
    let journal = wait_callback_state(&app, &sid, "delivered").await;
    assert_eq!(journal["idempotency_token"], token.as_str());
    assert_eq!(journal["method"], "POST");
    assert_eq!(journal["url"], receiver.url.as_str());
    assert_eq!(journal["params"]["OutgoingCallerIdSid"], pn);
    let attempts = journal["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status_code"], 200);
    assert!(attempts[0]["error"].is_null());
    assert_eq!(
        attempts[0]["signature"].as_str(),
        cb.header("X-Twilio-Signature").as_deref()
    );

    // The call as the control API shows it.
    let view = call_view(&app, &sid).await;
    assert_eq!(view["verification_status"], "success");
    assert_eq!(view["outgoing_caller_id_sid"], pn);
    assert_eq!(view["extension"], "ww123#");
    assert_eq!(view["call_delay"], 5);
    assert_eq!(view["digits"], code);
    assert_eq!(receiver.received().len(), 1, "exactly one callback");
}

#[tokio::test]
async fn unformatted_us_number_and_xml_response() {
    let app = TestApp::spawn().await;
    let response = app
        .post_form(
            &app.api("/OutgoingCallerIds"),
            &[("PhoneNumber", "(415) 555-0101")],
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        content_type.starts_with("application/xml"),
        "{content_type}"
    );
    let xml = response.text().await.expect("text");
    assert!(xml.contains("<ValidationRequest>"), "{xml}");
    assert!(
        xml.contains("<PhoneNumber>+14155550101</PhoneNumber>"),
        "{xml}"
    );
    assert!(
        xml.contains("<FriendlyName>(415) 555-0101</FriendlyName>"),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("<AccountSid>{SID}</AccountSid>")),
        "{xml}"
    );
    let start = xml.find("<CallSid>").expect("CallSid") + "<CallSid>".len();
    let sid = &xml[start..start + 34];
    assert!(sid.starts_with("CA"), "{xml}");
    let view = app.wait_call_ended(sid).await;
    assert_eq!(view["verification_status"], "success");
    let ids = caller_ids(&app, &dev()).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0]["phone_number"], "+14155550101");
    assert_eq!(ids[0]["friendly_name"], "(415) 555-0101");
}

// ---- failures -----------------------------------------------------------------------------

#[tokio::test]
async fn wrong_code_fails_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let phone = "+14155550110";
    set_behavior(&app, SID, phone, "wrong-code").await;
    assert_eq!(
        get_behavior(&app, SID, phone).await["behavior"],
        "wrong-code"
    );
    let created = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let sid = call_sid(&created);
    let cb = wait_callback(&receiver, &sid).await;
    let p = params_map(&cb);
    assert_eq!(p["CallStatus"], "completed");
    assert_eq!(p["VerificationStatus"], "failed");
    assert!(!p.contains_key("OutgoingCallerIdSid"), "{p:?}");
    assert_signed(&cb, &receiver, TOKEN);
    let view = call_view(&app, &sid).await;
    assert_eq!(view["verification_status"], "failed");
    assert_ne!(view["digits"], view["validation_code"]);
    assert!(view["outgoing_caller_id_sid"].is_null());
    assert!(caller_ids(&app, &dev()).await.is_empty());
    assert_eq!(count_rows(&app, "outgoing_caller_ids").await, 0);
}

#[tokio::test]
async fn no_answer_and_busy_fail() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    for (phone, behavior) in [("+14155550111", "no-answer"), ("+14155550112", "busy")] {
        let sid = create_with_callback(&app, phone, behavior, &receiver).await;
        let cb = wait_callback(&receiver, &sid).await;
        let p = params_map(&cb);
        assert_eq!(p["CallStatus"], behavior, "{phone}");
        assert_eq!(p["VerificationStatus"], "failed", "{phone}");
        assert_eq!(p["To"], phone);
        assert!(!p.contains_key("OutgoingCallerIdSid"), "{p:?}");
        assert_signed(&cb, &receiver, TOKEN);
        let call: Value = fetch_call(&app, &dev(), &sid, ".json")
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(call["status"], behavior);
        assert!(call["end_time"].is_string(), "{call}");
    }
    assert!(caller_ids(&app, &dev()).await.is_empty());
}

// ---- magic numbers and per-account behaviours ---------------------------------------------

#[tokio::test]
async fn magic_numbers_need_no_setup() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let cases = [
        ("+15005550001", "correct-code", "completed", "success"),
        ("+15005550002", "wrong-code", "completed", "failed"),
        ("+15005550003", "no-answer", "no-answer", "failed"),
        ("+15005550004", "busy", "busy", "failed"),
        ("+15005550005", "manual", "completed", "success"),
    ];
    for (phone, behavior, call_status, verification) in cases {
        let shown = get_behavior(&app, SID, phone).await;
        assert_eq!(shown["behavior"], behavior, "{phone}");
        assert_eq!(shown["magic"], true, "{phone}");
        let created = create(
            &app,
            &[
                ("PhoneNumber", phone),
                ("StatusCallback", &receiver.url),
                ("CallDelay", "1"),
            ],
        )
        .await;
        let sid = call_sid(&created);
        if behavior == "manual" {
            wait_status(&app, &sid, "in-progress").await;
            let code = created["validation_code"].as_str().expect("code");
            assert_eq!(post_digits(&app, &sid, code).await.status(), StatusCode::OK);
        }
        let cb = wait_callback(&receiver, &sid).await;
        let p = params_map(&cb);
        assert_eq!(p["CallStatus"], call_status, "{phone}");
        assert_eq!(p["VerificationStatus"], verification, "{phone}");
        assert_eq!(call_view(&app, &sid).await["behavior"], behavior, "{phone}");
    }
    let mut verified: Vec<String> = caller_ids(&app, &dev())
        .await
        .iter()
        .map(|c| c["phone_number"].as_str().expect("phone").to_string())
        .collect();
    verified.sort();
    assert_eq!(verified, ["+15005550001", "+15005550005"]);
}

#[tokio::test]
async fn behaviours_are_per_account() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let other = new_account_with_token(&app, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb").await;
    let phone = "+14155550130";
    set_behavior(&app, SID, phone, "wrong-code").await;
    assert_eq!(
        get_behavior(&app, &other.sid, phone).await["behavior"],
        "correct-code"
    );

    let a = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let b = create_as(
        &app,
        &other,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    assert_eq!(b["account_sid"], other.sid.as_str());
    let cb_a = wait_callback(&receiver, &call_sid(&a)).await;
    let cb_b = wait_callback(&receiver, &call_sid(&b)).await;
    assert_eq!(cb_a.param("VerificationStatus").as_deref(), Some("failed"));
    assert_eq!(cb_b.param("VerificationStatus").as_deref(), Some("success"));
    assert_eq!(
        cb_b.param("AccountSid").as_deref(),
        Some(other.sid.as_str())
    );
    // Each callback is signed with its own account's token.
    assert_signed(&cb_a, &receiver, TOKEN);
    assert_signed(&cb_b, &receiver, &other.token);

    assert!(caller_ids(&app, &dev()).await.is_empty());
    let ids = caller_ids(&app, &other).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0]["phone_number"], phone);
    assert_eq!(
        cb_b.param("OutgoingCallerIdSid").as_deref(),
        ids[0]["sid"].as_str()
    );
}

#[tokio::test]
async fn a_deleted_account_made_again_has_none_of_its_old_behaviours() {
    let app = TestApp::spawn().await;
    let account = new_account_with_token(&app, "first-token").await;
    set_behavior(&app, &account.sid, "+14155550177", "busy").await;
    let response = app
        .client
        .delete(app.url(&format!("/_emulator/accounts/{}", account.sid)))
        .send()
        .await
        .expect("delete");
    assert!(response.status().is_success());
    let response = app
        .client
        .post(app.url("/_emulator/accounts"))
        .json(&serde_json::json!({"sid": account.sid, "auth_token": "second-token"}))
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), StatusCode::CREATED);
    let behavior = get_behavior(&app, &account.sid, "+14155550177").await;
    assert_eq!(behavior["behavior"], "correct-code", "{behavior}");
}
