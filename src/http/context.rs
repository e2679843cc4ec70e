//! The request context of the Twilio namespace, as an extractor: the path's account, its last
//! segment split into a name and the format suffix, and the authenticated account, checked in
//! Twilio's order: an unknown resource is 404 before authentication, a request that does not
//! authenticate is 401 whatever its method, and only then does a handler answer 405.

use std::marker::PhantomData;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};

use super::auth::authenticate;
use super::error::ApiError;
use super::format::{Format, Suffix};
use super::AppState;
use crate::domain::sid::AccountSid;

/// Which last path segments a route serves.
pub trait Segment: Send + Sync + 'static {
    fn accepts(name: &str) -> bool;

    /// Whether `method` on this route is answered in CSV for a `.csv` path; where it is not,
    /// the `.csv` path is 404, as an unknown suffix is.
    fn csv(_method: &Method) -> bool {
        false
    }
}

/// GET and HEAD: the reads, which are what a CSV representation is for.
pub fn csv_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// The list of caller IDs, `OutgoingCallerIds`.
pub struct CallerIdList;

impl Segment for CallerIdList {
    fn accepts(name: &str) -> bool {
        name == "OutgoingCallerIds"
    }

    fn csv(method: &Method) -> bool {
        csv_read(method)
    }
}

/// A caller ID instance: any SID, as [`Instance`], and read in CSV too.
pub struct CallerIdInstance;

impl Segment for CallerIdInstance {
    fn accepts(_: &str) -> bool {
        true
    }

    fn csv(method: &Method) -> bool {
        csv_read(method)
    }
}

/// An instance: any SID (parsed by the handler, which answers 404 for one that is not).
pub struct Instance;

impl Segment for Instance {
    fn accepts(_: &str) -> bool {
        true
    }
}

/// An authenticated request in the Twilio namespace.
pub struct TwilioRequest<S = Instance> {
    pub account: AccountSid,
    /// The last segment without its suffix: the list's name or the instance's SID.
    pub name: String,
    pub suffix: Suffix,
    pub method: Method,
    pub uri: Uri,
    pub content_type: Option<HeaderValue>,
    segment: PhantomData<S>,
}

impl<S> TwilioRequest<S> {
    pub fn format(&self) -> Format {
        self.suffix.format()
    }

    /// `/2010-04-01/Accounts/{AccountSid}` for this request's account.
    pub fn account_path(&self) -> String {
        format!("/2010-04-01/Accounts/{}", self.account)
    }

    /// 404 naming this request's path.
    pub fn not_found(&self) -> ApiError {
        ApiError::not_found(self.uri.path())
    }
}

/// Why a request never reached its handler.
pub enum Rejection {
    /// A CORS preflight (`OPTIONS`), answered empty without authentication.
    Preflight,
    Error(ApiError),
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::Preflight => Response::new(Body::empty()),
            Rejection::Error(e) => e.into_response(),
        }
    }
}

impl<S: Segment> FromRequestParts<AppState> for TwilioRequest<S> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Rejection> {
        if parts.method == Method::OPTIONS {
            return Err(Rejection::Preflight);
        }
        let path = Path::<(String, String)>::from_request_parts(parts, app).await;
        let not_found = || Rejection::Error(ApiError::not_found(parts.uri.path()));
        let Path((account, segment)) = path.map_err(|_| not_found())?;
        let (name, suffix) = Suffix::split(&segment).ok_or_else(not_found)?;
        if !S::accepts(name) || (suffix == Suffix::Csv && !S::csv(&parts.method)) {
            return Err(not_found());
        }
        let name = name.to_string();
        let account = authenticate(&app.service, &parts.headers, &account)
            .await
            .map_err(Rejection::Error)?;
        Ok(TwilioRequest {
            account,
            name,
            suffix,
            method: parts.method.clone(),
            // Nothing after this extractor reads the request's URI.
            uri: std::mem::take(&mut parts.uri),
            content_type: parts.headers.get(header::CONTENT_TYPE).cloned(),
            segment: PhantomData,
        })
    }
}
