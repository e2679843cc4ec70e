//! Counters for `GET /metrics`, in Prometheus' text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0];

/// Requests answered with one method, route and status.
struct RequestCount {
    method: Box<str>,
    route: Box<str>,
    status: u16,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    /// Few entries (routes × methods × statuses seen), scanned without allocating.
    requests: Mutex<Vec<RequestCount>>,
    /// Requests by the first bucket whose bound their latency fits under; cumulated when
    /// rendered.
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    validation_requests: AtomicU64,
    calls_ended: Mutex<BTreeMap<String, u64>>,
    callbacks_delivered: AtomicU64,
    callbacks_failed: AtomicU64,
}

/// Gauges read from the database when scraped.
pub struct Gauges {
    pub pending_calls: i64,
    pub pending_callbacks: i64,
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut counts) = self.requests.lock() {
            match counts
                .iter_mut()
                .find(|c| c.status == status && *c.route == *route && *c.method == *method)
            {
                Some(c) => c.count += 1,
                None => counts.push(RequestCount {
                    method: method.into(),
                    route: route.into(),
                    status,
                    count: 1,
                }),
            }
        }
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn validation_requests_created(&self) {
        self.validation_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn call_ended(&self, status: &str) {
        if let Ok(mut map) = self.calls_ended.lock() {
            *map.entry(status.to_string()).or_default() += 1;
        }
    }

    pub fn callback_attempted(&self, delivered: bool) {
        if delivered {
            self.callbacks_delivered.fetch_add(1, Ordering::Relaxed);
        } else {
            self.callbacks_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP callerid_http_requests_total HTTP requests answered, by method, route and status.\n");
        out.push_str("# TYPE callerid_http_requests_total counter\n");
        let mut counts: Vec<(&str, &str, u16, u64)> = Vec::new();
        let requests = self.requests.lock();
        if let Ok(requests) = &requests {
            counts.extend(
                requests
                    .iter()
                    .map(|c| (&*c.method, &*c.route, c.status, c.count)),
            );
        }
        counts.sort_unstable();
        for (method, route, status, n) in counts {
            let _ = writeln!(
                out,
                "callerid_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        drop(requests);
        out.push_str("# HELP callerid_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE callerid_http_request_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.latency_buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "callerid_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "callerid_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "callerid_http_request_duration_seconds_sum {}",
            self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "callerid_http_request_duration_seconds_count {count}");
        out.push_str("# HELP callerid_validation_requests_total Validation requests accepted.\n");
        out.push_str("# TYPE callerid_validation_requests_total counter\n");
        let _ = writeln!(
            out,
            "callerid_validation_requests_total {}",
            self.validation_requests.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP callerid_calls_ended_total Verification calls ended, by final status.\n",
        );
        out.push_str("# TYPE callerid_calls_ended_total counter\n");
        if let Ok(map) = self.calls_ended.lock() {
            for (status, n) in map.iter() {
                let _ = writeln!(out, "callerid_calls_ended_total{{status=\"{status}\"}} {n}");
            }
        }
        out.push_str(
            "# HELP callerid_callback_attempts_total StatusCallback attempts, by outcome.\n",
        );
        out.push_str("# TYPE callerid_callback_attempts_total counter\n");
        let _ = writeln!(
            out,
            "callerid_callback_attempts_total{{outcome=\"delivered\"}} {}",
            self.callbacks_delivered.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "callerid_callback_attempts_total{{outcome=\"failed\"}} {}",
            self.callbacks_failed.load(Ordering::Relaxed)
        );
        out.push_str("# HELP callerid_pending_calls Verification calls not yet ended.\n");
        out.push_str("# TYPE callerid_pending_calls gauge\n");
        let _ = writeln!(out, "callerid_pending_calls {}", gauges.pending_calls);
        out.push_str(
            "# HELP callerid_pending_callbacks StatusCallbacks waiting to be delivered.\n",
        );
        out.push_str("# TYPE callerid_pending_callbacks gauge\n");
        let _ = writeln!(
            out,
            "callerid_pending_callbacks {}",
            gauges.pending_callbacks
        );
        out
    }
}
