//! The Twilio error code in the request journal (Issue 12): each entry of
//! `GET /_emulator/requests` carries the `code` of the Twilio error body its request was
//! answered with, whichever way the error arose (a handler, authentication, a fault rule), and
//! `null` for a success.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

/// The journal entry of the request answered by `reply`, found by its `Twilio-Request-Id`.
async fn entry_of(app: &TestApp, reply: &Reply) -> Value {
    let id = reply.headers["twilio-request-id"]
        .to_str()
        .expect("a request id")
        .to_string();
    let entries = journal_of(app, SID).await;
    entries
        .into_iter()
        .find(|e| e["request_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no journal entry for {id}"))
}

/// The `error_code` of the entry, which must be there (a number or null).
fn error_code(entry: &Value) -> &Value {
    assert!(
        entry
            .as_object()
            .is_some_and(|e| e.contains_key("error_code")),
        "no error_code in {entry}"
    );
    &entry["error_code"]
}

#[tokio::test]
async fn each_entry_carries_the_error_code_its_request_was_answered_with() {
    let app = TestApp::spawn().await;

    let bad = send(
        own(&app, &dev(), Method::POST, "/OutgoingCallerIds.json")
            .form(&[("PhoneNumber", "abc"), ("FriendlyName", "Bad")]),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let answered = bad.json()["code"].clone();
    assert_eq!(answered, 21421);
    let entry = entry_of(&app, &bad).await;
    assert_eq!(error_code(&entry), &answered, "{entry}");
    assert_eq!(entry["status"], 400);
    assert_eq!(entry["params"]["PhoneNumber"], "abc");

    let good = send(
        own(&app, &dev(), Method::POST, "/OutgoingCallerIds.json")
            .form(&[("PhoneNumber", "+14155550190")]),
    )
    .await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.body);
    let entry = entry_of(&app, &good).await;
    assert_eq!(error_code(&entry), &Value::Null, "{entry}");

    for suffix in [".json", ".xml"] {
        let missing = send(own(
            &app,
            &dev(),
            Method::GET,
            &format!("/OutgoingCallerIds/PN00000000000000000000000000000000{suffix}"),
        ))
        .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
        let entry = entry_of(&app, &missing).await;
        assert_eq!(error_code(&entry), 20404, "{entry}");
    }

    let wrong = Account {
        sid: SID.to_string(),
        token: "not the token".to_string(),
    };
    let refused = send(own(&app, &wrong, Method::GET, "/OutgoingCallerIds.json")).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    let entry = entry_of(&app, &refused).await;
    assert_eq!(error_code(&entry), 20003, "{entry}");
}

#[tokio::test]
async fn a_fault_rule_answer_is_journalled_with_the_rule_code() {
    let app = TestApp::spawn().await;
    add_fault(
        &app,
        json!({"account_sid": SID, "method": "GET", "resource": "OutgoingCallerIds", "times": 1,
               "action": {"status": 503, "code": 20503}}),
    )
    .await;
    let faulted = send(own(&app, &dev(), Method::GET, "/OutgoingCallerIds.json")).await;
    assert_eq!(
        faulted.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        faulted.body
    );
    assert_eq!(faulted.json()["code"], 20503);
    let entry = entry_of(&app, &faulted).await;
    assert_eq!(error_code(&entry), 20503, "{entry}");
    assert!(entry["fault"]["id"].is_string(), "{entry}");

    // The rule is spent: the same request succeeds, with no code.
    let next = send(own(&app, &dev(), Method::GET, "/OutgoingCallerIds.json")).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    assert_eq!(error_code(&entry_of(&app, &next).await), &Value::Null);
}
