//! `/_emulator/health`, `/metrics` and `/_emulator/ca.pem`, open whatever the control
//! settings.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::Response;

use super::json;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::metrics::Gauges;

/// 200 while the database answers a ping, 503 (`"status": "unavailable"`) while it does not:
/// a load balancer takes the replica out until its database is back.
pub(super) async fn health(State(app): State<AppState>) -> Response {
    let (status, health, database) = match app.service.ping().await {
        Ok(()) => (StatusCode::OK, "ok", "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "health check: the database is unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "unreachable",
            )
        }
    };
    json(
        status,
        &serde_json::json!({
            "status": health,
            "database": database,
            "backend": app.service.backend(),
            "version": env!("CARGO_PKG_VERSION"),
            "time_scale": app.settings.time_scale,
        }),
    )
}

pub(super) async fn metrics(State(app): State<AppState>) -> Result<Response, ApiError> {
    let (pending_calls, callbacks) = app.service.gauges().await?;
    let text = app.metrics.render(&Gauges {
        pending_calls,
        pending_callbacks: callbacks.unsettled,
    });
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    Ok(response)
}

/// The local CA's certificate, for clients to trust.
pub(super) async fn ca_pem(State(app): State<AppState>) -> Response {
    let mut response = Response::new(Body::from(app.ca.pem.clone()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/x-pem-file"),
    );
    response
}
