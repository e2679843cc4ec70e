//! The control API's request journal and health check, and the control API turned off or
//! behind a token (Issue 2).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn control_request_journal() {
    let app = TestApp::spawn().await;
    let other = new_account(&app).await;
    let sid = sid_of(&seed_in(&app, SID, "+14158675309", None).await);

    let list = send(own(
        &app,
        &dev(),
        Method::GET,
        "/OutgoingCallerIds.json?PageSize=2&FriendlyName=A+B",
    ))
    .await;
    assert_eq!(list.status, StatusCode::OK);
    let update = send(
        own(
            &app,
            &dev(),
            Method::POST,
            &format!("/OutgoingCallerIds/{sid}.json"),
        )
        .form(&[("FriendlyName", "New name")]),
    )
    .await;
    assert_eq!(update.status, StatusCode::OK);
    let missing = send(own(
        &app,
        &dev(),
        Method::GET,
        "/OutgoingCallerIds/PN0123456789abcdef0123456789abcdef",
    ))
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let theirs = send(own(&app, &other, Method::GET, "/OutgoingCallerIds.json")).await;
    assert_eq!(theirs.status, StatusCode::OK);

    let reply = send(app.client.get(app.url("/_emulator/requests"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let all = reply.json()["requests"]
        .as_array()
        .expect("requests")
        .clone();
    assert_eq!(all.len(), 4, "only Twilio API requests: {all:?}");
    // Newest first.
    assert_eq!(
        all[0]["request_id"],
        theirs.header("twilio-request-id").as_str()
    );
    assert_eq!(all[0]["account_sid"], other.sid.as_str());
    assert_eq!(
        all[1]["request_id"],
        missing.header("twilio-request-id").as_str()
    );
    assert_eq!(all[1]["status"], 404);
    assert_eq!(all[1]["method"], "GET");

    let u = &all[2];
    assert_eq!(u["request_id"], update.header("twilio-request-id").as_str());
    assert_eq!(u["method"], "POST");
    assert_eq!(
        u["path"],
        path_of(SID, &format!("/OutgoingCallerIds/{sid}.json"))
    );
    assert_eq!(u["params"], json!({"FriendlyName": "New name"}));
    assert_eq!(u["status"], 200);
    assert_eq!(u["account_sid"], SID);

    let l = &all[3];
    assert_eq!(l["request_id"], list.header("twilio-request-id").as_str());
    assert_eq!(l["method"], "GET");
    assert_eq!(l["path"], path_of(SID, "/OutgoingCallerIds.json"));
    assert_eq!(l["query"], json!({"PageSize": "2", "FriendlyName": "A B"}));
    assert_eq!(l["status"], 200);

    // Filter by account, and limit.
    let reply = send(
        app.client
            .get(app.url(&format!("/_emulator/requests?account_sid={}", other.sid))),
    )
    .await;
    let theirs_only = reply.json()["requests"]
        .as_array()
        .expect("requests")
        .clone();
    assert_eq!(theirs_only.len(), 1);
    assert_eq!(
        theirs_only[0]["request_id"],
        theirs.header("twilio-request-id").as_str()
    );
    let reply = send(
        app.client
            .get(app.url(&format!("/_emulator/requests?account_sid={SID}&limit=1"))),
    )
    .await;
    let one = reply.json()["requests"]
        .as_array()
        .expect("requests")
        .clone();
    assert_eq!(one.len(), 1);
    assert_eq!(
        one[0]["request_id"],
        missing.header("twilio-request-id").as_str()
    );
    let reply = send(
        app.client
            .get(app.url("/_emulator/requests?account_sid=nope")),
    )
    .await;
    json_error(&reply, 400, 20001);
}

#[tokio::test]
async fn control_health() {
    let app = TestApp::spawn().await;
    let reply = send(app.client.get(app.url("/_emulator/health"))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type(), "application/json");
    assert_eq!(reply.json()["status"], "ok");
    let backend = if crate::helpers::pg::backend_is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(reply.json()["backend"], backend);
    // Unknown control paths are Twilio-style 404s in JSON.
    let reply = send(app.client.get(app.url("/_emulator/nope"))).await;
    json_error(&reply, 404, 20404);
}

#[tokio::test]
async fn control_api_can_be_turned_off() {
    let app = TestApp::spawn_with(|s| s.control_api = false).await;
    for (method, path) in [
        (Method::POST, "/_emulator/accounts"),
        (Method::POST, "/_emulator/reset"),
        (Method::GET, "/_emulator/requests"),
        (
            Method::POST,
            &*format!("/_emulator/accounts/{SID}/outgoing-caller-ids"),
        ),
        (Method::POST, &*format!("/_emulator/accounts/{SID}/keys")),
    ] {
        let reply = send(app.client.request(method, app.url(path)).json(&json!({}))).await;
        json_error(&reply, 404, 20404);
    }
    // The Twilio API still works.
    let _ = list_page(&app, &dev(), &path_of(SID, "/OutgoingCallerIds.json")).await;
}

#[tokio::test]
async fn control_api_can_require_a_token() {
    let app = TestApp::spawn_with(|s| s.control_token = Some("ctl-s3cret".into())).await;
    let url = app.url("/_emulator/accounts");
    let reply = send(app.client.post(&url)).await;
    json_error(&reply, 401, 20003);
    let reply = send(app.client.post(&url).bearer_auth("wrong")).await;
    json_error(&reply, 401, 20003);
    let reply = send(app.client.post(&url).basic_auth(SID, Some(TOKEN))).await;
    json_error(&reply, 401, 20003);
    let reply = send(app.client.get(app.url("/_emulator/requests"))).await;
    json_error(&reply, 401, 20003);
    let reply = send(app.client.post(&url).bearer_auth("ctl-s3cret")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let reply = send(
        app.client
            .get(app.url("/_emulator/requests"))
            .bearer_auth("ctl-s3cret"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn the_control_token_challenge_is_bearer() {
    let app = TestApp::spawn_with(|s| s.control_token = Some("tok".into())).await;
    let reply = send(
        app.client
            .post(app.url("/_emulator/accounts"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply.header("www-authenticate").starts_with("Bearer"),
        "{:?}",
        reply.headers
    );
    let reply = send(
        app.client
            .post(app.url("/_emulator/accounts"))
            .bearer_auth("tok")
            .json(&json!({})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
}
