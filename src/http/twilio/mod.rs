//! The Twilio namespace, `/2010-04-01/Accounts/{AccountSid}/…`: the route table, one module
//! per resource with its JSON and XML representations beside its handlers. axum cannot route
//! `{Sid}.json`, so each route captures the whole last segment and [`TwilioRequest`] parses it.
//!
//! | route | method | handler |
//! |---|---|---|
//! | `…/OutgoingCallerIds` | GET | [`outgoing_caller_ids::list`] |
//! | `…/OutgoingCallerIds` | POST | [`validation_requests::create`] |
//! | `…/OutgoingCallerIds/{Sid}` | GET | [`outgoing_caller_ids::fetch`] |
//! | `…/OutgoingCallerIds/{Sid}` | POST, PUT | [`outgoing_caller_ids::update`] |
//! | `…/OutgoingCallerIds/{Sid}` | DELETE | [`outgoing_caller_ids::delete`] |
//! | `…/Calls/{Sid}` | GET | [`calls::fetch`] |
//! | `…/Keys` | GET | [`keys::list`] |
//! | `…/Keys` | POST | [`keys::create`] |
//! | `…/Keys/{Sid}` | GET | [`keys::fetch`] |
//! | `…/Keys/{Sid}` | POST | [`keys::update`] |
//! | `…/Keys/{Sid}` | DELETE | [`keys::delete`] |
//! | `/2010-04-01/Accounts` | GET | [`accounts::list`] |
//! | `/2010-04-01/Accounts` | POST | [`accounts::create`] |
//! | `/2010-04-01/Accounts/{Sid}` | GET | [`accounts::fetch`] |
//! | `/2010-04-01/Accounts/{Sid}` | POST | [`accounts::update`] |

pub mod account_repr;
pub mod accounts;
pub mod caller_id_repr;
pub mod calls;
pub mod keys;
pub mod outgoing_caller_ids;
pub mod validation_requests;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use axum::routing::any;
use axum::Router;

use super::context::{
    AccountInstance, AccountList, AccountLists, CallerIdInstance, CallerIdList, KeyInstance,
    TwilioRequest,
};
use super::error::ApiError;
use super::form::Params;
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/2010-04-01/Accounts/{account}/{list}", any(list_route))
        .route(
            "/2010-04-01/Accounts/{account}/OutgoingCallerIds/{sid}",
            any(caller_id_route),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Calls/{sid}",
            any(call_route),
        )
        .route("/2010-04-01/Accounts/{account}/Keys/{sid}", any(key_route))
        .route("/2010-04-01/{accounts}", any(account_list_route))
        .route("/2010-04-01/Accounts/{sid}", any(account_route))
}

/// The parameters of a POST/PUT body. Twilio takes form bodies only; an empty body is no
/// parameters. [`crate::http::middleware::observe`] has already read the body into memory
/// within the size limit, so this does not wait on the client.
pub async fn form_params(
    content_type: Option<&HeaderValue>,
    body: Body,
) -> Result<Params, ApiError> {
    let body: Bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|_| ApiError::invalid_parameter("The request body could not be read"))?;
    if body.is_empty() {
        return Ok(Params::default());
    }
    let content_type = content_type
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-www-form-urlencoded");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(ApiError::invalid_parameter(format!(
            "The request body must be application/x-www-form-urlencoded, not {essence}"
        )));
    }
    Params::parse(&body)
}

async fn list_route(
    State(app): State<AppState>,
    request: TwilioRequest<AccountLists>,
    body: Body,
) -> Result<Response, ApiError> {
    if request.name == "Keys" {
        return match request.method {
            Method::GET | Method::HEAD => keys::list(&app, &request).await,
            Method::POST => {
                let params = form_params(request.content_type.as_ref(), body).await?;
                keys::create(&app, &request, &params).await
            }
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    let request = request.cast::<CallerIdList>();
    match request.method {
        Method::GET | Method::HEAD => outgoing_caller_ids::list(&app, &request).await,
        Method::POST => {
            let params = form_params(request.content_type.as_ref(), body).await?;
            validation_requests::create(&app, &request, &params).await
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

async fn caller_id_route(
    State(app): State<AppState>,
    request: TwilioRequest<CallerIdInstance>,
    body: Body,
) -> Result<Response, ApiError> {
    match request.method {
        Method::GET | Method::HEAD => outgoing_caller_ids::fetch(&app, &request).await,
        Method::POST | Method::PUT => {
            let params = form_params(request.content_type.as_ref(), body).await?;
            outgoing_caller_ids::update(&app, &request, &params).await
        }
        Method::DELETE => outgoing_caller_ids::delete(&app, &request).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}

async fn call_route(
    State(app): State<AppState>,
    request: TwilioRequest,
) -> Result<Response, ApiError> {
    match request.method {
        Method::GET | Method::HEAD => calls::fetch(&app, &request).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}

async fn key_route(
    State(app): State<AppState>,
    request: TwilioRequest<KeyInstance>,
    body: Body,
) -> Result<Response, ApiError> {
    match request.method {
        Method::GET | Method::HEAD => keys::fetch(&app, &request).await,
        Method::POST => {
            let params = form_params(request.content_type.as_ref(), body).await?;
            keys::update(&app, &request, &params).await
        }
        Method::DELETE => keys::delete(&app, &request).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}

async fn account_list_route(
    State(app): State<AppState>,
    request: TwilioRequest<AccountList>,
    body: Body,
) -> Result<Response, ApiError> {
    match request.method {
        Method::GET | Method::HEAD => accounts::list(&app, &request).await,
        Method::POST => {
            let params = form_params(request.content_type.as_ref(), body).await?;
            accounts::create(&app, &request, &params).await
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

async fn account_route(
    State(app): State<AppState>,
    request: TwilioRequest<AccountInstance>,
    body: Body,
) -> Result<Response, ApiError> {
    match request.method {
        Method::GET | Method::HEAD => accounts::fetch(&app, &request).await,
        Method::POST => {
            let params = form_params(request.content_type.as_ref(), body).await?;
            accounts::update(&app, &request, &params).await
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}
