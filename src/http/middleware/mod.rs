//! The middleware every request passes: the limits and Twilio's headers ([`limits`]), the
//! request timeout, one log line, the metrics, and the request journal ([`journal`]); inside
//! it, for the Twilio namespace, the concurrency limit and the fault rules ([`injected`]).

pub mod concurrency;
pub mod faults;
pub mod injected;
pub mod journal;
mod limits;

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::domain::event::Event;
use crate::domain::sid::{AccountSid, RequestSid};
use crate::domain::time::now_millis;
use crate::http::edge::Via;
use crate::http::error::{render_pending, ApiError};
use crate::http::format::Format;
use crate::http::AppState;
use faults::Applied;
use journal::{Recorded, Target};
use limits::{header_bytes, stamp, InFlight};

pub async fn observe(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (_guard, concurrent) = InFlight::enter();
    let request_id = RequestSid::next();
    let method = request.method().clone();
    let path = request.uri().path();
    let twilio = path.starts_with("/2010-04-01");
    // Errors answer in the format of the path's suffix in the Twilio namespace, JSON elsewhere.
    let format = if twilio {
        Format::of_path(path)
    } else {
        Format::Json
    };
    let target = twilio.then(|| Target::of(path, request.uri().query()));
    let host = if twilio {
        request.headers().get(axum::http::header::HOST).cloned()
    } else {
        None
    };
    let via = request
        .extensions()
        .get::<Via>()
        .copied()
        .unwrap_or(Via::Http);
    // The route pattern the router matched, so that metric labels stay a fixed set whatever
    // paths clients send.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let settings = &app.settings;

    let response = if header_bytes(request.headers()) > settings.max_header_bytes {
        (
            None,
            ApiError::new(
                axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                20001,
                format!(
                    "The request headers are larger than the limit of {} bytes",
                    settings.max_header_bytes
                ),
            )
            .into_response(),
        )
    } else if settings.request_timeout_ms == 0 {
        // No time at all: every request is answered 408 before it runs, whatever the timer's
        // granularity (a 0 ms timer fires at its next tick, after a fast handler is done).
        (None, ApiError::timeout().into_response())
    } else if request.body().is_end_stream() {
        // No body to read: the request goes on as it came.
        let timeout = Duration::from_millis(settings.request_timeout_ms);
        match tokio::time::timeout(timeout, next.run(request)).await {
            Ok(response) => (twilio.then(Bytes::new), response),
            Err(_) => (None, ApiError::timeout().into_response()),
        }
    } else {
        // The timeout covers reading the body too, so a client that stalls mid-body gets 408.
        let timeout = Duration::from_millis(settings.request_timeout_ms);
        let handle = async {
            let (parts, body) = request.into_parts();
            match axum::body::to_bytes(body, settings.max_body_bytes).await {
                Err(_) => (
                    None,
                    ApiError::payload_too_large(settings.max_body_bytes).into_response(),
                ),
                Ok(bytes) => {
                    let body = twilio.then(|| bytes.clone());
                    let request = Request::from_parts(parts, Body::from(bytes));
                    (body, next.run(request).await)
                }
            }
        };
        match tokio::time::timeout(timeout, handle).await {
            Ok(done) => done,
            Err(_) => (None, ApiError::timeout().into_response()),
        }
    };
    let (body, mut response) = response;
    // The code of the Twilio error body the request got, if it got one.
    let error_code = render_pending(&mut response, format);

    let elapsed = started.elapsed();
    // A dropped connection is answered with nothing: status 0 in the journal and the log.
    let fault = response.extensions().get::<Applied>().cloned();
    let status = if injected::is_dropped(&response) {
        0
    } else {
        response.status().as_u16()
    };
    stamp(response.headers_mut(), &request_id, elapsed, concurrent);

    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    app.metrics
        .request(method.as_str(), route, status, elapsed.as_secs_f64());
    tracing::info!(
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        request_id = %request_id,
        "request"
    );
    if let Some(target) = target {
        // A journal of this process's own feeds the event stream itself (see
        // `Journal::feeds_events`): no event is built per request then.
        if !app.journal.feeds_events() {
            app.service.publish_events(|| {
                vec![Event::RequestJournalled {
                    account_sid: target.account_sid().and_then(AccountSid::parse),
                    request_id: request_id.clone(),
                    method: method.to_string(),
                    path: target.path().to_string(),
                    status,
                    error_code,
                }]
            });
        }
        app.journal.push(
            Recorded {
                request_id,
                at_ms: now_millis(),
                method,
                target,
                body,
                status,
                error_code,
                duration_ms: elapsed.as_secs_f64() * 1000.0,
                host,
                via,
                fault,
            },
            app.service.events(),
        );
    }
    response
}
