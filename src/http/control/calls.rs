//! `/_emulator/calls/{CallSid}`: a verification call with its timeline, and digits keyed on it.

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{body, json};
use crate::domain::call::{Call, CallEvent, VERIFICATION_CALLER};
use crate::domain::sid::CallSid;
use crate::http::error::ApiError;
use crate::http::render::rfc3339_millis;
use crate::http::AppState;

#[derive(Serialize)]
struct CallView {
    sid: String,
    account_sid: String,
    to: String,
    from: &'static str,
    friendly_name: String,
    status: &'static str,
    verification_status: Option<&'static str>,
    validation_code: String,
    behavior: &'static str,
    digits: Option<String>,
    call_delay: i64,
    extension: Option<String>,
    status_callback: Option<String>,
    status_callback_method: &'static str,
    outgoing_caller_id_sid: Option<String>,
    next_action_at: Option<String>,
    timeline: Vec<TimelineEntry>,
}

#[derive(Serialize)]
struct TimelineEntry {
    at: String,
    status: &'static str,
    note: String,
}

fn view(call: Call, events: Vec<CallEvent>) -> CallView {
    CallView {
        sid: call.sid.to_string(),
        account_sid: call.account_sid.to_string(),
        to: call.to.to_string(),
        from: VERIFICATION_CALLER,
        friendly_name: call.friendly_name.to_string(),
        status: call.status.as_str(),
        verification_status: call.verification_status.map(|v| v.as_str()),
        validation_code: call.validation_code,
        behavior: call.behavior.as_str(),
        digits: call.digits,
        call_delay: call.call_delay,
        extension: call.extension,
        status_callback: call.status_callback,
        status_callback_method: call.status_callback_method.as_str(),
        outgoing_caller_id_sid: call.outgoing_caller_id_sid.map(|s| s.to_string()),
        next_action_at: call.next_action_at.map(rfc3339_millis),
        timeline: events
            .into_iter()
            .map(|e| TimelineEntry {
                at: rfc3339_millis(e.at),
                status: e.kind.as_str(),
                note: e.note,
            })
            .collect(),
    }
}

async fn call_view(app: &AppState, sid: &CallSid, uri: &Uri) -> Result<Response, ApiError> {
    let call = app
        .service
        .call(sid)
        .await?
        .ok_or_else(|| ApiError::not_found(uri.path()))?;
    let events = app.service.call_events(sid).await?;
    Ok(json(StatusCode::OK, &view(call, events)))
}

fn call_sid(path: Result<Path<String>, PathRejection>, uri: &Uri) -> Result<CallSid, ApiError> {
    path.ok()
        .and_then(|Path(raw)| CallSid::parse(&raw))
        .ok_or_else(|| ApiError::not_found(uri.path()))
}

/// `GET /_emulator/calls`: the newest calls (`limit`, 100 unless told), optionally of one
/// account, newest first, each with its timeline.
pub(super) async fn list_calls(
    State(app): State<AppState>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q = super::journals::journal_query(&uri)?;
    let calls = app
        .service
        .calls(q.account.as_ref(), q.limit as i64)
        .await?;
    let mut views = Vec::with_capacity(calls.len());
    for call in calls {
        let events = app.service.call_events(&call.sid).await?;
        views.push(view(call, events));
    }
    Ok(json(StatusCode::OK, &serde_json::json!({ "calls": views })))
}

pub(super) async fn get_call(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let sid = call_sid(path, &uri)?;
    call_view(&app, &sid, &uri).await
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Digits {
    digits: Option<String>,
}

pub(super) async fn post_digits(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let sid = call_sid(path, &uri)?;
    let request: Digits = body(&bytes)?;
    let digits = request
        .digits
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("Missing required parameter digits"))?;
    if digits.len() > 32
        || !digits
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
    {
        return Err(ApiError::invalid_parameter(format!(
            "digits must be at most 32 keypad keys (0-9, * and #), not {digits:?}"
        )));
    }
    // `#` ends entry on a keypad; it is not part of the code.
    let keyed = digits.trim_end_matches('#');
    app.service
        .key_digits(&sid, keyed)
        .await?
        .ok_or_else(|| ApiError::not_found(uri.path()))?;
    call_view(&app, &sid, &uri).await
}
