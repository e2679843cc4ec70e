//! The control API's accounts and fixtures (Issue 2): accounts made, deleted and made again
//! (empty), caller IDs seeded, and the reset that keeps the configured account.

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn control_accounts_create_and_delete() {
    let app = TestApp::spawn().await;
    let accounts = app.url("/_emulator/accounts");

    // Generated sid and token.
    let reply = send(app.client.post(&accounts)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/json");
    let v = reply.json();
    let sid = v["sid"].as_str().expect("sid").to_string();
    let token = v["auth_token"].as_str().expect("token").to_string();
    assert!(is_sid(&sid, "AC"), "{sid}");
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    let generated = Account { sid, token };
    let list = list_page(
        &app,
        &generated,
        &path_of(&generated.sid, "/OutgoingCallerIds.json"),
    )
    .await;
    assert!(sids(&list).is_empty());

    // Chosen sid, token and name.
    let chosen_sid = "AC0123456789abcdef0123456789abcdef";
    let reply = send(app.client.post(&accounts).json(&json!({
        "sid": chosen_sid,
        "auth_token": "my-token",
        "friendly_name": "Suite 7",
    })))
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let v = reply.json();
    assert_eq!(v["sid"], chosen_sid);
    assert_eq!(v["auth_token"], "my-token");
    assert_eq!(v["friendly_name"], "Suite 7");
    let chosen = Account {
        sid: chosen_sid.into(),
        token: "my-token".into(),
    };
    let _ = list_page(
        &app,
        &chosen,
        &path_of(chosen_sid, "/OutgoingCallerIds.json"),
    )
    .await;

    // Duplicate sid: 409. The dev account counts too.
    for sid in [chosen_sid, SID] {
        let reply = send(app.client.post(&accounts).json(&json!({ "sid": sid }))).await;
        json_error(&reply, 409, 20409);
    }
    // Bad input: 400 with Twilio's body.
    for body in [
        json!({"sid": "ACnope"}),
        json!({"sid": "PN0123456789abcdef0123456789abcdef"}),
        json!({"auth_token": ""}),
        json!({"unknown": 1}),
    ] {
        let reply = send(app.client.post(&accounts).json(&body)).await;
        json_error(&reply, 400, 20001);
    }
    let reply = send(
        app.client
            .post(&accounts)
            .header(CONTENT_TYPE, "application/json")
            .body("{not json"),
    )
    .await;
    json_error(&reply, 400, 20001);

    // Delete: 204, data and credentials gone.
    let _ = seed_in(&app, chosen_sid, "+14158675309", None).await;
    let as_key = new_key(&app, chosen_sid, None).await;
    let reply = send(
        app.client
            .delete(app.url(&format!("/_emulator/accounts/{chosen_sid}"))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(reply.body, "");
    let reply = send(own(&app, &chosen, Method::GET, "/OutgoingCallerIds.json")).await;
    assert_eq!(
        json_error(&reply, 401, 20003),
        "Authentication Error - invalid username"
    );
    let reply = send(call(
        &app,
        &as_key,
        Method::GET,
        &path_of(chosen_sid, "/OutgoingCallerIds.json"),
    ))
    .await;
    json_error(&reply, 401, 20003);
    let reply = send(
        app.client
            .delete(app.url(&format!("/_emulator/accounts/{chosen_sid}"))),
    )
    .await;
    json_error(&reply, 404, 20404);
    let reply = send(app.client.delete(app.url("/_emulator/accounts/ACnope"))).await;
    json_error(&reply, 404, 20404);

    // Made again under the same sid, it starts empty.
    let reply = send(
        app.client
            .post(&accounts)
            .json(&json!({"sid": chosen_sid, "auth_token": "t2"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let again = Account {
        sid: chosen_sid.into(),
        token: "t2".into(),
    };
    let list = list_page(
        &app,
        &again,
        &path_of(chosen_sid, "/OutgoingCallerIds.json"),
    )
    .await;
    assert!(sids(&list).is_empty());

    // Other accounts are unaffected.
    let _ = list_page(
        &app,
        &generated,
        &path_of(&generated.sid, "/OutgoingCallerIds.json"),
    )
    .await;
    let _ = list_page(&app, &dev(), &path_of(SID, "/OutgoingCallerIds.json")).await;
}

#[tokio::test]
async fn control_caller_id_fixtures() {
    let app = TestApp::spawn().await;
    let url = app.url(&format!("/_emulator/accounts/{SID}/outgoing-caller-ids"));

    let reply = send(
        app.client
            .post(&url)
            .json(&json!({"phone_number": "(415) 867-5309"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/json");
    let v = reply.json();
    assert_caller_id_json(&v, SID, "+14158675309", "(415) 867-5309");
    assert_eq!(v["date_created"], v["date_updated"]);
    let reply = send(
        app.client
            .post(&url)
            .json(&json!({"phone_number": "+442071838750", "friendly_name": "London"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_caller_id_json(&reply.json(), SID, "+442071838750", "London");

    // The fixture is a real caller ID.
    let fetched = send(own(
        &app,
        &dev(),
        Method::GET,
        &format!("/OutgoingCallerIds/{}.json", sid_of(&v)),
    ))
    .await;
    assert_eq!(fetched.json(), v);

    // Same validation and errors as the Twilio API.
    for bad in ["abc", "+1415", "123", "+1 (415) 867-53099"] {
        let reply = send(app.client.post(&url).json(&json!({ "phone_number": bad }))).await;
        let message = json_error(&reply, 400, 21421);
        assert!(message.contains(bad), "{message}");
    }
    for dup in ["+14158675309", "415-867-5309"] {
        let reply = send(app.client.post(&url).json(&json!({ "phone_number": dup }))).await;
        json_error(&reply, 400, 21450);
    }
    let reply = send(app.client.post(&url).json(&json!({}))).await;
    json_error(&reply, 400, 20001);
    let reply = send(
        app.client
            .post(&url)
            .json(&json!({"phone_number": "+14155551212", "friendly_name": "x".repeat(65)})),
    )
    .await;
    json_error(&reply, 400, 20001);
    let reply =
        send(
            app.client
                .post(app.url(
                    "/_emulator/accounts/AC0123456789abcdef0123456789abcdef/outgoing-caller-ids",
                ))
                .json(&json!({"phone_number": "+14155551212"})),
        )
        .await;
    json_error(&reply, 404, 20404);

    let list = list_page(&app, &dev(), &path_of(SID, "/OutgoingCallerIds.json")).await;
    assert_eq!(sids(&list).len(), 2);
}

#[tokio::test]
async fn control_reset_keeps_the_configured_account() {
    let app = TestApp::spawn().await;
    let other = new_account(&app).await;
    let _ = seed_in(&app, SID, "+14158675309", None).await;
    let _ = seed_in(&app, &other.sid, "+14158675309", None).await;
    let _ = send(own(&app, &dev(), Method::GET, "/OutgoingCallerIds.json")).await;

    let reply = send(app.client.post(app.url("/_emulator/reset"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let list = list_page(&app, &dev(), &path_of(SID, "/OutgoingCallerIds.json")).await;
    assert!(sids(&list).is_empty(), "data wiped");
    let reply = send(own(&app, &other, Method::GET, "/OutgoingCallerIds.json")).await;
    json_error(&reply, 401, 20003);
    // The journal starts again too: only the two requests since the reset.
    let reply = send(app.client.get(app.url("/_emulator/requests"))).await;
    let requests = reply.json()["requests"]
        .as_array()
        .expect("requests")
        .clone();
    assert_eq!(requests.len(), 2, "{requests:?}");
    // The numbers can be verified again.
    let _ = seed_in(&app, SID, "+14158675309", None).await;
}

#[tokio::test]
async fn a_deleted_account_made_again_has_none_of_its_old_caller_ids() {
    let app = TestApp::spawn().await;
    let chosen_sid = "AC0123456789abcdef0123456789abcdef";
    let make = || {
        app.client
            .post(app.url("/_emulator/accounts"))
            .json(&json!({"sid": chosen_sid, "auth_token": "my-token"}))
    };
    let reply = send(make()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let old = seed_in(&app, chosen_sid, "+14158675309", Some("Old")).await;
    let reply = send(
        app.client
            .delete(app.url(&format!("/_emulator/accounts/{chosen_sid}"))),
    )
    .await;
    assert!(reply.status.is_success(), "{}", reply.body);
    let reply = send(make()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let who = Account {
        sid: chosen_sid.into(),
        token: "my-token".into(),
    };
    let list = list_page(&app, &who, &path_of(chosen_sid, "/OutgoingCallerIds.json")).await;
    assert!(sids(&list).is_empty(), "{list}");
    let old_sid = old["sid"].as_str().expect("sid");
    let reply = send(own(
        &app,
        &who,
        Method::GET,
        &format!("/OutgoingCallerIds/{old_sid}.json"),
    ))
    .await;
    json_error(&reply, 404, 20404);
    // The number is free to verify again.
    let _ = seed_in(&app, chosen_sid, "+14158675309", Some("New")).await;
}
