//! The control API under `/_emulator`, by area: accounts and keys ([`accounts`]), caller-ID
//! fixtures and callee behaviours ([`phones`]), the calls and their digits ([`calls`]), the
//! callback and request journals and the reset ([`journals`]), the fault rules ([`faults`]),
//! health and metrics ([`health`]). JSON in and out; errors in Twilio's JSON error body.

mod accounts;
mod calls;
mod event_view;
pub(crate) use event_view::write_journalled;
mod events;
mod faults;
mod health;
mod journals;
mod phones;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::sid::AccountSid;
use crate::domain::PhoneNumber;
use crate::http::auth::same_secret;
use crate::http::error::{ApiError, AuthFailure};
use crate::http::AppState;

/// The control routes, behind the token check when one is configured.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/_emulator/accounts",
            post(accounts::create_account).get(accounts::list_accounts),
        )
        .route(
            "/_emulator/accounts/{account}",
            axum::routing::delete(accounts::delete_account).post(accounts::update_account),
        )
        .route(
            "/_emulator/accounts/{account}/keys",
            post(accounts::create_key).get(accounts::list_keys),
        )
        .route(
            "/_emulator/accounts/{account}/outgoing-caller-ids",
            post(phones::create_caller_id).get(phones::list_caller_ids),
        )
        .route(
            "/_emulator/accounts/{account}/phones/{phone}",
            put(phones::set_behavior).get(phones::get_behavior),
        )
        .route("/_emulator/calls", get(calls::list_calls))
        .route("/_emulator/calls/{call}", get(calls::get_call))
        .route("/_emulator/calls/{call}/digits", post(calls::post_digits))
        .route("/_emulator/callbacks", get(journals::list_callbacks))
        .route("/_emulator/requests", get(journals::list_requests))
        .route("/_emulator/reset", post(journals::reset))
        .route(
            "/_emulator/faults",
            post(faults::create_fault)
                .get(faults::list_faults)
                .delete(faults::delete_faults),
        )
        .route(
            "/_emulator/faults/{id}",
            axum::routing::delete(faults::delete_fault),
        )
        .route("/_emulator/events", get(events::events))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
}

/// Routes that stay open whatever the control settings: health and metrics.
pub fn open_router() -> Router<AppState> {
    Router::new()
        .route("/_emulator/health", get(health::health))
        .route("/_emulator/ca.pem", get(health::ca_pem))
        .route("/metrics", get(health::metrics))
}

async fn require_token(State(app): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(token) = &app.settings.control_token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(String::from)
            .or_else(|| query_token(request.uri()));
        let given = given.as_deref();
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

/// `?token=` on the event stream, which a browser's EventSource opens without headers.
fn query_token(uri: &axum::http::Uri) -> Option<String> {
    if uri.path() != "/_emulator/events" {
        return None;
    }
    let params = crate::http::form::Params::parse(uri.query()?.as_bytes()).ok()?;
    params.get("token").ok().flatten().map(String::from)
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

/// The control API's JSON request bodies, by the call that takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// `POST /_emulator/accounts`
    NewAccount,
    /// `POST /_emulator/accounts/{account}/keys`
    NewKey,
    /// `POST /_emulator/accounts/{account}/outgoing-caller-ids`
    NewCallerId,
    /// `PUT /_emulator/accounts/{account}/phones/{phone}`
    SetBehavior,
    /// `POST /_emulator/calls/{call}/digits`
    Digits,
    /// `POST /_emulator/faults`
    NewFault,
}

impl BodyKind {
    pub const ALL: [BodyKind; 6] = [
        BodyKind::NewAccount,
        BodyKind::NewKey,
        BodyKind::NewCallerId,
        BodyKind::SetBehavior,
        BodyKind::Digits,
        BodyKind::NewFault,
    ];
}

/// Reads `bytes` as the JSON body of `kind` exactly as its handler does (the handler's checks
/// of the values come after); the entry point of the fuzz target for these bodies.
pub fn parse_body(kind: BodyKind, bytes: &[u8]) -> Result<(), ApiError> {
    let bytes = Bytes::copy_from_slice(bytes);
    match kind {
        BodyKind::NewAccount => body::<accounts::NewAccount>(&bytes).map(drop),
        BodyKind::NewKey => body::<accounts::NewKey>(&bytes).map(drop),
        BodyKind::NewCallerId => body::<phones::NewCallerId>(&bytes).map(drop),
        BodyKind::SetBehavior => body::<phones::SetBehavior>(&bytes).map(drop),
        BodyKind::Digits => body::<calls::Digits>(&bytes).map(drop),
        BodyKind::NewFault => body::<faults::NewFault>(&bytes).map(drop),
    }
}

/// The value of the path parameter `name`; a request without it is 404.
async fn path_param(parts: &mut Parts, app: &AppState, name: &str) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, app).await.ok();
    params
        .as_ref()
        .and_then(|p| {
            p.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
        .ok_or_else(|| ApiError::not_found(parts.uri.path()))
}

/// The existing account named by a route's `{account}`.
pub(super) struct PathAccount(pub AccountSid);

impl FromRequestParts<AppState> for PathAccount {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let raw = path_param(parts, app, "account").await?;
        let not_found = || ApiError::not_found(parts.uri.path());
        let sid = AccountSid::parse(&raw).ok_or_else(not_found)?;
        app.service.account(&sid).await?.ok_or_else(not_found)?;
        Ok(PathAccount(sid))
    }
}

/// The phone number of a route's `{phone}`, with the Twilio API's 21421 error.
pub(super) struct PathPhone(pub PhoneNumber);

impl FromRequestParts<AppState> for PathPhone {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let raw = path_param(parts, app, "phone").await?;
        phone(&raw).map(PathPhone)
    }
}

/// A phone number from a control-API path or body, with the Twilio API's 21421 error.
fn phone(raw: &str) -> Result<PhoneNumber, ApiError> {
    PhoneNumber::parse(raw).ok_or_else(|| ApiError::invalid_phone_number(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_body_reads_each_body_as_its_handler_does() {
        for kind in BodyKind::ALL {
            assert!(
                parse_body(kind, b"").is_ok(),
                "{kind:?}: empty is the default"
            );
            assert!(parse_body(kind, b" \n").is_ok(), "{kind:?}: blank too");
            assert!(parse_body(kind, b"{\"nope\": 1}").is_err(), "{kind:?}");
            assert!(parse_body(kind, b"{").is_err(), "{kind:?}");
        }
        assert!(parse_body(BodyKind::Digits, br#"{"digits":"123#"}"#).is_ok());
        assert!(parse_body(BodyKind::SetBehavior, br#"{"behavior":7}"#).is_err());
        assert!(parse_body(BodyKind::NewCallerId, br#"{"phone_number":"+14155551212"}"#).is_ok());
    }
}
