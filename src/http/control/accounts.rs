//! `/_emulator/accounts`: accounts and their API keys.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{body, json, PathAccount};
use crate::domain::account::{Account, AccountStatus, AccountUpdate, ApiKey, KeyKind};
use crate::domain::sid::{random_hex32, AccountSid, ApiKeySid};
use crate::domain::time::now_millis;
use crate::http::error::ApiError;
use crate::http::render::rfc2822;
use crate::http::AppState;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewAccount {
    sid: Option<String>,
    auth_token: Option<String>,
    friendly_name: Option<String>,
}

#[derive(Serialize)]
struct AccountView {
    sid: String,
    auth_token: String,
    friendly_name: String,
    date_created: String,
    configured: bool,
    status: &'static str,
    owner_account_sid: Option<String>,
}

impl AccountView {
    fn of(a: Account) -> AccountView {
        AccountView {
            date_created: rfc2822(a.date_created),
            status: a.status.as_str(),
            owner_account_sid: a.owner_account_sid.map(|o| o.to_string()),
            sid: a.sid.to_string(),
            auth_token: a.auth_token,
            friendly_name: a.friendly_name,
            configured: a.configured,
        }
    }
}

/// `GET /_emulator/accounts`: every account, configured ones first.
pub(super) async fn list_accounts(State(app): State<AppState>) -> Result<Response, ApiError> {
    let accounts: Vec<AccountView> = app
        .service
        .accounts()
        .await?
        .into_iter()
        .map(AccountView::of)
        .collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "accounts": accounts }),
    ))
}

pub(super) async fn create_account(
    State(app): State<AppState>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let new: NewAccount = body(&bytes)?;
    let sid = match new.sid {
        Some(raw) => AccountSid::parse(&raw).ok_or_else(|| {
            ApiError::invalid_parameter(format!(
                "sid {raw:?} is not an AccountSid (AC + 32 hex digits)"
            ))
        })?,
        None => AccountSid::generate(),
    };
    let auth_token = match new.auth_token {
        Some(t) if t.is_empty() || t.len() > 256 => {
            return Err(ApiError::invalid_parameter(
                "auth_token must be 1 to 256 characters",
            ))
        }
        Some(t) => t,
        None => random_hex32(),
    };
    let friendly_name = new
        .friendly_name
        .unwrap_or_else(|| format!("Emulated account {sid}"));
    let account = Account::main(sid, auth_token, friendly_name, now_millis() / 1000);
    app.service.create_account(&account).await?;
    Ok(json(StatusCode::CREATED, &AccountView::of(account)))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AccountChange {
    status: Option<String>,
}

/// `POST /_emulator/accounts/{account}` with `{"status": "active|suspended|closed"}`: sets any
/// account's status, a main account's included (which the Twilio API does not allow).
pub(super) async fn update_account(
    State(app): State<AppState>,
    PathAccount(sid): PathAccount,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let change: AccountChange = body(&bytes)?;
    let raw = change.status.unwrap_or_default();
    let status = AccountStatus::parse(&raw).ok_or_else(|| {
        ApiError::invalid_parameter(format!(
            "status must be active, suspended or closed, not {raw:?}"
        ))
    })?;
    let update = AccountUpdate {
        friendly_name: None,
        status: Some(status),
    };
    let account = app
        .service
        .update_account(&sid, &update)
        .await?
        .ok_or_else(|| ApiError::not_found(&format!("/_emulator/accounts/{sid}")))?;
    Ok(json(StatusCode::OK, &AccountView::of(account)))
}

pub(super) async fn delete_account(
    State(app): State<AppState>,
    PathAccount(sid): PathAccount,
) -> Result<Response, ApiError> {
    app.service.delete_account(&sid).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewKey {
    friendly_name: Option<String>,
    /// `standard` (the default) or `main`.
    kind: Option<String>,
}

#[derive(Serialize)]
struct KeyView {
    sid: String,
    secret: String,
    account_sid: String,
    friendly_name: String,
    kind: &'static str,
    date_created: String,
}

pub(super) async fn create_key(
    State(app): State<AppState>,
    PathAccount(account): PathAccount,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let new: NewKey = body(&bytes)?;
    let kind = match new.kind.as_deref() {
        None => KeyKind::Standard,
        Some(raw) => KeyKind::parse(raw).ok_or_else(|| {
            ApiError::invalid_parameter(format!("kind must be standard or main, not {raw:?}"))
        })?,
    };
    let now = now_millis() / 1000;
    let key = ApiKey {
        sid: ApiKeySid::generate(),
        account_sid: account,
        secret: random_hex32(),
        friendly_name: new.friendly_name.unwrap_or_default(),
        kind,
        date_created: now,
        date_updated: now,
    };
    app.service.create_api_key(&key).await?;
    Ok(json(
        StatusCode::CREATED,
        &KeyView {
            date_created: rfc2822(key.date_created),
            sid: key.sid.to_string(),
            secret: key.secret,
            account_sid: key.account_sid.to_string(),
            friendly_name: key.friendly_name,
            kind: key.kind.as_str(),
        },
    ))
}

/// An API key as listed: never its secret, which only its creation shows.
#[derive(Serialize)]
struct ListedKey {
    sid: String,
    account_sid: String,
    friendly_name: String,
    kind: &'static str,
    date_created: String,
}

/// `GET /_emulator/accounts/{account}/keys`: the account's API keys in creation order.
pub(super) async fn list_keys(
    State(app): State<AppState>,
    PathAccount(account): PathAccount,
) -> Result<Response, ApiError> {
    let keys: Vec<ListedKey> = app
        .service
        .api_keys(&account)
        .await?
        .into_iter()
        .map(|k| ListedKey {
            date_created: rfc2822(k.date_created),
            sid: k.sid.to_string(),
            account_sid: k.account_sid.to_string(),
            friendly_name: k.friendly_name,
            kind: k.kind.as_str(),
        })
        .collect();
    Ok(json(StatusCode::OK, &serde_json::json!({ "keys": keys })))
}
