//! The Twilio namespace, `/2010-04-01/Accounts/{AccountSid}/…`. axum cannot route `{Sid}.json`,
//! so each route captures the whole last segment and [`Suffix::split`] parses the format once.

pub mod calls;
pub mod outgoing_caller_ids;
pub mod validation_requests;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::any;
use axum::Router;

use crate::auth::authenticate;
use crate::error::ApiError;
use crate::wire::sid::AccountSid;
use crate::wire::{Format, Params, Suffix};
use crate::AppState;

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
}

/// What every handler in this namespace is given once routing, format and auth are settled.
pub struct Ctx<'a> {
    pub app: &'a AppState,
    pub account: AccountSid,
    pub suffix: Suffix,
    pub uri: &'a Uri,
}

impl Ctx<'_> {
    pub fn format(&self) -> Format {
        self.suffix.format()
    }

    /// `/2010-04-01/Accounts/{AccountSid}` for this request's account.
    pub fn account_path(&self) -> String {
        format!("/2010-04-01/Accounts/{}", self.account)
    }
}

/// A success response in the request's format.
pub fn respond(status: StatusCode, format: Format, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

/// The parameters of a POST/PUT body. Twilio takes form bodies only; an empty body is no
/// parameters.
pub fn form_params(headers: &HeaderMap, body: &Bytes) -> Result<Params, ApiError> {
    if body.is_empty() {
        return Ok(Params::default());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-www-form-urlencoded");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(ApiError::invalid_parameter(format!(
            "The request body must be application/x-www-form-urlencoded, not {essence}"
        )));
    }
    Params::parse(body)
}

pub fn query_params(uri: &Uri) -> Result<Params, ApiError> {
    Params::parse(uri.query().unwrap_or("").as_bytes())
}

fn preflight() -> Response {
    Response::new(Body::empty())
}

/// Splits `Name.json`, checks the name and authenticates: the common head of every route.
async fn enter<'a>(
    app: &'a AppState,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: &'a Uri,
    headers: &HeaderMap,
    expected: Option<&str>,
) -> Result<(Ctx<'a>, String), ApiError> {
    let not_found = || ApiError::not_found(uri.path());
    let Path((account, segment)) = path.map_err(|_| not_found())?;
    let (name, suffix) = Suffix::split(&segment).ok_or_else(not_found)?;
    if expected.is_some_and(|e| e != name) {
        return Err(not_found());
    }
    let name = name.to_string();
    let account = authenticate(&app.store, headers, &account).await?;
    Ok((
        Ctx {
            app,
            account,
            suffix,
            uri,
        },
        name,
    ))
}

/// The body of a POST or PUT. [`crate::observe::observe`] has already read it into memory
/// within the size limit, so this does not wait on the client.
async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|_| ApiError::invalid_parameter("The request body could not be read"))
}

async fn list_route(
    State(app): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    if parts.method == Method::OPTIONS {
        return Ok(preflight());
    }
    let (ctx, _) = enter(
        &app,
        path,
        &parts.uri,
        &parts.headers,
        Some("OutgoingCallerIds"),
    )
    .await?;
    match parts.method {
        Method::GET | Method::HEAD => outgoing_caller_ids::list(&ctx).await,
        Method::POST => {
            let body = read_body(body).await?;
            validation_requests::create(&ctx, &form_params(&parts.headers, &body)?).await
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

async fn caller_id_route(
    State(app): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    if parts.method == Method::OPTIONS {
        return Ok(preflight());
    }
    let (ctx, sid) = enter(&app, path, &parts.uri, &parts.headers, None).await?;
    match parts.method {
        Method::GET | Method::HEAD => outgoing_caller_ids::fetch(&ctx, &sid).await,
        Method::POST | Method::PUT => {
            let body = read_body(body).await?;
            outgoing_caller_ids::update(&ctx, &sid, &form_params(&parts.headers, &body)?).await
        }
        Method::DELETE => outgoing_caller_ids::delete(&ctx, &sid).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}

async fn call_route(
    State(app): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    if parts.method == Method::OPTIONS {
        return Ok(preflight());
    }
    let (ctx, sid) = enter(&app, path, &parts.uri, &parts.headers, None).await?;
    match parts.method {
        Method::GET | Method::HEAD => calls::fetch(&ctx, &sid).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}
