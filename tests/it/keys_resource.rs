//! Issue 13: the Keys resource, `/2010-04-01/Accounts/{AccountSid}/Keys`: create (the secret
//! shown once), use, list, fetch, rename and delete, in JSON and XML; what standard and main
//! keys reach.

use reqwest::Method;

use crate::helpers::*;

#[tokio::test]
async fn a_key_is_created_used_listed_renamed_and_deleted() {
    let app = TestApp::spawn().await;
    let (key, created) = new_api_key(&app, &dev(), Some("ci")).await;
    assert_eq!(
        keys(&created),
        set(&[
            "sid",
            "friendly_name",
            "date_created",
            "date_updated",
            "secret"
        ])
    );
    assert!(is_sid(&key.sid, "SK"));
    assert_eq!(key.token.len(), 32);
    assert_eq!(created["friendly_name"], "ci");

    // The key authenticates as its account.
    seed_in(&app, SID, "+14155550101", None).await;
    let as_key = send(call(
        &app,
        &key,
        Method::GET,
        &path_of(SID, "/OutgoingCallerIds.json"),
    ))
    .await;
    assert_eq!(as_key.status, 200, "{}", as_key.body);
    assert_eq!(
        as_key.json()["outgoing_caller_ids"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // Listed and fetched without the secret.
    let page = list_of(&app, &dev(), &path_of(SID, "/Keys.json"), "keys").await;
    assert_eq!(sids_in(&page, "keys"), vec![key.sid.clone()]);
    assert!(page["keys"][0].get("secret").is_none());
    assert_eq!(
        page["uri"],
        format!("/2010-04-01/Accounts/{SID}/Keys.json?PageSize=50&Page=0")
    );
    let instance = path_of(SID, &format!("/Keys/{}.json", key.sid));
    let (status, fetched) = status_json(call(&app, &dev(), Method::GET, &instance)).await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(
        keys(&fetched),
        set(&["sid", "friendly_name", "date_created", "date_updated"])
    );

    let renamed =
        send(call(&app, &dev(), Method::POST, &instance).form(&[("FriendlyName", "deploy")])).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.json()["friendly_name"], "deploy");

    let deleted = send(call(&app, &dev(), Method::DELETE, &instance)).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    // The very next request with the key fails.
    let after = send(call(
        &app,
        &key,
        Method::GET,
        &path_of(SID, "/OutgoingCallerIds.json"),
    ))
    .await;
    json_error(&after, 401, 20003);
    let gone = send(call(&app, &dev(), Method::GET, &instance)).await;
    json_error(&gone, 404, 20404);
    let again = send(call(&app, &dev(), Method::DELETE, &instance)).await;
    json_error(&again, 404, 20404);
}

#[tokio::test]
async fn a_key_made_without_a_name_has_none_and_names_are_checked() {
    let app = TestApp::spawn().await;
    let (_, created) = new_api_key(&app, &dev(), None).await;
    assert!(created["friendly_name"].is_null(), "{created}");
    let long = "k".repeat(65);
    let refused = send(
        own(&app, &dev(), Method::POST, "/Keys.json").form(&[("FriendlyName", long.as_str())]),
    )
    .await;
    json_error(&refused, 400, 20001);
    let malformed = send(own(&app, &dev(), Method::GET, "/Keys/SKnope.json")).await;
    json_error(&malformed, 404, 20404);
    let other = send(own(&app, &dev(), Method::PUT, "/Keys.json")).await;
    json_error(&other, 405, 20004);
}

#[tokio::test]
async fn keys_answer_in_xml_and_the_secret_only_on_creation() {
    let app = TestApp::spawn().await;
    let reply = send(own(&app, &dev(), Method::POST, "/Keys").form(&[("FriendlyName", "x")])).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/xml");
    assert!(
        reply
            .body
            .starts_with(&format!("{XML_DECL}<TwilioResponse><Key><Sid>SK")),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("<Secret>"), "{}", reply.body);
    let list = send(own(&app, &dev(), Method::GET, "/Keys")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body.contains("<Keys page=\"0\" pagesize=\"50\""),
        "{}",
        list.body
    );
    assert!(
        list.body.contains("<FriendlyName>x</FriendlyName>"),
        "{}",
        list.body
    );
    assert!(!list.body.contains("<Secret>"), "{}", list.body);
}

#[tokio::test]
async fn standard_keys_do_not_manage_keys_main_keys_do() {
    let app = TestApp::spawn().await;
    let (standard, _) = new_api_key(&app, &dev(), None).await;
    for method in [Method::GET, Method::POST] {
        let reply = send(call(&app, &standard, method, &path_of(SID, "/Keys.json"))).await;
        json_error(&reply, 401, 20003);
    }
    let instance = path_of(SID, &format!("/Keys/{}.json", standard.sid));
    json_error(
        &send(call(&app, &standard, Method::DELETE, &instance)).await,
        401,
        20003,
    );
    let main = new_main_key(&app, SID).await;
    let page = list_of(&app, &main, &path_of(SID, "/Keys.json"), "keys").await;
    assert_eq!(page["keys"].as_array().map(Vec::len), Some(2));
    let made = send(call(&app, &main, Method::POST, &path_of(SID, "/Keys.json"))).await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert!(is_sid(made.json()["sid"].as_str().expect("sid"), "SK"));
    // The control API refuses a kind it does not know.
    let bad = send(
        app.client()
            .post(app.url(&format!("/_emulator/accounts/{SID}/keys")))
            .json(&serde_json::json!({ "kind": "root" })),
    )
    .await;
    json_error(&bad, 400, 20001);
}

#[tokio::test]
async fn a_parents_keys_do_not_reach_its_subaccounts() {
    let app = TestApp::spawn().await;
    let (sub, _) = new_subaccount(&app, &dev(), None).await;
    let standard = new_api_key(&app, &dev(), None).await.0;
    let main = new_main_key(&app, SID).await;
    for key in [&standard, &main] {
        let reply = send(call(
            &app,
            key,
            Method::GET,
            &path_of(&sub.sid, "/OutgoingCallerIds.json"),
        ))
        .await;
        json_error(&reply, 401, 20003);
    }
    // The subaccount's own keys reach it, and only it.
    let (sub_key, _) = new_api_key(&app, &sub, None).await;
    let ok = send(call(
        &app,
        &sub_key,
        Method::GET,
        &path_of(&sub.sid, "/OutgoingCallerIds.json"),
    ))
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let parent = send(call(
        &app,
        &sub_key,
        Method::GET,
        &path_of(SID, "/OutgoingCallerIds.json"),
    ))
    .await;
    json_error(&parent, 401, 20003);
    // A key of the parent is not the subaccount's to see.
    let foreign = send(own(
        &app,
        &sub,
        Method::GET,
        &format!("/Keys/{}.json", standard.sid),
    ))
    .await;
    json_error(&foreign, 404, 20404);
}
