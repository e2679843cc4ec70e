//! The inspector page at `/_emulator/ui/`: one HTML page with its script and style sheet,
//! embedded in the binary, live from `/_emulator/events`. Served with the control API (and
//! not at all without it); the page itself is open, and asks for the control token when the
//! API needs one. Everything it shows comes from the control API and the event stream.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::http::AppState;

/// The page's only sources: its own scripts, styles and fetches; no inline script.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
                   form-action 'self'";

/// Each asset: its path under `/_emulator/ui/`, its content type and its text.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("assets/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("assets/style.css"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/api.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/dom.js"),
    ),
    (
        "calls.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/calls.js"),
    ),
    (
        "requests.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/requests.js"),
    ),
    (
        "views.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/views.js"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
];

fn asset(name: &str) -> Response {
    let Some((_, content_type, text)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return crate::http::error::ApiError::not_found(&format!("/_emulator/ui/{name}"))
            .into_response();
    };
    let mut response = (StatusCode::OK, *text).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn index() -> Response {
    asset("index.html")
}

async fn file(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    asset(&name)
}

/// The page and its assets, and `/` sending a browser to it.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/_emulator/ui/") }))
        .route(
            "/_emulator/ui",
            get(|| async { Redirect::to("/_emulator/ui/") }),
        )
        .route("/_emulator/ui/", get(index))
        .route("/_emulator/ui/{file}", get(file))
}
