//! The HTTP layer: the Twilio namespace ([`twilio`]), the control API ([`control`]), and the
//! middleware every request passes ([`middleware`]). Handlers turn requests into service calls
//! and service answers into Twilio's representations; nothing below this layer knows HTTP.

pub mod auth;
pub mod context;
pub mod control;
pub mod csv;
pub mod edge;
pub mod error;
pub mod form;
pub mod format;
pub mod middleware;
pub mod paging;
pub mod render;
pub mod twilio;
pub mod ui;

use std::ops::Deref;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::ca::LocalCa;
use crate::metrics::Metrics;
use crate::service::Service;
use crate::settings::Settings;
use error::ApiError;
use format::Format;
use middleware::concurrency::AccountLimiter;
use middleware::faults::Faults;
use middleware::journal::Journal;

/// Everything the handlers share.
pub struct Shared {
    pub settings: Settings,
    pub service: Arc<Service>,
    pub journal: Journal,
    /// The fault rules of the control API, applied to Twilio API requests.
    pub faults: Faults,
    /// `--max-concurrent-requests`: each account's requests in flight.
    pub limiter: AccountLimiter,
    pub metrics: Arc<Metrics>,
    /// The local certificate authority of the TLS listener and the proxy.
    pub ca: Arc<LocalCa>,
    /// Turns true when the server begins to shut down, so that long-lived responses (the
    /// event stream) end and the graceful shutdown does not wait for them.
    pub closing: tokio::sync::watch::Sender<bool>,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// A success response in `format`.
pub fn respond(status: StatusCode, format: Format, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

async fn not_found(uri: Uri) -> impl IntoResponse {
    ApiError::not_found(uri.path())
}

async fn method_not_allowed() -> impl IntoResponse {
    ApiError::method_not_allowed()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a request handler panicked").into_response()
}

/// The whole HTTP surface: the Twilio namespace, the control API (unless turned off), health
/// and metrics, with Twilio's error bodies and headers on every response.
pub fn app(state: AppState) -> Router {
    let mut router = twilio::router().merge(control::open_router());
    if state.settings.control_api {
        router = router.merge(control::router(&state)).merge(ui::router());
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // One layer of four, outermost first, so each route is wrapped and boxed once.
        .layer((
            axum::middleware::from_fn_with_state(state.clone(), middleware::observe),
            axum::middleware::from_fn_with_state(state.clone(), middleware::injected::misbehave),
            DefaultBodyLimit::disable(),
            tower_http::catch_panic::CatchPanicLayer::custom(panic_response),
        ))
        .with_state(state)
}
