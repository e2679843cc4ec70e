//! Limits and headers: the request's header size, Twilio's response headers with the request
//! id, its duration and the requests in flight.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::domain::sid::RequestSid;

static IN_FLIGHT: AtomicI64 = AtomicI64::new(0);

/// One request in flight, counted while it lives.
pub(super) struct InFlight;

impl InFlight {
    pub fn enter() -> (InFlight, i64) {
        (InFlight, IN_FLIGHT.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The size of a request's headers, as counted against the limit.
pub(super) fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum()
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

/// Stamps Twilio's headers on a response.
pub(super) fn stamp(
    headers: &mut HeaderMap,
    request_id: &RequestSid,
    elapsed: Duration,
    concurrent: i64,
) {
    headers.reserve(3 + TWILIO_HEADERS.len());
    if let Ok(v) = HeaderValue::from_str(request_id.as_str()) {
        headers.insert(TWILIO_REQUEST_ID, v);
    }
    headers.insert(TWILIO_REQUEST_DURATION, duration_header(elapsed));
    headers.insert(TWILIO_CONCURRENT_REQUESTS, HeaderValue::from(concurrent));
    for (name, value) in TWILIO_HEADERS {
        headers.insert(name, value);
    }
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
}
