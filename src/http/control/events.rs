//! `GET /_emulator/events`: the change events as Server-Sent Events, optionally for one
//! account. Each client reads the batches of the in-process channel (see
//! [`crate::service::events`]) on its own task and writes each as one chunk, its text rendered
//! once per batch for all clients with the same filter. One that misses events (it stopped
//! reading, or a burst overflowed the queue) gets a `resync` event (its view should reload), so
//! a slow or stalled client holds a bounded buffer and never slows the API. Comments keep idle
//! connections alive; the stream ends when the server shuts down.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::time::Instant;

use super::event_view;
use crate::domain::event::Event;
use crate::domain::sid::AccountSid;
use crate::http::error::ApiError;
use crate::http::form::Params;
use crate::http::middleware::journal::Journal;
use crate::http::AppState;
use crate::service::events::{Batch, Subscription};

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

/// The most `request.journalled` events one batch sends to a reader. A busy API journals
/// thousands of requests per batch; the page shows the newest 100 and reloads its Requests
/// view on any of them, so past this the older ones of the batch are left out and counted in
/// one `requests.skipped` event, which keeps each reader's writes small however fast the API
/// runs.
const JOURNALLED_PER_BATCH: usize = 20;

/// The SSE text of the events of `batch` that a client with `filter` sees (empty if none).
/// The `request.journalled` events of this process's requests come from `journal` (see
/// `Journal::feeds_events`), after the batch's other events; those of other replicas come in
/// the batch. Past [`JOURNALLED_PER_BATCH`] of them, the older are counted in one
/// `requests.skipped` first.
fn view(batch: &Batch, filter: Option<&AccountSid>, journal: Option<&Journal>) -> Bytes {
    batch.view(filter, |events| {
        let (local_skipped, local) = journal
            .map(|j| {
                j.journalled_sse(
                    &batch.journal,
                    filter.map(AccountSid::as_str),
                    JOURNALLED_PER_BATCH,
                )
            })
            .unwrap_or_default();
        let seen = || events.iter().filter(|e| wanted(filter, e));
        let journalled = seen().filter(|e| is_journalled(e)).count();
        let mut skip = journalled.saturating_sub(JOURNALLED_PER_BATCH);
        let mut out = Vec::new();
        let skipped = skip as u64 + local_skipped;
        if skipped > 0 {
            out.extend_from_slice(
                format!("event: requests.skipped\ndata: {{\"count\":{skipped}}}\n\n").as_bytes(),
            );
        }
        // This process's requests go where they were journalled among the batch's events.
        let mut local = local.into_iter().peekable();
        for (event, at) in events.iter().zip(&batch.journal_at) {
            while let Some((_, text)) = local.next_if(|(seq, _)| seq <= at) {
                out.extend_from_slice(&text);
            }
            if !wanted(filter, event) {
                continue;
            }
            if skip > 0 && is_journalled(event) {
                skip -= 1;
                continue;
            }
            event_view::write_sse(&mut out, event);
        }
        for (_, text) in local {
            out.extend_from_slice(&text);
        }
        Bytes::from(out)
    })
}

fn is_journalled(event: &Event) -> bool {
    matches!(event, Event::RequestJournalled { .. })
}

struct Reader {
    /// The server's state, for its request journal; `None` in unit tests.
    app: Option<AppState>,
    subscription: Subscription,
    filter: Option<AccountSid>,
    closing: watch::Receiver<bool>,
    greeted: bool,
    /// The number of the next event this reader expects; `None` until its first batch.
    next: Option<u64>,
    last_write: Instant,
}

/// The next chunk for this reader, or `None` once the server closes.
async fn next(mut reader: Reader) -> Option<(Result<Bytes, Infallible>, Reader)> {
    if !reader.greeted {
        // First, so that a client knows it is subscribed before it makes a change.
        reader.greeted = true;
        reader.last_write = Instant::now();
        return Some((
            Ok(Bytes::from_static(b"event: ready\ndata: {}\n\n")),
            reader,
        ));
    }
    loop {
        let idle_until = reader.last_write + KEEP_ALIVE;
        let received = tokio::select! {
            r = reader.subscription.recv_batch() => Some(r),
            _ = reader.closing.wait_for(|closing| *closing) => return None,
            _ = tokio::time::sleep_until(idle_until) => None,
        };
        let Some(received) = received else {
            reader.last_write = Instant::now();
            return Some((Ok(Bytes::from_static(b":\n\n")), reader));
        };
        let batch = match received {
            Ok(batch) => batch,
            // The oldest batch kept comes next and tells how many events were missed.
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return None,
        };
        let expected = reader.next.unwrap_or(batch.start);
        let missed = batch.start.saturating_sub(expected) + batch.dropped;
        reader.next = Some(batch.end());
        let text = view(
            &batch,
            reader.filter.as_ref(),
            reader.app.as_ref().map(|a| &a.journal),
        );
        let chunk = if missed > 0 {
            let mut out = format!("event: resync\ndata: {{\"missed\":{missed}}}\n\n").into_bytes();
            out.extend_from_slice(&text);
            Bytes::from(out)
        } else if text.is_empty() {
            continue;
        } else {
            text
        };
        reader.last_write = Instant::now();
        return Some((Ok(chunk), reader));
    }
}

fn stream_of(reader: Reader) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    stream::unfold(reader, next)
}

pub(super) async fn events(State(app): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let filter = account_filter(&uri)?;
    let reader = Reader {
        app: Some(app.clone()),
        subscription: app.service.subscribe_events().await,
        filter,
        closing: app.closing.subscribe(),
        greeted: false,
        next: None,
        last_write: Instant::now(),
    };
    let mut response = Response::new(Body::from_stream(stream_of(reader)));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sid::RequestSid;
    use crate::service::events::Events;

    fn journalled(n: usize) -> Event {
        Event::RequestJournalled {
            account_sid: None,
            request_id: RequestSid::next(),
            method: "GET".to_string(),
            path: format!("/2010-04-01/Accounts/AC/OutgoingCallerIds/{n}.json"),
            status: 200,
            error_code: None,
        }
    }

    /// The next chunk of `stream`, as text; it must come within [`KEEP_ALIVE`].
    async fn chunk(stream: &mut (impl Stream<Item = Result<Bytes, Infallible>> + Unpin)) -> String {
        use futures_util::StreamExt;
        let next = tokio::time::timeout(KEEP_ALIVE, stream.next()).await;
        let bytes = next
            .expect("a chunk in time")
            .expect("a chunk")
            .expect("infallible");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    /// Whether `stream` sends nothing for `wait`.
    async fn quiet_for(
        stream: &mut (impl Stream<Item = Result<Bytes, Infallible>> + Unpin),
        wait: Duration,
    ) -> bool {
        use futures_util::StreamExt;
        tokio::time::timeout(wait, stream.next()).await.is_err()
    }

    // On tokio's paused clock, which moves on to the next timer whenever every task waits: the
    // test takes no real time.
    #[tokio::test(start_paused = true)]
    async fn an_idle_stream_sends_a_comment_each_keep_alive_and_an_event_restarts_the_wait() {
        let events = Events::new(16);
        let (_closing, closing) = watch::channel(false);
        let mut stream = std::pin::pin!(stream_of(Reader {
            app: None,
            subscription: events.subscribe(),
            filter: None,
            closing,
            greeted: false,
            next: None,
            last_write: Instant::now(),
        }));
        assert_eq!(chunk(&mut stream).await, "event: ready\ndata: {}\n\n");
        let almost = KEEP_ALIVE - Duration::from_millis(1);
        assert!(
            quiet_for(&mut stream, almost).await,
            "nothing before KEEP_ALIVE"
        );
        assert_eq!(chunk(&mut stream).await, ":\n\n");
        assert!(quiet_for(&mut stream, almost).await);
        assert_eq!(chunk(&mut stream).await, ":\n\n", "and again");

        // An event half-way through the wait: the next comment comes KEEP_ALIVE after it.
        tokio::time::sleep(KEEP_ALIVE / 2).await;
        events.publish(|| vec![Event::Reset]);
        assert_eq!(chunk(&mut stream).await, "event: reset\ndata: {}\n\n");
        assert!(quiet_for(&mut stream, almost).await, "the wait restarted");
        assert_eq!(chunk(&mut stream).await, ":\n\n");
    }

    #[tokio::test]
    async fn a_busy_batch_sends_its_newest_journal_events_and_counts_the_rest() {
        let events = Events::new(10_000);
        let mut subscription = events.subscribe();
        events.publish(|| (0..100).map(journalled).chain([Event::Reset]).collect());
        let batch = subscription.recv_batch().await.expect("a batch");
        assert_eq!(batch.events.len(), 101, "one batch holds the burst");
        let text = String::from_utf8(view(&batch, None, None).to_vec()).expect("utf-8");
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .collect();
        assert_eq!(names[0], "requests.skipped");
        assert!(text.starts_with("event: requests.skipped\ndata: {\"count\":80}\n\n"));
        assert_eq!(names.len(), 1 + JOURNALLED_PER_BATCH + 1);
        assert_eq!(
            *names.last().expect("last"),
            "reset",
            "other events are all kept"
        );
        // The newest twenty, in order.
        for n in 80..100 {
            assert!(
                text.contains(&format!("/OutgoingCallerIds/{n}.json")),
                "{n}"
            );
        }
        assert!(!text.contains("/OutgoingCallerIds/79.json"));

        // A quiet batch is sent whole, with no count.
        events.publish(|| (0..JOURNALLED_PER_BATCH).map(journalled).collect());
        let batch = subscription.recv_batch().await.expect("a batch");
        let text = String::from_utf8(view(&batch, None, None).to_vec()).expect("utf-8");
        assert!(!text.contains("requests.skipped"));
        assert_eq!(
            text.matches("event: request.journalled").count(),
            JOURNALLED_PER_BATCH
        );
    }
}
