//! The layer of the Twilio namespace that makes the emulator misbehave on purpose: the
//! per-account concurrency limit ([`super::concurrency`]) and the fault rules
//! ([`super::faults`]). It sits inside [`super::observe`], so that what it answers is
//! journalled, logged and stamped with Twilio's headers like any answer, and it decides by
//! the path alone, so every route of the namespace is covered, whichever module serves it.
//! Innermost of the middleware, it also runs each handler that may write to its end
//! ([`finish`]).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::Frame;

use super::faults::{Action, Applied, Target};
use crate::http::error::ApiError;
use crate::http::AppState;

/// The `Retry-After` of a request refused by `--max-concurrent-requests`, in seconds.
pub const CONCURRENCY_RETRY_AFTER: u32 = 1;

pub async fn misbehave(State(app): State<AppState>, request: Request, next: Next) -> Response {
    // Nothing to do (the usual case) costs two loads.
    let idle = app.faults.is_empty() && !app.limiter.is_on();
    if idle || !request.uri().path().starts_with("/2010-04-01/") {
        return finish(next, request).await;
    }
    let target = Target::of(request.method(), request.uri().path());
    let permit = match app.limiter.enter(target.account.clone()) {
        Ok(permit) => permit,
        Err(_) => {
            let error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
            return refused(error, Some(CONCURRENCY_RETRY_AFTER));
        }
    };
    let mut response = match app.faults.apply(&target) {
        None => finish(next, request).await,
        Some(applied) => {
            let mut response = match &applied.action {
                Action::Delay { delay_ms } => {
                    tokio::time::sleep(Duration::from_millis(*delay_ms)).await;
                    finish(next, request).await
                }
                Action::Status {
                    status,
                    code,
                    message,
                    retry_after,
                } => {
                    let status =
                        StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    refused(ApiError::new(status, *code, message.clone()), *retry_after)
                }
                Action::Drop { .. } => dropped(),
            };
            response.extensions_mut().insert(applied);
            response
        }
    };
    if let Some(permit) = permit {
        response = permit.hold_until_sent(response);
    }
    response
}

/// Runs the handler. One that may write (any method but GET, HEAD, OPTIONS and TRACE) runs
/// in a task of its own: a request cut short, by `--request-timeout-ms` or by its client
/// leaving, still finishes its write whole, in the database and in the memory the reads
/// answer from, never in one of them only. A fault's delay comes before it, so a request the
/// timeout cuts during its delay writes nothing.
async fn finish(next: Next, request: Request) -> Response {
    if request.method().is_safe() {
        return next.run(request).await;
    }
    tokio::spawn(next.run(request))
        .await
        .unwrap_or_else(|_| ApiError::internal("a request handler panicked").into_response())
}

/// An error answer, with `Retry-After` when given; the request goes no further.
fn refused(error: ApiError, retry_after: Option<u32>) -> Response {
    let mut response = error.into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Whether a response is the placeholder of a dropped connection.
pub fn is_dropped(response: &Response) -> bool {
    response
        .extensions()
        .get::<Applied>()
        .is_some_and(|a| matches!(a.action, Action::Drop { .. }))
}

/// A response whose body fails on its first read. hyper buffers the status line and headers
/// and polls the body before it writes anything; the body's error makes it drop the
/// connection with nothing written, so the client reads end-of-stream (or a reset) and no
/// status line.
fn dropped() -> Response {
    Response::new(Body::new(FailingBody))
}

struct FailingBody;

impl HttpBody for FailingBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "connection dropped by a fault rule",
        ))))
    }
}
