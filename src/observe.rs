//! The middleware every request passes: request id and Twilio's response headers, body and
//! header limits, the request timeout, the request journal, one log line and the metrics.

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;
use crate::wire::sid::{random_bytes, RequestSid};
use crate::wire::{Format, Params};
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
    target: Target,
    body: Option<Bytes>,
    status: u16,
    duration_ms: f64,
}

/// A request's path and query, copied into one string.
struct Target {
    /// The path, then `?` and the query string when the request had one.
    text: String,
    path_len: usize,
    /// Where the account SID named by the path sits in `text`.
    account: Option<Range<usize>>,
}

impl Target {
    fn of(path: &str, query: Option<&str>) -> Target {
        let mut text = String::with_capacity(path.len() + query.map_or(0, |q| q.len() + 1));
        text.push_str(path);
        if let Some(query) = query {
            text.push('?');
            text.push_str(query);
        }
        const ACCOUNTS: &str = "/2010-04-01/Accounts/";
        let account = path.strip_prefix(ACCOUNTS).map(|rest| {
            let segment = rest.split('/').next().unwrap_or(rest);
            let sid = segment.split('.').next().unwrap_or(segment);
            ACCOUNTS.len()..ACCOUNTS.len() + sid.len()
        });
        Target {
            text,
            path_len: path.len(),
            account,
        }
    }
}

impl Recorded {
    fn path(&self) -> &str {
        &self.target.text[..self.target.path_len]
    }

    fn query(&self) -> &str {
        self.target
            .text
            .get(self.target.path_len + 1..)
            .unwrap_or("")
    }

    fn account_sid(&self) -> Option<&str> {
        let range = self.target.account.clone()?;
        Some(&self.target.text[range])
    }

    fn entry(&self) -> JournalEntry {
        JournalEntry {
            request_id: self.request_id.to_string(),
            at: chrono::DateTime::from_timestamp_millis(self.at_ms)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            method: self.method.to_string(),
            path: self.path().to_string(),
            query: params_map(self.query().as_bytes()),
            params: self.body.as_deref().map(params_map).unwrap_or_default(),
            status: self.status,
            account_sid: self.account_sid().map(str::to_string),
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
            .filter(|e| account.is_none_or(|a| e.account_sid() == Some(a)))
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

const TWILIO_REQUEST_ID: HeaderName = HeaderName::from_static("twilio-request-id");
const TWILIO_REQUEST_DURATION: HeaderName = HeaderName::from_static("twilio-request-duration");
const TWILIO_CONCURRENT_REQUESTS: HeaderName =
    HeaderName::from_static("twilio-concurrent-requests");

const TWILIO_HEADERS: [(HeaderName, HeaderValue); 9] = [
    (
        HeaderName::from_static("access-control-allow-origin"),
        HeaderValue::from_static("*"),
    ),
    (
        HeaderName::from_static("access-control-allow-headers"),
        HeaderValue::from_static(
            "Accept, Authorization, Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since, Idempotency-Key",
        ),
    ),
    (
        HeaderName::from_static("access-control-allow-methods"),
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    ),
    (
        HeaderName::from_static("access-control-expose-headers"),
        HeaderValue::from_static("ETag"),
    ),
    (
        HeaderName::from_static("access-control-allow-credentials"),
        HeaderValue::from_static("true"),
    ),
    (
        HeaderName::from_static("x-powered-by"),
        HeaderValue::from_static("AT-5000"),
    ),
    (
        HeaderName::from_static("x-shenanigans"),
        HeaderValue::from_static("none"),
    ),
    (
        HeaderName::from_static("x-home-region"),
        HeaderValue::from_static("us1"),
    ),
    (
        HeaderName::from_static("x-api-domain"),
        HeaderValue::from_static("api.twilio.com"),
    ),
];

static LAST_REQUEST: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// splitmix64 state, seeded once per thread from the operating system.
    static REQUEST_RNG: Cell<u64> = Cell::new(u64::from_le_bytes(random_bytes::<8>()));
}

/// A new `RQ…` SID in the format of every other SID: a strictly increasing
/// (milliseconds << 16 | counter) value, then 64 random bits from a per-thread generator, so no
/// request pays for a system call.
fn request_sid() -> RequestSid {
    let now = (crate::wire::now_millis().max(0) as u64) << 16;
    let mut prev = LAST_REQUEST.load(Ordering::Relaxed);
    let prefix = loop {
        let next = now.max(prev + 1);
        match LAST_REQUEST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break next,
            Err(actual) => prev = actual,
        }
    };
    let tail = REQUEST_RNG.with(|state| {
        let x = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(x);
        let z = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    });
    let mut sid = String::with_capacity(34);
    sid.push_str(RequestSid::PREFIX);
    for word in [prefix, tail] {
        for shift in (0..16).rev() {
            sid.push(char::from(HEX[(word >> (shift * 4)) as usize & 0xf]));
        }
    }
    RequestSid::from_trusted(sid)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `Twilio-Request-Duration`: seconds with three decimals.
fn duration_header(elapsed: Duration) -> HeaderValue {
    let millis = (elapsed.as_nanos() + 500_000) / 1_000_000;
    let mut buf = [0u8; 48];
    let mut at = buf.len();
    let mut n = millis;
    for i in 0.. {
        if i == 3 {
            at -= 1;
            buf[at] = b'.';
        }
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 && i >= 3 {
            break;
        }
    }
    HeaderValue::from_bytes(&buf[at..]).unwrap_or(HeaderValue::from_static("0.000"))
}

pub async fn observe(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (_guard, concurrent) = InFlight::enter();
    let request_id = request_sid();
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
    crate::error::render_pending(&mut response, format);

    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let headers = response.headers_mut();
    headers.reserve(3 + TWILIO_HEADERS.len());
    if let Ok(v) = HeaderValue::from_str(request_id.as_str()) {
        headers.insert(TWILIO_REQUEST_ID, v);
    }
    headers.insert(TWILIO_REQUEST_DURATION, duration_header(elapsed));
    headers.insert(TWILIO_CONCURRENT_REQUESTS, HeaderValue::from(concurrent));
    for (name, value) in TWILIO_HEADERS {
        headers.insert(name, value);
    }

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
        app.journal.push(Recorded {
            request_id,
            at_ms: crate::wire::now_millis(),
            method,
            target,
            body,
            status,
            duration_ms: elapsed.as_secs_f64() * 1000.0,
        });
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_header_has_three_decimals() {
        for (nanos, text) in [
            (0, "0.000"),
            (499_999, "0.000"),
            (12_000_000, "0.012"),
            (1_234_400_000, "1.234"),
            (61_000_500_000, "61.001"),
        ] {
            assert_eq!(duration_header(Duration::from_nanos(nanos)), text);
        }
    }

    #[test]
    fn request_sids_are_well_formed_and_increasing() {
        let sids: Vec<String> = (0..1000).map(|_| request_sid().to_string()).collect();
        for pair in sids.windows(2) {
            assert!(pair[0] < pair[1], "{pair:?}");
        }
        assert!(sids.iter().all(|s| s.len() == 34
            && s.starts_with("RQ")
            && s[2..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())));
    }

    #[test]
    fn journal_is_bounded() {
        let j = Journal::new(2);
        let mut ids = Vec::new();
        for _ in 0..5 {
            let request_id = request_sid();
            ids.push(request_id.to_string());
            j.push(Recorded {
                request_id,
                at_ms: 0,
                method: axum::http::Method::GET,
                target: Target::of("/", Some("A=1")),
                body: None,
                status: 200,
                duration_ms: 0.0,
            });
        }
        let recent = j.recent(None, 10);
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].request_id, ids[4]);
        assert_eq!(recent[0].query.get("A").map(String::as_str), Some("1"));
    }
}
