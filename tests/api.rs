//! Integration tests: the real router on a real port, a real SQLite file, real HTTP.

mod common;

use common::*;

#[tokio::test]
async fn smoke_validation_request_creates_caller_id() {
    let app = TestApp::spawn().await;
    let response = app
        .post_form(
            &app.api("/OutgoingCallerIds.json"),
            &[("PhoneNumber", "+14158675309")],
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    let call = app
        .wait_call_ended(body["call_sid"].as_str().expect("call_sid"))
        .await;
    assert_eq!(call["verification_status"], "success");
    let list: serde_json::Value = app
        .get(&app.api("/OutgoingCallerIds.json"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        list["outgoing_caller_ids"][0]["phone_number"],
        "+14158675309"
    );
    assert_eq!(
        list["outgoing_caller_ids"][0]["friendly_name"],
        "(415) 867-5309"
    );
}
