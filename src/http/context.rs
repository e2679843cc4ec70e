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
use crate::domain::account::Area;
use crate::domain::sid::AccountSid;

/// Where a route's account is in its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `/2010-04-01/Accounts/{AccountSid}/…/{segment}`: the path names the account.
    UnderAccount,
    /// `/2010-04-01/{segment}` (`Accounts`): the credential's own account.
    Top,
    /// `/2010-04-01/Accounts/{segment}`: the segment is the account's sid.
    AccountInstance,
}

/// Which last path segments a route serves, and what they reach.
pub trait Segment: Send + Sync + 'static {
    const SHAPE: Shape = Shape::UnderAccount;

    fn accepts(name: &str) -> bool;

    /// Whether `method` on `name` is answered in CSV for a `.csv` path; where it is not, the
    /// `.csv` path is 404, as an unknown suffix is.
    fn csv(_name: &str, _method: &Method) -> bool {
        false
    }

    /// What a request for `name` reaches, for the access rules.
    fn area(_name: &str) -> Area {
        Area::Resources
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

    fn csv(_: &str, method: &Method) -> bool {
        csv_read(method)
    }
}

/// A caller ID instance: any SID, as [`Instance`], and read in CSV too.
pub struct CallerIdInstance;

impl Segment for CallerIdInstance {
    fn accepts(_: &str) -> bool {
        true
    }

    fn csv(_: &str, method: &Method) -> bool {
        csv_read(method)
    }
}

/// The lists under an account: `OutgoingCallerIds` and `Keys`.
pub struct AccountLists;

impl Segment for AccountLists {
    fn accepts(name: &str) -> bool {
        matches!(name, "OutgoingCallerIds" | "Keys")
    }

    fn csv(name: &str, method: &Method) -> bool {
        name == "OutgoingCallerIds" && csv_read(method)
    }

    fn area(name: &str) -> Area {
        if name == "Keys" {
            Area::Keys
        } else {
            Area::Resources
        }
    }
}

/// An instance: any SID (parsed by the handler, which answers 404 for one that is not).
pub struct Instance;

impl Segment for Instance {
    fn accepts(_: &str) -> bool {
        true
    }
}

/// An API key, `Keys/{Sid}`.
pub struct KeyInstance;

impl Segment for KeyInstance {
    fn accepts(_: &str) -> bool {
        true
    }

    fn area(_: &str) -> Area {
        Area::Keys
    }
}

/// The Accounts list, `/2010-04-01/Accounts`.
pub struct AccountList;

impl Segment for AccountList {
    const SHAPE: Shape = Shape::Top;

    fn accepts(name: &str) -> bool {
        name == "Accounts"
    }

    fn csv(_: &str, method: &Method) -> bool {
        csv_read(method)
    }

    fn area(_: &str) -> Area {
        Area::Accounts
    }
}

/// An account, `/2010-04-01/Accounts/{Sid}`.
pub struct AccountInstance;

impl Segment for AccountInstance {
    const SHAPE: Shape = Shape::AccountInstance;

    fn accepts(_: &str) -> bool {
        true
    }

    fn area(_: &str) -> Area {
        Area::Accounts
    }
}

/// An authenticated request in the Twilio namespace.
pub struct TwilioRequest<S = Instance> {
    pub account: AccountSid,
    /// The account whose credentials authenticated the request: `account`, or its parent.
    pub acting: AccountSid,
    /// The last segment without its suffix: the list's name or the instance's SID.
    pub name: String,
    pub suffix: Suffix,
    pub method: Method,
    pub uri: Uri,
    pub content_type: Option<HeaderValue>,
    segment: PhantomData<S>,
}

impl<S> TwilioRequest<S> {
    /// The same request, seen as served by the route of segment `T`.
    pub fn cast<T>(self) -> TwilioRequest<T> {
        TwilioRequest {
            account: self.account,
            acting: self.acting,
            name: self.name,
            suffix: self.suffix,
            method: self.method,
            uri: self.uri,
            content_type: self.content_type,
            segment: PhantomData,
        }
    }

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
        let extracted = match S::SHAPE {
            Shape::UnderAccount => Path::<(String, String)>::from_request_parts(parts, app)
                .await
                .map(|Path((account, segment))| (Some(account), segment))
                .ok(),
            Shape::Top | Shape::AccountInstance => Path::<String>::from_request_parts(parts, app)
                .await
                .map(|Path(segment)| (None, segment))
                .ok(),
        };
        let not_found = || Rejection::Error(ApiError::not_found(parts.uri.path()));
        let (account, segment) = extracted.ok_or_else(not_found)?;
        let (name, suffix) = Suffix::split(&segment).ok_or_else(not_found)?;
        if !S::accepts(name) || (suffix == Suffix::Csv && !S::csv(name, &parts.method)) {
            return Err(not_found());
        }
        let name = name.to_string();
        let path_account = match S::SHAPE {
            Shape::AccountInstance => Some(name.as_str()),
            _ => account.as_deref(),
        };
        let who = authenticate(&app.service, &parts.headers, path_account, S::area(&name))
            .await
            .map_err(Rejection::Error)?;
        Ok(TwilioRequest {
            account: who.account,
            acting: who.acting,
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
