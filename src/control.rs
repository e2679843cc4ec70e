//! The control API under `/_emulator`: accounts and keys, fixtures, callee behaviours, the
//! calls and their digits, the callback and request journals, reset and health. JSON in and
//! out; errors in Twilio's JSON error body.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api::outgoing_caller_ids::check_friendly_name;
use crate::auth::same_secret;
use crate::error::{ApiError, AuthFailure};
use crate::metrics::Gauges;
use crate::store::{Account, ApiKey};
use crate::verification::Behavior;
use crate::wire::sid::{random_hex32, AccountSid, ApiKeySid, CallSid};
use crate::wire::{self, Params, PhoneNumber};
use crate::AppState;

/// The control routes, behind the token check when one is configured.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/_emulator/accounts", post(create_account))
        .route(
            "/_emulator/accounts/{account}",
            axum::routing::delete(delete_account),
        )
        .route("/_emulator/accounts/{account}/keys", post(create_key))
        .route(
            "/_emulator/accounts/{account}/outgoing-caller-ids",
            post(create_caller_id),
        )
        .route(
            "/_emulator/accounts/{account}/phones/{phone}",
            put(set_behavior).get(get_behavior),
        )
        .route("/_emulator/calls/{call}", get(get_call))
        .route("/_emulator/calls/{call}/digits", post(post_digits))
        .route("/_emulator/callbacks", get(list_callbacks))
        .route("/_emulator/requests", get(list_requests))
        .route("/_emulator/reset", post(reset))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
}

/// Routes that stay open whatever the control settings: health and metrics.
pub fn open_router() -> Router<AppState> {
    Router::new()
        .route("/_emulator/health", get(health))
        .route("/metrics", get(metrics))
}

async fn require_token(State(app): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(token) = &app.settings.control_token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| same_secret(g, token)) {
            let mut response = ApiError {
                message: "The control API requires Authorization: Bearer <control token>"
                    .to_string(),
                detail: None,
                ..ApiError::unauthenticated(AuthFailure::WrongPassword)
            }
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"callerid-emulator control API\""),
            );
            return response;
        }
    }
    next.run(request).await
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let mut response = Response::new(Body::from(serde_json::to_vec(value).unwrap_or_default()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// A JSON body; an empty body is the type's default.
fn body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::invalid_parameter(format!(
            "The request body is not valid JSON for this call: {e}"
        ))
    })
}

async fn account_from_path(app: &AppState, uri: &Uri, raw: &str) -> Result<AccountSid, ApiError> {
    let not_found = || ApiError::not_found(uri.path());
    let sid = AccountSid::parse(raw).ok_or_else(not_found)?;
    app.store
        .account(sid.as_str())
        .await?
        .ok_or_else(not_found)?;
    Ok(sid)
}

/// The existing account named by a route's one path parameter.
async fn account_in_path(
    app: &AppState,
    path: Result<Path<String>, PathRejection>,
    uri: &Uri,
) -> Result<AccountSid, ApiError> {
    let Path(raw) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    account_from_path(app, uri, &raw).await
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
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
}

async fn create_account(State(app): State<AppState>, bytes: Bytes) -> Result<Response, ApiError> {
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
    let account = Account {
        sid: sid.to_string(),
        auth_token,
        friendly_name,
        configured: false,
        date_created: wire::now_millis() / 1000,
    };
    if !app.store.create_account(&account).await? {
        return Err(ApiError::conflict(format!("Account {sid} already exists")));
    }
    Ok(json(
        StatusCode::CREATED,
        &AccountView {
            date_created: wire::rfc2822(account.date_created),
            sid: account.sid,
            auth_token: account.auth_token,
            friendly_name: account.friendly_name,
            configured: false,
        },
    ))
}

async fn delete_account(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let sid = account_in_path(&app, path, &uri).await?;
    app.store.delete_account(&sid).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    friendly_name: Option<String>,
}

#[derive(Serialize)]
struct KeyView {
    sid: String,
    secret: String,
    account_sid: String,
    friendly_name: String,
    date_created: String,
}

async fn create_key(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let account = account_in_path(&app, path, &uri).await?;
    let new: NewKey = body(&bytes)?;
    let key = ApiKey {
        sid: ApiKeySid::generate().to_string(),
        account_sid: account.to_string(),
        secret: random_hex32(),
        friendly_name: new.friendly_name.unwrap_or_default(),
        date_created: wire::now_millis() / 1000,
    };
    app.store.create_api_key(&key).await?;
    Ok(json(
        StatusCode::CREATED,
        &KeyView {
            date_created: wire::rfc2822(key.date_created),
            sid: key.sid,
            secret: key.secret,
            account_sid: key.account_sid,
            friendly_name: key.friendly_name,
        },
    ))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCallerId {
    phone_number: Option<String>,
    friendly_name: Option<String>,
}

async fn create_caller_id(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let account = account_in_path(&app, path, &uri).await?;
    let new: NewCallerId = body(&bytes)?;
    let raw_phone = new
        .phone_number
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("Missing required parameter phone_number"))?;
    let phone = phone_from_path(&raw_phone)?;
    let friendly_name = match new.friendly_name {
        Some(name) => {
            check_friendly_name(&name)?;
            name
        }
        None => phone.formatted(),
    };
    let row = app
        .store
        .insert_caller_id(&account, &phone, &friendly_name, wire::now_millis() / 1000)
        .await?
        .ok_or_else(|| ApiError::already_verified(&phone))?;
    Ok(json(StatusCode::CREATED, &row.to_json()))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBehavior {
    behavior: Option<String>,
}

#[derive(Serialize)]
struct BehaviorView {
    account_sid: String,
    phone_number: String,
    behavior: &'static str,
    magic: bool,
}

/// A phone number from a control-API path or body, with the Twilio API's 21421 error.
fn phone_from_path(raw: &str) -> Result<PhoneNumber, ApiError> {
    PhoneNumber::parse(raw).ok_or_else(|| ApiError::invalid_phone_number(raw))
}

async fn set_behavior(
    State(app): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let (raw_account, raw_phone) = path.map_err(|_| ApiError::not_found(uri.path()))?.0;
    let account = account_from_path(&app, &uri, &raw_account).await?;
    let phone = phone_from_path(&raw_phone)?;
    let request: SetBehavior = body(&bytes)?;
    let names = Behavior::ALL.map(Behavior::as_str).join(", ");
    let raw = request.behavior.ok_or_else(|| {
        ApiError::invalid_parameter(format!("Missing required parameter behavior ({names})"))
    })?;
    let behavior = Behavior::parse(&raw).ok_or_else(|| {
        ApiError::invalid_parameter(format!("behavior must be one of {names}, not {raw:?}"))
    })?;
    app.store
        .set_behavior(&account, &phone, behavior.as_str())
        .await?;
    Ok(json(
        StatusCode::OK,
        &BehaviorView {
            account_sid: account.to_string(),
            phone_number: phone.to_string(),
            behavior: behavior.as_str(),
            magic: false,
        },
    ))
}

async fn get_behavior(
    State(app): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let (raw_account, raw_phone) = path.map_err(|_| ApiError::not_found(uri.path()))?.0;
    let account = account_from_path(&app, &uri, &raw_account).await?;
    let phone = phone_from_path(&raw_phone)?;
    let set = app.store.behavior(&account, &phone);
    let (behavior, magic) = match set.as_deref().and_then(Behavior::parse) {
        Some(b) => (b, false),
        None => match Behavior::for_magic_number(phone.as_str()) {
            Some(b) => (b, true),
            None => (Behavior::CorrectCode, false),
        },
    };
    Ok(json(
        StatusCode::OK,
        &BehaviorView {
            account_sid: account.to_string(),
            phone_number: phone.to_string(),
            behavior: behavior.as_str(),
            magic,
        },
    ))
}

#[derive(Serialize)]
struct CallView {
    sid: String,
    account_sid: String,
    to: String,
    from: &'static str,
    friendly_name: String,
    status: String,
    verification_status: Option<String>,
    validation_code: String,
    behavior: String,
    digits: Option<String>,
    call_delay: i64,
    extension: Option<String>,
    status_callback: Option<String>,
    status_callback_method: String,
    outgoing_caller_id_sid: Option<String>,
    next_action_at: Option<String>,
    timeline: Vec<TimelineEntry>,
}

#[derive(Serialize)]
struct TimelineEntry {
    at: String,
    status: String,
    note: String,
}

fn millis_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn call_view(app: &AppState, sid: &CallSid, uri: &Uri) -> Result<CallView, ApiError> {
    let call = app
        .store
        .call(sid)
        .await?
        .ok_or_else(|| ApiError::not_found(uri.path()))?;
    let timeline = app
        .store
        .call_events(sid)
        .await?
        .into_iter()
        .map(|e| TimelineEntry {
            at: millis_rfc3339(e.at),
            status: e.status,
            note: e.note,
        })
        .collect();
    Ok(CallView {
        sid: call.sid,
        account_sid: call.account_sid,
        to: call.to_number,
        from: crate::verification::VERIFICATION_CALLER,
        friendly_name: call.friendly_name,
        status: call.status,
        verification_status: call.verification_status,
        validation_code: call.validation_code,
        behavior: call.behavior,
        digits: call.digits,
        call_delay: call.call_delay,
        extension: call.extension,
        status_callback: call.status_callback,
        status_callback_method: call.status_callback_method,
        outgoing_caller_id_sid: call.outgoing_caller_id_sid,
        next_action_at: call.next_action_at.map(millis_rfc3339),
        timeline,
    })
}

fn call_sid_from_path(
    path: Result<Path<String>, PathRejection>,
    uri: &Uri,
) -> Result<CallSid, ApiError> {
    path.ok()
        .and_then(|Path(raw)| CallSid::parse(&raw))
        .ok_or_else(|| ApiError::not_found(uri.path()))
}

async fn get_call(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let sid = call_sid_from_path(path, &uri)?;
    Ok(json(StatusCode::OK, &call_view(&app, &sid, &uri).await?))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Digits {
    digits: Option<String>,
}

async fn post_digits(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let sid = call_sid_from_path(path, &uri)?;
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
    let existing = app
        .store
        .call(&sid)
        .await?
        .ok_or_else(|| ApiError::not_found(uri.path()))?;
    if existing.next_action_at.is_none() {
        return Err(ApiError::conflict(format!(
            "Call {sid} has ended ({}); it takes no more digits",
            existing.status
        )));
    }
    if app
        .store
        .key_digits(&sid, keyed, wire::now_millis())
        .await?
        .is_none()
    {
        return Err(ApiError::conflict(format!(
            "Call {sid} has ended; it takes no more digits"
        )));
    }
    app.engine.wake_calls();
    Ok(json(StatusCode::OK, &call_view(&app, &sid, &uri).await?))
}

#[derive(Serialize)]
struct CallbackView {
    id: i64,
    account_sid: String,
    call_sid: String,
    url: String,
    method: String,
    params: BTreeMap<String, String>,
    idempotency_token: String,
    state: String,
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
struct JournalQuery {
    account: Option<AccountSid>,
    call: Option<CallSid>,
    limit: usize,
}

fn journal_query(uri: &Uri) -> Result<JournalQuery, ApiError> {
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

async fn list_callbacks(State(app): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let q = journal_query(&uri)?;
    let rows = app
        .store
        .callbacks(q.account.as_ref(), q.call.as_ref(), q.limit as i64)
        .await?;
    let callbacks: Vec<CallbackView> = rows
        .into_iter()
        .map(|(cb, attempts)| CallbackView {
            params: serde_json::from_str::<Vec<(String, String)>>(&cb.params)
                .unwrap_or_default()
                .into_iter()
                .collect(),
            id: cb.id,
            account_sid: cb.account_sid,
            call_sid: cb.call_sid,
            url: cb.url,
            method: cb.method,
            idempotency_token: cb.idempotency_token,
            state: cb.state,
            created_at: millis_rfc3339(cb.created_at),
            attempts: attempts
                .into_iter()
                .map(|a| AttemptView {
                    attempt: a.attempt,
                    at: millis_rfc3339(a.at),
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

async fn list_requests(State(app): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let q = journal_query(&uri)?;
    let requests = app
        .journal
        .recent(q.account.as_ref().map(AccountSid::as_str), q.limit);
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "requests": requests }),
    ))
}

async fn reset(State(app): State<AppState>) -> Result<Response, ApiError> {
    app.store.reset().await?;
    app.journal.clear();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "status": "reset" }),
    ))
}

async fn health(State(app): State<AppState>) -> Result<Response, ApiError> {
    app.store.ping().await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "status": "ok",
            "database": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "time_scale": app.settings.time_scale,
        }),
    ))
}

async fn metrics(State(app): State<AppState>) -> Result<Response, ApiError> {
    let pending_calls = app.store.pending_calls().await?;
    let (_, _, pending_callbacks) = app.store.callback_counts().await?;
    let text = app.metrics.render(&Gauges {
        pending_calls,
        pending_callbacks,
    });
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    Ok(response)
}
