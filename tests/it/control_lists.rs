//! The control API's lists the inspector page reads (Issue 12): calls, accounts, an account's
//! API keys and caller IDs; and the page itself: served embedded, with its CSP, `/` sending a
//! browser there, and neither without the control API.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn calls_are_listed_newest_first_and_by_account() {
    let app = TestApp::spawn().await;
    let other = new_account(&app).await;
    let first = call_sid(&create(&app, &[("PhoneNumber", "+14155550190")]).await);
    let second = call_sid(&create(&app, &[("PhoneNumber", "+14155550191")]).await);
    let theirs = call_sid(&create_as(&app, &other, &[("PhoneNumber", "+14155550192")]).await);

    let all = send(app.client.get(app.url("/_emulator/calls"))).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let sids: Vec<String> = all.json()["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["sid"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(sids, [theirs.clone(), second.clone(), first.clone()]);
    let call = &all.json()["calls"][0];
    assert_eq!(call["to"], "+14155550192");
    assert!(call["timeline"].as_array().is_some_and(|t| !t.is_empty()));

    let mine = send(
        app.client
            .get(app.url(&format!("/_emulator/calls?account_sid={SID}&limit=1"))),
    )
    .await;
    let listed = mine.json()["calls"].as_array().expect("calls").clone();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["sid"], second.as_str());
}

#[tokio::test]
async fn accounts_and_caller_ids_are_listed() {
    let app = TestApp::spawn().await;
    let other = new_account(&app).await;
    seed_in(&app, &other.sid, "+14155550194", Some("b")).await;
    seed_in(&app, &other.sid, "+14155550193", Some("a")).await;

    let accounts = send(app.client.get(app.url("/_emulator/accounts"))).await;
    assert_eq!(accounts.status, StatusCode::OK);
    let list = accounts.json()["accounts"]
        .as_array()
        .expect("accounts")
        .clone();
    assert_eq!(list[0]["sid"], SID);
    assert_eq!(list[0]["configured"], true);
    let theirs = list
        .iter()
        .find(|a| a["sid"] == other.sid.as_str())
        .expect("the new account");
    assert_eq!(theirs["auth_token"], other.token.as_str());
    assert_eq!(theirs["configured"], false);

    let path = format!("/_emulator/accounts/{}/outgoing-caller-ids", other.sid);
    let ids = send(app.client.get(app.url(&path))).await;
    assert_eq!(ids.status, StatusCode::OK, "{}", ids.body);
    let rows = ids.json()["outgoing_caller_ids"]
        .as_array()
        .expect("rows")
        .clone();
    assert_eq!(rows.len(), 2);
    let mut numbers: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["phone_number"].as_str())
        .collect();
    numbers.sort();
    assert_eq!(numbers, ["+14155550193", "+14155550194"]);
    let missing = "/_emulator/accounts/AC00000000000000000000000000000000/outgoing-caller-ids";
    let missing = send(app.client.get(app.url(missing))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn api_keys_are_listed_without_their_secrets() {
    let app = TestApp::spawn().await;
    let other = new_account(&app).await;
    let path = format!("/_emulator/accounts/{}/keys", other.sid);
    let mut made = Vec::new();
    for name in ["first", "second"] {
        let reply = send(
            app.client
                .post(app.url(&path))
                .json(&serde_json::json!({ "friendly_name": name })),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        made.push(reply.json());
    }

    let listed = send(app.client.get(app.url(&path))).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let keys = listed.json()["keys"].as_array().expect("keys").clone();
    assert_eq!(keys.len(), 2);
    for (key, made) in keys.iter().zip(&made) {
        assert_eq!(key["sid"], made["sid"]);
        assert_eq!(key["account_sid"], other.sid.as_str());
        assert_eq!(key["friendly_name"], made["friendly_name"]);
        assert_eq!(key["date_created"], made["date_created"]);
        assert!(key.get("secret").is_none(), "{key}");
        let secret = made["secret"].as_str().expect("secret");
        assert!(!listed.body.contains(secret), "a secret is listed");
    }
    let mine = format!("/_emulator/accounts/{SID}/keys");
    let mine = send(app.client.get(app.url(&mine))).await;
    assert_eq!(mine.json()["keys"], serde_json::json!([]));
    let missing = "/_emulator/accounts/AC00000000000000000000000000000000/keys";
    let missing = send(app.client.get(app.url(missing))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_page_is_served_embedded_with_its_policy() {
    let app = TestApp::spawn_with(|s| s.control_token = Some("pg".into())).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let root = no_redirects.get(app.url("/")).send().await.expect("GET /");
    assert_eq!(root.status(), StatusCode::SEE_OTHER);
    assert_eq!(root.headers()["location"], "/_emulator/ui/");

    // The page and its assets are open; what they call needs the token.
    for (path, kind) in [
        ("/_emulator/ui/", "text/html"),
        ("/_emulator/ui/app.js", "text/javascript"),
        ("/_emulator/ui/style.css", "text/css"),
    ] {
        let page = send(app.client.get(app.url(path))).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.header("content-type").starts_with(kind), "{path}");
        let csp = page.header("content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
    }
    let html = send(app.client.get(app.url("/_emulator/ui/"))).await.body;
    assert!(!html.contains("<script>"), "no inline script");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN"
    );
    let missing = send(app.client.get(app.url("/_emulator/ui/nope.js"))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn no_page_without_the_control_api() {
    let app = TestApp::spawn_with(|s| s.control_api = false).await;
    for path in [
        "/",
        "/_emulator/ui/",
        "/_emulator/ui/app.js",
        "/_emulator/calls",
    ] {
        let reply = send(app.client.get(app.url(path))).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
}
