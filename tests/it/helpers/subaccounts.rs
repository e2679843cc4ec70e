//! Subaccounts and API keys through the Twilio API's Accounts and Keys resources.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::accounts::Account;
use super::client::{call, own, send, Reply, Server};

/// `POST /2010-04-01/Accounts.json` as `parent`, which must succeed: the subaccount's
/// credentials and its JSON.
pub async fn new_subaccount(
    server: &impl Server,
    parent: &Account,
    friendly_name: Option<&str>,
) -> (Account, Value) {
    let mut form = Vec::new();
    if let Some(name) = friendly_name {
        form.push(("FriendlyName", name));
    }
    let reply =
        send(call(server, parent, Method::POST, "/2010-04-01/Accounts.json").form(&form)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let v = reply.json();
    let sub = Account {
        sid: v["sid"].as_str().expect("sid").to_string(),
        token: v["auth_token"].as_str().expect("auth_token").to_string(),
    };
    (sub, v)
}

/// `POST /2010-04-01/Accounts/{sid}.json` with `form`, as `who`.
pub async fn update_account(
    server: &impl Server,
    who: &Account,
    sid: &str,
    form: &[(&str, &str)],
) -> Reply {
    send(
        call(
            server,
            who,
            Method::POST,
            &format!("/2010-04-01/Accounts/{sid}.json"),
        )
        .form(form),
    )
    .await
}

/// Sets `sid`'s status as its parent `parent`, which must succeed.
pub async fn set_status(server: &impl Server, parent: &Account, sid: &str, status: &str) {
    let reply = update_account(server, parent, sid, &[("Status", status)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["status"], status);
}

/// Sets any account's status through the control API.
pub async fn control_set_status(server: &impl Server, sid: &str, status: &str) {
    let reply = send(
        server
            .client()
            .post(server.url(&format!("/_emulator/accounts/{sid}")))
            .json(&serde_json::json!({ "status": status })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// `POST …/Keys.json` as `who` on its own account, which must succeed: the key's
/// credentials and its JSON.
pub async fn new_api_key(
    server: &impl Server,
    who: &Account,
    name: Option<&str>,
) -> (Account, Value) {
    let mut form = Vec::new();
    if let Some(name) = name {
        form.push(("FriendlyName", name));
    }
    let reply = send(own(server, who, Method::POST, "/Keys.json").form(&form)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let v = reply.json();
    let key = Account {
        sid: v["sid"].as_str().expect("sid").to_string(),
        token: v["secret"].as_str().expect("secret").to_string(),
    };
    (key, v)
}

/// A main key of `account` through the control API.
pub async fn new_main_key(server: &impl Server, account: &str) -> Account {
    let reply = send(
        server
            .client()
            .post(server.url(&format!("/_emulator/accounts/{account}/keys")))
            .json(&serde_json::json!({ "kind": "main" })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let v = reply.json();
    assert_eq!(v["kind"], "main");
    Account {
        sid: v["sid"].as_str().expect("sid").to_string(),
        token: v["secret"].as_str().expect("secret").to_string(),
    }
}

/// GET of an Accounts or Keys list page in JSON (`items` names its array), checked for status,
/// type and envelope keys.
pub async fn list_of(server: &impl Server, who: &Account, path: &str, items: &str) -> Value {
    let reply = send(call(server, who, Method::GET, path)).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    assert_eq!(reply.content_type(), "application/json");
    let v = reply.json();
    let mut expected = super::checks::set(&[
        "end",
        "first_page_uri",
        "next_page_uri",
        "page",
        "page_size",
        "previous_page_uri",
        "start",
        "uri",
    ]);
    expected.insert(items.to_string());
    assert_eq!(super::checks::keys(&v), expected);
    v
}

/// The sids of a list page's `items`.
pub fn sids_in(page: &Value, items: &str) -> Vec<String> {
    page[items]
        .as_array()
        .expect("items")
        .iter()
        .map(|v| v["sid"].as_str().expect("sid").to_string())
        .collect()
}
