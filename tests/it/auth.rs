//! Authentication and account isolation on the Twilio API (Issue 2): 401s with Twilio's
//! messages, another account's path or sid, API keys, and two accounts side by side.

use reqwest::{Method, RequestBuilder, StatusCode};

use crate::helpers::*;

#[tokio::test]
async fn authentication_failures_are_401_with_twilio_messages() {
    let app = TestApp::spawn().await;
    let list = app.url(&path_of(SID, "/OutgoingCallerIds.json"));
    let list_xml = app.url(&path_of(SID, "/OutgoingCallerIds"));

    let cases: Vec<(&str, RequestBuilder, RequestBuilder, &str)> = vec![
        (
            "no credentials",
            app.client.get(&list),
            app.client.get(&list_xml),
            "Authentication Error - No credentials provided",
        ),
        (
            "wrong token",
            app.client.get(&list).basic_auth(SID, Some("wrong")),
            app.client.get(&list_xml).basic_auth(SID, Some("wrong")),
            "Authenticate",
        ),
        (
            "unknown account",
            app.client
                .get(&list)
                .basic_auth("AC00000000000000000000000000000000", Some(TOKEN)),
            app.client
                .get(&list_xml)
                .basic_auth("AC00000000000000000000000000000000", Some(TOKEN)),
            "Authentication Error - invalid username",
        ),
        (
            "unknown key",
            app.client
                .get(&list)
                .basic_auth("SK00000000000000000000000000000000", Some(TOKEN)),
            app.client
                .get(&list_xml)
                .basic_auth("SK00000000000000000000000000000000", Some(TOKEN)),
            "Authentication Error - invalid username",
        ),
        (
            "not a sid",
            app.client.get(&list).basic_auth("someone", Some(TOKEN)),
            app.client.get(&list_xml).basic_auth("someone", Some(TOKEN)),
            "Authentication Error - invalid username",
        ),
        (
            "bearer instead of basic",
            app.client.get(&list).bearer_auth(TOKEN),
            app.client.get(&list_xml).bearer_auth(TOKEN),
            "Authentication Error - No credentials provided",
        ),
    ];
    for (what, json_req, xml_req, message) in cases {
        let reply = send(json_req).await;
        assert_eq!(json_error(&reply, 401, 20003), message, "{what}");
        assert_eq!(
            reply.header("www-authenticate"),
            "Basic realm=\"Twilio API\""
        );
        assert_eq!(reply.json()["detail"], AUTH_DETAIL, "{what}");
        let reply = send(xml_req).await;
        assert_eq!(xml_error(&reply, 401, 20003), message, "{what}");
        assert_eq!(
            reply.header("www-authenticate"),
            "Basic realm=\"Twilio API\""
        );
        assert!(reply
            .body
            .contains(&format!("<Detail>{AUTH_DETAIL}</Detail>")));
    }

    // Byte for byte what api.twilio.com sends for a wrong token.
    let reply = send(app.client.get(&list).basic_auth(SID, Some("nope"))).await;
    assert_eq!(
        reply.body,
        r#"{"code": 20003, "detail": "Your AccountSid or AuthToken was incorrect.", "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}"#
    );
    let reply = send(app.client.get(&list_xml).basic_auth(SID, Some("nope"))).await;
    assert_eq!(reply.body.len(), 293, "{}", reply.body);

    // Instance routes and every method are protected too.
    let sid = sid_of(&seed_in(&app, SID, "+14158675309", None).await);
    let instance = app.url(&path_of(SID, &format!("/OutgoingCallerIds/{sid}.json")));
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        let reply = send(app.client.request(method.clone(), &instance)).await;
        json_error(&reply, 401, 20003);
        let reply = send(
            app.client
                .request(method.clone(), &instance)
                .basic_auth(SID, Some("wrong")),
        )
        .await;
        json_error(&reply, 401, 20003);
    }
    let reply = send(
        app.client
            .post(app.url(&path_of(SID, "/OutgoingCallerIds.json"))),
    )
    .await;
    json_error(&reply, 401, 20003);
    // Nothing was changed by the refused calls.
    let reply = send(own(
        &app,
        &dev(),
        Method::GET,
        &format!("/OutgoingCallerIds/{sid}.json"),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn another_accounts_sid_is_404_under_your_own_path() {
    let app = TestApp::spawn().await;
    let other = new_account(&app).await;
    let theirs = seed_in(&app, &other.sid, "+14158675309", Some("Theirs")).await;
    let sid = sid_of(&theirs);
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        let path = format!("/OutgoingCallerIds/{sid}.json");
        let reply =
            send(own(&app, &dev(), method.clone(), &path).form(&[("FriendlyName", "Mine")])).await;
        assert_eq!(
            json_error(&reply, 404, 20404),
            format!(
                "The requested resource {} was not found",
                path_of(SID, &path)
            ),
            "{method}"
        );
        let reply = send(own(
            &app,
            &dev(),
            method.clone(),
            &format!("/OutgoingCallerIds/{sid}"),
        ))
        .await;
        xml_error(&reply, 404, 20404);
    }
    // Untouched.
    let reply = send(own(
        &app,
        &other,
        Method::GET,
        &format!("/OutgoingCallerIds/{sid}.json"),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), theirs);
}

#[tokio::test]
async fn valid_credentials_on_another_accounts_path_are_401() {
    let app = TestApp::spawn().await;
    let other = new_account(&app).await;
    let theirs = sid_of(&seed_in(&app, &other.sid, "+14158675309", None).await);
    let paths = [
        path_of(&other.sid, "/OutgoingCallerIds.json"),
        path_of(&other.sid, &format!("/OutgoingCallerIds/{theirs}.json")),
        path_of(
            "AC0123456789abcdef0123456789abcdef",
            "/OutgoingCallerIds.json",
        ),
        path_of("ACnotanaccount", "/OutgoingCallerIds.json"),
    ];
    for path in &paths {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let reply = send(call(&app, &dev(), method.clone(), path)).await;
            let message = json_error(&reply, 401, 20003);
            assert_eq!(message, "Authenticate", "{method} {path}");
            assert_eq!(
                reply.header("www-authenticate"),
                "Basic realm=\"Twilio API\""
            );
        }
    }
    let reply = send(call(
        &app,
        &dev(),
        Method::GET,
        &path_of(&other.sid, "/OutgoingCallerIds"),
    ))
    .await;
    xml_error(&reply, 401, 20003);
    // Still there.
    let reply = send(own(
        &app,
        &other,
        Method::GET,
        &format!("/OutgoingCallerIds/{theirs}.json"),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

// ---- API keys and account isolation -------------------------------------------------------

#[tokio::test]
async fn api_keys_authenticate_for_their_own_account_only() {
    let app = TestApp::spawn().await;
    let mine = sid_of(&seed_in(&app, SID, "+14158675309", None).await);
    let as_key = new_key(&app, SID, Some("ci")).await;
    let key_sid = as_key.sid.clone();
    let secret = &as_key.token;
    assert!(is_sid(&key_sid, "SK"), "{key_sid}");
    assert!(!secret.is_empty());

    // The key reads and writes its account.
    let list = list_page(&app, &as_key, &path_of(SID, "/OutgoingCallerIds.json")).await;
    assert_eq!(sids(&list), vec![mine.clone()]);
    let reply = send(
        call(
            &app,
            &as_key,
            Method::POST,
            &path_of(SID, &format!("/OutgoingCallerIds/{mine}.json")),
        )
        .form(&[("FriendlyName", "Via key")]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["friendly_name"], "Via key");

    // A wrong secret is refused.
    let wrong = Account {
        sid: key_sid.clone(),
        token: "wrong".into(),
    };
    let reply = send(call(
        &app,
        &wrong,
        Method::GET,
        &path_of(SID, "/OutgoingCallerIds.json"),
    ))
    .await;
    assert_eq!(json_error(&reply, 401, 20003), "Authenticate");

    // The key cannot reach another account.
    let other = new_account(&app).await;
    let theirs = sid_of(&seed_in(&app, &other.sid, "+14155551212", None).await);
    for path in [
        path_of(&other.sid, "/OutgoingCallerIds.json"),
        path_of(&other.sid, &format!("/OutgoingCallerIds/{theirs}.json")),
    ] {
        let reply = send(call(&app, &as_key, Method::GET, &path)).await;
        json_error(&reply, 401, 20003);
    }
    // Nor the other account's sid under its own path.
    let reply = send(call(
        &app,
        &as_key,
        Method::GET,
        &path_of(SID, &format!("/OutgoingCallerIds/{theirs}.json")),
    ))
    .await;
    json_error(&reply, 404, 20404);

    // A key of the other account cannot reach this one.
    let other_key = new_key(&app, &other.sid, None).await;
    let reply = send(call(
        &app,
        &other_key,
        Method::GET,
        &path_of(SID, "/OutgoingCallerIds.json"),
    ))
    .await;
    json_error(&reply, 401, 20003);
    let list = list_page(
        &app,
        &other_key,
        &path_of(&other.sid, "/OutgoingCallerIds.json"),
    )
    .await;
    assert_eq!(sids(&list), vec![theirs]);

    // Keys of an unknown account cannot be made.
    let reply = send(
        app.client
            .post(app.url("/_emulator/accounts/AC0123456789abcdef0123456789abcdef/keys")),
    )
    .await;
    json_error(&reply, 404, 20404);
}

#[tokio::test]
async fn two_accounts_each_see_only_their_own_caller_ids() {
    let app = TestApp::spawn().await;
    let a = new_account(&app).await;
    let b = new_account(&app).await;
    assert_ne!(a.sid, b.sid);
    let a_rows = [
        sid_of(&seed_in(&app, &a.sid, "+14158675309", None).await),
        sid_of(&seed_in(&app, &a.sid, "+14155551212", None).await),
    ];
    // The same number may be verified on both accounts.
    let b_rows = [sid_of(&seed_in(&app, &b.sid, "+14158675309", None).await)];

    let list = list_page(&app, &a, &path_of(&a.sid, "/OutgoingCallerIds.json")).await;
    assert_eq!(sids(&list), a_rows.to_vec());
    for item in list["outgoing_caller_ids"].as_array().expect("items") {
        assert_eq!(item["account_sid"], a.sid.as_str());
    }
    let list = list_page(&app, &b, &path_of(&b.sid, "/OutgoingCallerIds.json")).await;
    assert_eq!(sids(&list), b_rows.to_vec());
    assert_eq!(
        list["outgoing_caller_ids"][0]["account_sid"],
        b.sid.as_str()
    );
    let dev_list = list_page(&app, &dev(), &path_of(SID, "/OutgoingCallerIds.json")).await;
    assert!(sids(&dev_list).is_empty());

    // A filter does not leak across accounts either.
    let list = list_page(
        &app,
        &b,
        &path_of(&b.sid, "/OutgoingCallerIds.json?PhoneNumber=%2B14155551212"),
    )
    .await;
    assert!(sids(&list).is_empty());

    // Deleting in B leaves A's row with the same number alone.
    let reply = send(own(
        &app,
        &b,
        Method::DELETE,
        &format!("/OutgoingCallerIds/{}.json", b_rows[0]),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let list = list_page(&app, &a, &path_of(&a.sid, "/OutgoingCallerIds.json")).await;
    assert_eq!(sids(&list), a_rows.to_vec());

    // A's token does not work as B.
    let mixed = Account {
        sid: b.sid.clone(),
        token: a.token.clone(),
    };
    let reply = send(own(&app, &mixed, Method::GET, "/OutgoingCallerIds.json")).await;
    assert_eq!(json_error(&reply, 401, 20003), "Authenticate");
}
