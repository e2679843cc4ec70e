//! `GET /_emulator/events`: the change events as Server-Sent Events, optionally for one
//! account. Each client reads its own subscription of the in-process channel; one that falls
//! more than the backlog behind loses the oldest events and gets a `resync` event instead (its
//! view should reload), so a slow or stalled client holds a bounded buffer and never slows the
//! API. Comments keep idle connections alive; the stream ends when the server shuts down.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, Uri};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use super::event_view;
use crate::domain::event::Event;
use crate::domain::sid::AccountSid;
use crate::http::error::ApiError;
use crate::http::form::Params;
use crate::http::AppState;
use crate::service::events::Subscription;

/// How often an idle stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

fn account_filter(uri: &Uri) -> Result<Option<AccountSid>, ApiError> {
    let params = Params::parse(uri.query().unwrap_or("").as_bytes())?;
    match params.get("account_sid")?.or(params.get("AccountSid")?) {
        None | Some("") => Ok(None),
        Some(raw) => AccountSid::parse(raw).map(Some).ok_or_else(|| {
            ApiError::invalid_parameter(format!("account_sid {raw:?} is not an AccountSid"))
        }),
    }
}

/// Whether a client that asked for `filter` sees `event`: everything without a filter; with
/// one, that account's events and the resets.
fn wanted(filter: Option<&AccountSid>, event: &Event) -> bool {
    match (filter, event) {
        (None, _) | (_, Event::Reset) => true,
        (Some(want), e) => e.account_sid() == Some(want),
    }
}

fn sse_event(event: &Event) -> SseEvent {
    SseEvent::default()
        .event(event_view::name(event))
        .data(event_view::data(event).to_string())
}

struct Reader {
    subscription: Subscription,
    filter: Option<AccountSid>,
    closing: watch::Receiver<bool>,
    greeted: bool,
}

/// The next SSE event for this reader, or `None` once the server closes.
async fn next(mut reader: Reader) -> Option<(Result<SseEvent, Infallible>, Reader)> {
    if !reader.greeted {
        // First, so that a client knows it is subscribed before it makes a change.
        reader.greeted = true;
        let hello = SseEvent::default().event("ready").data("{}");
        return Some((Ok(hello), reader));
    }
    loop {
        let received = tokio::select! {
            r = reader.subscription.recv() => r,
            _ = reader.closing.wait_for(|closing| *closing) => return None,
        };
        match received {
            Ok(event) if wanted(reader.filter.as_ref(), &event) => {
                return Some((Ok(sse_event(&event)), reader));
            }
            Ok(_) => continue,
            Err(RecvError::Lagged(missed)) => {
                let resync = SseEvent::default()
                    .event("resync")
                    .data(serde_json::json!({ "missed": missed }).to_string());
                return Some((Ok(resync), reader));
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

fn stream_of(reader: Reader) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send {
    stream::unfold(reader, next)
}

pub(super) async fn events(State(app): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let filter = account_filter(&uri)?;
    let reader = Reader {
        subscription: app.service.events().subscribe(),
        filter,
        closing: app.closing.subscribe(),
        greeted: false,
    };
    let sse = Sse::new(stream_of(reader)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    let mut response = sse.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
