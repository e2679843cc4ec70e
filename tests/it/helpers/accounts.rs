//! Accounts: the development account, accounts and API keys made through the control API,
//! and caller IDs seeded into an account through the control API.

use callerid_emulator::settings::{DEV_ACCOUNT_SID, DEV_AUTH_TOKEN};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::client::{send, Server};

/// The development account.
pub const SID: &str = DEV_ACCOUNT_SID;
pub const TOKEN: &str = DEV_AUTH_TOKEN;

/// An account, or an API key, and the credentials a request authenticates with.
#[derive(Clone, Debug)]
pub struct Account {
    pub sid: String,
    pub token: String,
}

/// The development account.
pub fn dev() -> Account {
    Account {
        sid: SID.to_string(),
        token: TOKEN.to_string(),
    }
}

/// A new account made through the control API, with a generated sid and token.
pub async fn new_account(server: &impl Server) -> Account {
    create_account(server, json!({})).await
}

/// A new account made through the control API, with a token of our choosing.
pub async fn new_account_with_token(server: &impl Server, token: &str) -> Account {
    create_account(server, json!({ "auth_token": token })).await
}

async fn create_account(server: &impl Server, body: Value) -> Account {
    let reply = send(
        server
            .client()
            .post(server.url("/_emulator/accounts"))
            .json(&body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let v = reply.json();
    Account {
        sid: v["sid"].as_str().expect("sid").to_string(),
        token: v["auth_token"].as_str().expect("token").to_string(),
    }
}

/// A new API key of `account` made through the control API (named `friendly_name`, when
/// given): its sid and secret, as the credentials it authenticates with.
pub async fn new_key(server: &impl Server, account: &str, friendly_name: Option<&str>) -> Account {
    let mut request = server
        .client()
        .post(server.url(&format!("/_emulator/accounts/{account}/keys")));
    if let Some(name) = friendly_name {
        request = request.json(&json!({ "friendly_name": name }));
    }
    let reply = send(request).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let key = reply.json();
    Account {
        sid: key["sid"].as_str().expect("sid").to_string(),
        token: key["secret"].as_str().expect("secret").to_string(),
    }
}

/// A verified caller ID in `account`, made through the control API; its JSON.
pub async fn seed_in(
    server: &impl Server,
    account: &str,
    phone: &str,
    name: Option<&str>,
) -> Value {
    let mut body = json!({ "phone_number": phone });
    if let Some(name) = name {
        body["friendly_name"] = name.into();
    }
    let reply = send(
        server
            .client()
            .post(server.url(&format!(
                "/_emulator/accounts/{account}/outgoing-caller-ids"
            )))
            .json(&body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.json()
}
