//! The middleware every request passes: request id and Twilio's response headers, body and
//! header limits, the request timeout, the request journal, one log line and the metrics.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;
use crate::wire::sid::RequestSid;
use crate::wire::Params;
use crate::AppState;

/// One Twilio API request as `GET /_emulator/requests` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct JournalEntry {
    pub request_id: String,
    pub at: String,
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub params: BTreeMap<String, String>,
    pub status: u16,
    pub account_sid: Option<String>,
    pub duration_ms: f64,
}

/// A request as recorded on the hot path: raw parts only; parsing and formatting wait until
/// someone reads the journal.
struct Recorded {
    request_id: RequestSid,
    at_ms: i64,
    method: axum::http::Method,
    path: String,
    query: String,
    body: Option<Bytes>,
    status: u16,
    account_sid: Option<String>,
    duration_ms: f64,
}

impl Recorded {
    fn entry(&self) -> JournalEntry {
        JournalEntry {
            request_id: self.request_id.to_string(),
            at: chrono::DateTime::from_timestamp_millis(self.at_ms)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            method: self.method.to_string(),
            path: self.path.clone(),
            query: params_map(self.query.as_bytes()),
            params: self.body.as_deref().map(params_map).unwrap_or_default(),
            status: self.status,
            account_sid: self.account_sid.clone(),
            duration_ms: self.duration_ms,
        }
    }
}

/// The most recent Twilio API requests, bounded in number.
pub struct Journal {
    capacity: usize,
    entries: Mutex<VecDeque<Recorded>>,
}

impl Journal {
    pub fn new(capacity: usize) -> Journal {
        Journal {
            capacity,
            entries: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
        }
    }

    fn push(&self, entry: Recorded) {
        if self.capacity == 0 {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            while entries.len() >= self.capacity {
                entries.pop_front();
            }
            entries.push_back(entry);
        }
    }

    /// Newest first, optionally for one account, at most `limit`.
    pub fn recent(&self, account: Option<&str>, limit: usize) -> Vec<JournalEntry> {
        let Ok(entries) = self.entries.lock() else {
            return Vec::new();
        };
        entries
            .iter()
            .rev()
            .filter(|e| account.is_none_or(|a| e.account_sid.as_deref() == Some(a)))
            .take(limit)
            .map(Recorded::entry)
            .collect()
    }

    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

static IN_FLIGHT: AtomicI64 = AtomicI64::new(0);

struct InFlight;

impl InFlight {
    fn enter() -> (InFlight, i64) {
        (InFlight, IN_FLIGHT.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum()
}

fn params_map(raw: &[u8]) -> BTreeMap<String, String> {
    Params::parse(raw)
        .map(|p| p.pairs().iter().cloned().collect())
        .unwrap_or_default()
}

const TWILIO_HEADERS: [(&str, &str); 9] = [
    ("access-control-allow-origin", "*"),
    (
        "access-control-allow-headers",
        "Accept, Authorization, Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since, Idempotency-Key",
    ),
    ("access-control-allow-methods", "GET, POST, DELETE, OPTIONS"),
    ("access-control-expose-headers", "ETag"),
    ("access-control-allow-credentials", "true"),
    ("x-powered-by", "AT-5000"),
    ("x-shenanigans", "none"),
    ("x-home-region", "us1"),
    ("x-api-domain", "api.twilio.com"),
];

pub async fn observe(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (_guard, concurrent) = InFlight::enter();
    let request_id = RequestSid::generate();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    // The route pattern the router matched, so that metric labels stay a fixed set whatever
    // paths clients send.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let twilio = path.starts_with("/2010-04-01");
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

    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id.as_str()) {
        headers.insert(HeaderName::from_static("twilio-request-id"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{:.3}", elapsed.as_secs_f64())) {
        headers.insert(HeaderName::from_static("twilio-request-duration"), v);
    }
    headers.insert(
        HeaderName::from_static("twilio-concurrent-requests"),
        HeaderValue::from(concurrent),
    );
    for (name, value) in TWILIO_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }

    if twilio {
        let account_sid = path
            .strip_prefix("/2010-04-01/Accounts/")
            .and_then(|rest| rest.split('/').next())
            .map(|a| a.split('.').next().unwrap_or(a).to_string());
        app.journal.push(Recorded {
            request_id: request_id.clone(),
            at_ms: crate::wire::now_millis(),
            method: method.clone(),
            path,
            query,
            body,
            status,
            account_sid,
            duration_ms: elapsed.as_secs_f64() * 1000.0,
        });
    }
    app.metrics
        .request(method.as_str(), &route, status, elapsed.as_secs_f64());
    tracing::info!(
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        request_id = %request_id,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_is_bounded() {
        let j = Journal::new(2);
        let mut ids = Vec::new();
        for _ in 0..5 {
            let request_id = RequestSid::generate();
            ids.push(request_id.to_string());
            j.push(Recorded {
                request_id,
                at_ms: 0,
                method: axum::http::Method::GET,
                path: "/".into(),
                query: "A=1".into(),
                body: None,
                status: 200,
                account_sid: None,
                duration_ms: 0.0,
            });
        }
        let recent = j.recent(None, 10);
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].request_id, ids[4]);
        assert_eq!(recent[0].query.get("A").map(String::as_str), Some("1"));
    }
}
