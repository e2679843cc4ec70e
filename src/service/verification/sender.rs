//! Delivers queued StatusCallback requests. The callbacks taken at once are delivered by
//! receiver, a task per receiver and batch ([`super::batch`]), bounded in number, so a
//! receiver that is slow or down never holds up the API or other callbacks; each attempt is
//! recorded by the [`Recorder`] with the others finished meanwhile. On shutdown the sender
//! waits for the deliveries in flight and their records, so that each is recorded before the
//! database closes and none is sent again after a restart.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::header::{HeaderMap, HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_TYPE, USER_AGENT};
use hyper::Method;
use reqwest::Url;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::batch::{by_receiver, deliver_batch, Prepared, Urls};
use super::client::Outcome;
use super::recorder::{Finished, Recorder};
use super::signature::sign;
use crate::domain::callback::{
    Attempted, Callback, CallbackAttempt, CallbackMethod, CallbackParams, CallbackState,
};
use crate::domain::time::now_millis;
use crate::service::Service;

/// Deliveries in flight at once.
pub(super) const MAX_IN_FLIGHT: usize = 64;

/// On a shared store, how often the sender reads when the next callback is due even when
/// nothing here queued one: another replica may have queued it and died, or a lease ended.
const SHARED_POLL: Duration = Duration::from_secs(1);

/// The least time between two takes of callbacks: while they keep coming, each take gathers
/// a couple of milliseconds' worth, sent as one batch per receiver (one task and one first
/// connection each) instead of one at a time. A callback that comes alone is taken at once.
const GATHER: Duration = Duration::from_millis(2);

impl Service {
    /// Runs the callback sender until `shutdown` turns true, then waits for the deliveries in
    /// flight (at most one attempt's timeout and a second) before returning.
    pub async fn run_callbacks(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        run(self, shutdown).await;
    }
}

async fn run(service: Arc<Service>, mut shutdown: watch::Receiver<bool>) {
    let (recorder, recording) = Recorder::start(service.clone());
    let mut in_flight = JoinSet::new();
    // Callbacks taken and not yet settled, in the batches of `in_flight`.
    let busy = Arc::new(AtomicUsize::new(0));
    let mut urls = Urls::default();
    // When the store's next callback is due, as last read: claiming is a write, made only when
    // one is due; the time is read again after a claim and whenever one was queued meanwhile.
    let mut due_at = Some(0);
    let shared = service.store.is_shared();
    let mut read_at = Instant::now();
    let mut taken_at = Instant::now() - GATHER;
    loop {
        if *shutdown.borrow() {
            break;
        }
        while in_flight.try_join_next().is_some() {}
        let since = taken_at.elapsed();
        if since < GATHER {
            tokio::select! {
                _ = tokio::time::sleep(GATHER - since) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        // First what was handed over already claimed, then what the store has due.
        let handed = service
            .handoff
            .take(MAX_IN_FLIGHT.saturating_sub(busy.load(Ordering::Acquire)));
        let free = MAX_IN_FLIGHT.saturating_sub(busy.load(Ordering::Acquire) + handed.len()) as i64;
        // While every slot is busy, nothing could be claimed: the due time is read once one
        // frees up (the flag stays set until then), not on every wake-up.
        if free > 0
            && (service.handoff.take_queued() || (shared && read_at.elapsed() >= SHARED_POLL))
        {
            due_at = next_due(&service).await;
            read_at = Instant::now();
        }
        let now = now_millis();
        let claimed = if free > 0 && due_at.is_some_and(|at| at <= now) {
            let claimed = match service.store.claim_due_callbacks(now, free).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim due callbacks");
                    Vec::new()
                }
            };
            due_at = next_due(&service).await;
            read_at = Instant::now();
            claimed
        } else {
            Vec::new()
        };
        let taken: Vec<Callback> = handed.into_iter().chain(claimed).collect();
        if !taken.is_empty() {
            taken_at = Instant::now();
        }
        for batch in by_receiver(&mut urls, taken) {
            busy.fetch_add(batch.len(), Ordering::AcqRel);
            let (service, recorder, busy) = (service.clone(), recorder.clone(), busy.clone());
            in_flight.spawn(deliver_batch(service, recorder, busy, batch));
        }
        // With every slot busy, a settled callback wakes the loop: nothing to time until then.
        let full = busy.load(Ordering::Acquire) >= MAX_IN_FLIGHT;
        let wait = match due_at {
            Some(at) if !full => (at - now_millis()).clamp(1, 1_000),
            _ => 1_000,
        };
        tokio::select! {
            // A callback was handed over or queued, or a delivery ended: a slot is free (and
            // a retry may be due).
            _ = service.callbacks_due.notified() => {}
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            _ = shutdown.changed() => {}
        }
    }
    if !in_flight.is_empty() {
        drain(&service, &mut in_flight).await;
    }
    // Every delivery has handed over its attempt, or was cut short: record what was handed.
    drop(recorder);
    let _ = recording.await;
}

/// When the store's next callback is due (on a shared store, or the soonest lease runs out);
/// after a failed read, shortly (so that it is tried).
async fn next_due(service: &Service) -> Option<i64> {
    let read = async {
        let due = service.store.next_callback_due().await?;
        if !service.store.is_shared() {
            return Ok(due);
        }
        let lease_end = service.store.next_lease_end().await?;
        Ok::<_, crate::store::StoreError>(due.into_iter().chain(lease_end).min())
    };
    match read.await {
        Ok(at) => at,
        Err(e) => {
            tracing::warn!(error = %e, "could not read when the next callback is due");
            Some(now_millis().saturating_add(250))
        }
    }
}

/// Waits for the deliveries in flight, at most one attempt's timeout and a second.
async fn drain(service: &Service, in_flight: &mut JoinSet<()>) {
    let grace = service.policy.timeout + Duration::from_secs(1);
    tracing::info!(
        deliveries = in_flight.len(),
        "waiting for status callbacks in flight"
    );
    let drained = tokio::time::timeout(grace, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            deliveries = in_flight.len(),
            "status callbacks still in flight at shutdown; they will be sent again on restart"
        );
        in_flight.shutdown().await;
    }
}

/// The URL a callback's attempts request, before any GET parameters: the stored URL without
/// user info or fragment.
pub(super) fn base_url(stored: &str) -> Option<Url> {
    let mut url = Url::parse(stored).ok()?;
    // Never send credentials, and keep reqwest from turning user info into Authorization.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    Some(url)
}

/// The URL an attempt requests: `base` and, for GET, the parameters appended to any query it
/// has. The signature is computed over exactly this text, the one sent.
fn request_url(base: Url, is_get: bool, params: &CallbackParams) -> Url {
    let mut url = base;
    if is_get && !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params.pairs());
    }
    url
}

/// The outcome of one attempt: the state it leaves the callback in, and when to try again.
fn settle(service: &Service, attempt_number: i64, delivered: bool) -> (CallbackState, Option<i64>) {
    if delivered {
        (CallbackState::Delivered, None)
    } else if attempt_number < i64::from(service.policy.attempts.max(1)) {
        let backoff = service.policy.retry_delay * (1_u32 << (attempt_number - 1).clamp(0, 20));
        (CallbackState::Pending, Some(crate::service::after(backoff)))
    } else {
        (CallbackState::Failed, None)
    }
}

/// Hands `attempt` to the recorder, leaving the callback `state`.
async fn record(
    recorder: &Recorder,
    callback: &Callback,
    attempt: CallbackAttempt,
    state: CallbackState,
    next_attempt_at: Option<i64>,
) {
    recorder
        .record(Finished {
            account_sid: callback.account_sid.clone(),
            call_sid: callback.call_sid.clone(),
            attempted: Attempted {
                attempt,
                state,
                next_attempt_at,
            },
        })
        .await;
}

/// Makes one attempt of `callback` and hands it to the recorder. Returns the error when the
/// receiver could not be connected to (refused, or its name did not resolve).
pub(super) async fn deliver(
    service: &Service,
    recorder: &Recorder,
    (callback, base): Prepared,
) -> Option<String> {
    let params = &callback.params;
    let is_get = callback.method == CallbackMethod::Get;
    let token = token(service, &callback).await?;
    let Some(base) = base else {
        // Cannot happen for a URL the API accepted; settle it rather than leave it claimed.
        let attempt = CallbackAttempt {
            callback_id: callback.id,
            attempt: callback.attempts + 1,
            at: now_millis(),
            url: callback.url.clone(),
            signature: String::new(),
            status_code: None,
            latency_ms: 0,
            error: Some("the StatusCallback is not a valid URL".to_string()),
        };
        record(recorder, &callback, attempt, CallbackState::Failed, None).await;
        return None;
    };
    let url = request_url(base, is_get, params);
    let signed: Vec<_> = params.pairs().filter(|_| !is_get).collect();
    let signature = sign(&token, url.as_str(), &signed);

    let mut headers = HeaderMap::new();
    headers.insert(USER_AGENT, HeaderValue::from_static("TwilioProxy/1.1"));
    headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=259200"));
    if let Ok(v) = HeaderValue::from_str(&signature) {
        headers.insert("X-Twilio-Signature", v);
    }
    if let Ok(v) = HeaderValue::from_str(&callback.idempotency_token) {
        headers.insert("I-Twilio-Idempotency-Token", v);
    }
    let (method, body) = if is_get {
        (Method::GET, None)
    } else {
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        (Method::POST, Some(params.body().to_owned()))
    };

    let started = Instant::now();
    let at = now_millis();
    let outcome = service.client.send(method, &url, headers, body).await;
    let latency_ms = started.elapsed().as_millis() as i64;
    let mut unreachable = None;
    let (status_code, error) = match outcome {
        Outcome::Answered(status) => {
            let error = !(200..300).contains(&status);
            (
                Some(i64::from(status)),
                error.then(|| format!("HTTP {status}")),
            )
        }
        Outcome::Failed { refused, error } => {
            if refused {
                unreachable = Some(error.clone());
            }
            (None, Some(error))
        }
    };
    let attempt_number = callback.attempts + 1;
    let (state, next_attempt_at) = settle(service, attempt_number, error.is_none());
    let attempt = CallbackAttempt {
        callback_id: callback.id,
        attempt: attempt_number,
        at,
        url: url.into(),
        signature,
        status_code,
        latency_ms,
        error,
    };
    tracing::info!(
        call_sid = %callback.call_sid,
        attempt = attempt_number,
        status = ?attempt.status_code,
        latency_ms,
        state = state.as_str(),
        "status callback attempt"
    );
    record(recorder, &callback, attempt, state, next_attempt_at).await;
    unreachable
}

/// Settles an attempt of `callback` made together with one whose connection to the same
/// receiver failed with `error` a moment ago: the attempt is recorded with that outcome and
/// the receiver is not dialled again for it.
pub(super) async fn settle_unsent(
    service: &Service,
    recorder: &Recorder,
    (callback, base): Prepared,
    error: &str,
) {
    if token(service, &callback).await.is_none() {
        return;
    }
    let attempt_number = callback.attempts + 1;
    let (state, next_attempt_at) = settle(service, attempt_number, false);
    let attempt = CallbackAttempt {
        callback_id: callback.id,
        attempt: attempt_number,
        at: now_millis(),
        url: base.map_or_else(String::new, |base| {
            request_url(
                base,
                callback.method == CallbackMethod::Get,
                &callback.params,
            )
            .into()
        }),
        // Nothing was sent, so nothing was signed.
        signature: String::new(),
        status_code: None,
        latency_ms: 0,
        error: Some(format!(
            "{error} (not dialled again for this callback: it was due with one whose \
             connection to the same receiver failed)"
        )),
    };
    record(recorder, &callback, attempt, state, next_attempt_at).await;
}

/// The account's auth token, from the credential cache; `None` when the account is gone (and
/// its callbacks with it) or could not be read (the callback is then queued again).
async fn token(service: &Service, callback: &Callback) -> Option<String> {
    match service
        .store
        .credential(callback.account_sid.as_str())
        .await
    {
        Ok(Some(credential)) => Some(credential.secret.clone()),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the callback's account");
            let retry_at = crate::service::after(service.policy.retry_delay);
            if let Err(e) = service.store.requeue_callback(callback.id, retry_at).await {
                tracing::warn!(error = %e, "could not requeue a callback");
            }
            service.wake_callbacks();
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_sent_has_no_credentials_or_fragment_and_get_params_follow_the_query() {
        let params = CallbackParams::from_pairs([("CallSid", "CA1"), ("To", "+1 415")]);
        let base = |s: &str| base_url(s).expect("url");
        let get = request_url(base("http://u:p@host:81?x=a b#frag"), true, &params);
        assert_eq!(
            get.as_str(),
            "http://host:81/?x=a%20b&CallSid=CA1&To=%2B1+415"
        );
        let post = request_url(base("http://u@host/cb#frag"), false, &params);
        assert_eq!(post.as_str(), "http://host/cb");
        assert!(base_url("not a url").is_none());
    }
}
