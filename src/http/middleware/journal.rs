//! The request journal: the most recent Twilio API requests, bounded in number, recorded on
//! the hot path as raw parts and parsed only when someone reads `GET /_emulator/requests`.
//! On a store shared by replicas (PostgreSQL) the journal lives in the database, so every
//! replica lists the same requests: recorded requests wait here, and [`Journal::run`] writes
//! them in batches (every [`FLUSH_EVERY`], or sooner once [`FLUSH_AT`] wait); a read first
//! writes what waits here, so a replica lists its own requests at once and another's within a
//! batch's delay.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{watch, Notify};

use super::faults::Applied;
use crate::domain::sid::RequestSid;
use crate::http::edge::Via;
use crate::http::form::Params;
use crate::http::render::rfc3339_millis;
use crate::service::events::Events;
use crate::service::{Service, ServiceError};
use crate::store::JournalledRequest;

/// How often requests waiting for a shared journal are written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// How many waiting requests make the writer write at once.
pub const FLUSH_AT: usize = 256;

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
    /// The `code` of the Twilio error body the request was answered with; `None` for a
    /// success and for a dropped request (which got no body).
    pub error_code: Option<u32>,
    pub account_sid: Option<String>,
    pub duration_ms: f64,
    /// The host the request named (its `Host` header): `api.twilio.com` when it came through
    /// the proxy or the TLS listener under that name.
    pub host: Option<String>,
    /// How it reached the emulator: `http`, `https` (the TLS listener) or `proxy`.
    pub via: Via,
    /// The fault rule applied to it (`{"id", "action"}`), if one was; a dropped request has
    /// `status` 0.
    pub fault: Option<Applied>,
}

/// A request as recorded on the hot path: raw parts only; parsing and formatting wait until
/// someone reads the journal.
pub(super) struct Recorded {
    pub request_id: RequestSid,
    pub at_ms: i64,
    pub method: axum::http::Method,
    pub target: Target,
    pub body: Option<Bytes>,
    pub status: u16,
    pub error_code: Option<u32>,
    pub duration_ms: f64,
    pub host: Option<axum::http::HeaderValue>,
    pub via: Via,
    pub fault: Option<Applied>,
}

/// A request's path and query, copied into one string.
pub(super) struct Target {
    /// The path, then `?` and the query string when the request had one.
    text: String,
    path_len: usize,
    /// Where the account SID named by the path sits in `text`.
    account: Option<Range<usize>>,
}

impl Target {
    pub fn of(path: &str, query: Option<&str>) -> Target {
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

impl Target {
    pub fn path(&self) -> &str {
        &self.text[..self.path_len]
    }

    fn query(&self) -> &str {
        self.text.get(self.path_len + 1..).unwrap_or("")
    }

    /// The account SID the path names, if it names one.
    pub fn account_sid(&self) -> Option<&str> {
        let range = self.account.clone()?;
        Some(&self.text[range])
    }
}

impl Recorded {
    fn entry(&self) -> JournalEntry {
        JournalEntry {
            request_id: self.request_id.to_string(),
            at: rfc3339_millis(self.at_ms),
            method: self.method.to_string(),
            path: self.target.path().to_string(),
            query: params_map(self.target.query().as_bytes()),
            params: self.body.as_deref().map(params_map).unwrap_or_default(),
            status: self.status,
            error_code: self.error_code,
            account_sid: self.target.account_sid().map(str::to_string),
            duration_ms: self.duration_ms,
            host: self
                .host
                .as_ref()
                .and_then(|h| h.to_str().ok())
                .map(str::to_string),
            via: self.via,
            fault: self.fault.clone(),
        }
    }
}

/// The requests held, oldest first, and the number of the newest: requests are numbered from
/// 1 in the order they are journalled, so the one at index `i` is number
/// `newest - len + 1 + i`.
#[derive(Default)]
struct Ring {
    entries: VecDeque<Recorded>,
    newest: u64,
}

impl std::ops::Deref for Ring {
    type Target = VecDeque<Recorded>;
    fn deref(&self) -> &VecDeque<Recorded> {
        &self.entries
    }
}

impl std::ops::DerefMut for Ring {
    fn deref_mut(&mut self) -> &mut VecDeque<Recorded> {
        &mut self.entries
    }
}

/// The most recent Twilio API requests, bounded in number.
pub struct Journal {
    capacity: usize,
    /// The journal itself; on a shared store, the requests not yet written to it.
    entries: Mutex<Ring>,
    /// Whether the journal lives in a store shared by replicas.
    shared: bool,
    /// Held while waiting requests are written, so that they are written in order.
    writing: tokio::sync::Mutex<()>,
    /// [`FLUSH_AT`] requests wait.
    full: Notify,
}

impl Journal {
    /// A journal of the newest `capacity` requests, in the store when it is `shared`.
    pub fn new(capacity: usize, shared: bool) -> Journal {
        Journal {
            capacity,
            entries: Mutex::new(Ring {
                entries: VecDeque::with_capacity(capacity.min(4096)),
                newest: 0,
            }),
            shared,
            writing: tokio::sync::Mutex::new(()),
            full: Notify::new(),
        }
    }

    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// Whether the change-event stream takes its `request.journalled` events from this
    /// journal ([`Journal::journalled_sse`]) rather than from an event per request: it does
    /// when the journal is this process's own and holds requests. A shared journal's requests
    /// must reach the other replicas' streams too, so they go out as events.
    pub fn feeds_events(&self) -> bool {
        !self.shared && self.capacity > 0
    }

    /// Journals `entry`; when the journal feeds the event stream, tells `events` its number.
    pub(super) fn push(&self, entry: Recorded, events: &Events) {
        if self.capacity == 0 {
            return;
        }
        let seq = if let Ok(mut ring) = self.entries.lock() {
            while ring.len() >= self.capacity {
                ring.pop_front();
            }
            ring.push_back(entry);
            ring.newest += 1;
            if self.shared && ring.len() == FLUSH_AT {
                self.full.notify_one();
            }
            ring.newest
        } else {
            return;
        };
        if self.feeds_events() {
            events.journal_advanced(seq);
        }
    }

    /// The `request.journalled` events of the requests numbered in `range` (after its start,
    /// up to its end) that a stream with `account` sees, each as SSE text with its number: the
    /// newest `limit`, oldest first, and how many others there were (requests no longer held
    /// are counted only without a filter, since their account is gone with them).
    pub fn journalled_sse(
        &self,
        range: &Range<u64>,
        account: Option<&str>,
        limit: usize,
    ) -> (u64, Vec<(u64, Vec<u8>)>) {
        let Ok(ring) = self.entries.lock() else {
            return (0, Vec::new());
        };
        let first = (ring.newest + 1).saturating_sub(ring.len() as u64);
        let from = (range.start + 1).max(first);
        let evicted = if account.is_none() {
            from.saturating_sub(range.start + 1)
        } else {
            0
        };
        if from > range.end {
            return (evicted, Vec::new());
        }
        let wanted: Vec<(u64, &Recorded)> = (from..=range.end)
            .zip(ring.range((from - first) as usize..=(range.end - first) as usize))
            .filter(|(_, r)| account.is_none_or(|a| r.target.account_sid() == Some(a)))
            .collect();
        let skipped = wanted.len().saturating_sub(limit);
        let shown = wanted[skipped..]
            .iter()
            .map(|(seq, r)| {
                let mut out = Vec::new();
                crate::http::control::write_journalled(
                    &mut out,
                    r.target.account_sid(),
                    r.request_id.as_str(),
                    r.method.as_str(),
                    r.target.path(),
                    r.status,
                    r.error_code,
                );
                (*seq, out)
            })
            .collect();
        (evicted + skipped as u64, shown)
    }

    /// Writes the waiting requests to the shared store, in batches, until `stop` turns true
    /// (then once more). Returns at once when the journal is not shared.
    pub async fn run(&self, service: &Service, mut stop: watch::Receiver<bool>) {
        if !self.shared {
            return;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(FLUSH_EVERY) => {}
                _ = self.full.notified() => {}
                _ = stop.changed() => {}
            }
            if let Err(e) = self.flush(service).await {
                tracing::warn!(error = %e, "could not write the request journal");
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// Writes the waiting requests to the shared store; they are dropped if that fails.
    pub async fn flush(&self, service: &Service) -> Result<(), ServiceError> {
        let _writing = self.writing.lock().await;
        let waiting: Vec<Recorded> = match self.entries.lock() {
            Ok(mut ring) => ring.drain(..).collect(),
            Err(_) => return Ok(()),
        };
        if waiting.is_empty() {
            return Ok(());
        }
        let rows: Vec<JournalledRequest> = waiting
            .iter()
            .map(|r| JournalledRequest {
                at: r.at_ms,
                account_sid: r.target.account_sid().map(str::to_string),
                entry: serde_json::to_string(&r.entry()).unwrap_or_default(),
            })
            .collect();
        service.journal_requests(&rows, self.capacity).await
    }

    /// Holds off writing to the shared store while the guard lives: a reset holds it, so that
    /// a batch taken before the reset is not written after it.
    pub async fn hold_writes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writing.lock().await
    }

    /// Newest first from the shared store, optionally for one account, at most `limit`, once
    /// this process's waiting requests are written: each as the JSON text stored.
    pub async fn shared_recent(
        &self,
        service: &Service,
        account: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Box<RawValue>>, ServiceError> {
        self.flush(service).await?;
        // The table may hold a batch beyond the capacity until the next write trims it.
        let texts = service
            .journalled_requests(account, limit.min(self.capacity))
            .await?;
        Ok(texts
            .into_iter()
            .filter_map(|t| RawValue::from_string(t).ok())
            .collect())
    }

    /// Newest first, optionally for one account, at most `limit`.
    pub fn recent(&self, account: Option<&str>, limit: usize) -> Vec<JournalEntry> {
        let Ok(entries) = self.entries.lock() else {
            return Vec::new();
        };
        entries
            .iter()
            .rev()
            .filter(|e| account.is_none_or(|a| e.target.account_sid() == Some(a)))
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

fn params_map(raw: &[u8]) -> BTreeMap<String, String> {
    Params::parse(raw)
        .map(|p| p.pairs().iter().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
