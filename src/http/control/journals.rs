//! `/_emulator/callbacks` and `/_emulator/requests`: what the emulator sent and received; and
//! `/_emulator/reset`, which clears the fault rules too.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;

use super::json;
use crate::domain::sid::{AccountSid, CallSid};
use crate::http::error::ApiError;
use crate::http::form::Params;
use crate::http::render::rfc3339_millis;
use crate::http::AppState;

#[derive(Serialize)]
struct CallbackView {
    id: i64,
    account_sid: String,
    call_sid: String,
    url: String,
    method: &'static str,
    params: BTreeMap<String, String>,
    idempotency_token: String,
    state: &'static str,
    created_at: String,
    attempts: Vec<AttemptView>,
}

#[derive(Serialize)]
struct AttemptView {
    attempt: i64,
    at: String,
    url: String,
    signature: String,
    status_code: Option<i64>,
    latency_ms: i64,
    error: Option<String>,
}

/// `account_sid`, `call_sid` and `limit` from a control-API query string.
pub(super) struct JournalQuery {
    pub account: Option<AccountSid>,
    pub call: Option<CallSid>,
    pub limit: usize,
}

pub(super) fn journal_query(uri: &Uri) -> Result<JournalQuery, ApiError> {
    let params = Params::parse(uri.query().unwrap_or("").as_bytes())?;
    // The snake_case names, or Twilio's own PascalCase ones.
    let either = |a: &str, b: &str| -> Result<Option<String>, ApiError> {
        Ok(params.get(a)?.or(params.get(b)?).map(String::from))
    };
    let account_sid = either("account_sid", "AccountSid")?;
    let call_sid = either("call_sid", "CallSid")?;
    let account = match account_sid.as_deref() {
        None => None,
        Some(raw) => Some(AccountSid::parse(raw).ok_or_else(|| {
            ApiError::invalid_parameter(format!("account_sid {raw:?} is not an AccountSid"))
        })?),
    };
    let call = match call_sid.as_deref() {
        None => None,
        Some(raw) => Some(CallSid::parse(raw).ok_or_else(|| {
            ApiError::invalid_parameter(format!("call_sid {raw:?} is not a CallSid"))
        })?),
    };
    let limit = match params.get("limit")? {
        None => 100,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_parameter("limit must be a whole number from 1 to 10000")
            })?,
    };
    Ok(JournalQuery {
        account,
        call,
        limit,
    })
}

pub(super) async fn list_callbacks(
    State(app): State<AppState>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q = journal_query(&uri)?;
    let rows = app
        .service
        .callbacks(q.account.as_ref(), q.call.as_ref(), q.limit as i64)
        .await?;
    let callbacks: Vec<CallbackView> = rows
        .into_iter()
        .map(|(cb, attempts)| CallbackView {
            params: cb
                .params
                .pairs()
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
            id: cb.id,
            account_sid: cb.account_sid.to_string(),
            call_sid: cb.call_sid.to_string(),
            url: cb.url,
            method: cb.method.as_str(),
            idempotency_token: cb.idempotency_token,
            state: cb.state.as_str(),
            created_at: rfc3339_millis(cb.created_at),
            attempts: attempts
                .into_iter()
                .map(|a| AttemptView {
                    attempt: a.attempt,
                    at: rfc3339_millis(a.at),
                    url: a.url,
                    signature: a.signature,
                    status_code: a.status_code,
                    latency_ms: a.latency_ms,
                    error: a.error,
                })
                .collect(),
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "callbacks": callbacks }),
    ))
}

pub(super) async fn list_requests(
    State(app): State<AppState>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q = journal_query(&uri)?;
    let account = q.account.as_ref().map(AccountSid::as_str);
    if app.journal.is_shared() {
        let requests = app
            .journal
            .shared_recent(&app.service, account, q.limit)
            .await?;
        return Ok(json(
            StatusCode::OK,
            &serde_json::json!({ "requests": requests }),
        ));
    }
    let requests = app.journal.recent(account, q.limit);
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "requests": requests }),
    ))
}

pub(super) async fn reset(State(app): State<AppState>) -> Result<Response, ApiError> {
    let writes = app.journal.hold_writes().await;
    app.service.reset().await?;
    app.journal.clear();
    drop(writes);
    app.faults.clear();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "status": "reset" }),
    ))
}
