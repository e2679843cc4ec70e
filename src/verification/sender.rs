//! Delivers queued StatusCallback requests. Each delivery runs in its own task, bounded in
//! number, so a receiver that is slow or down never holds up the API or other callbacks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, USER_AGENT};
use tokio::sync::{watch, Semaphore};

use super::signature::sign;
use super::Engine;
use crate::metrics::Metrics;
use crate::store::{Callback, CallbackAttempt, Store};
use crate::wire::{self, form::encode};

/// Deliveries in flight at once.
const MAX_IN_FLIGHT: usize = 64;

/// The HTTP client callbacks are sent with: no redirects followed, as Twilio.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .unwrap_or_default()
}

fn form_encode(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Runs the callback sender until `shutdown` turns true.
pub async fn run(
    engine: Arc<Engine>,
    store: Store,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = client(engine.policy.timeout);
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let lease_ms = engine.policy.timeout.as_millis() as i64 + 5_000;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let free = permits.available_permits() as i64;
        if free > 0 {
            let now = wire::now_millis();
            match store.claim_due_callbacks(now, now + lease_ms, free).await {
                Ok(claimed) => {
                    for callback in claimed {
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            return;
                        };
                        let (engine, store, metrics, client) = (
                            engine.clone(),
                            store.clone(),
                            metrics.clone(),
                            client.clone(),
                        );
                        tokio::spawn(async move {
                            deliver(&engine, &store, &metrics, &client, callback).await;
                            drop(permit);
                            engine.wake_callbacks();
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not claim due callbacks"),
            }
        }
        let wait = match store.next_callback_due().await {
            Ok(Some(at)) => (at - wire::now_millis()).clamp(1, 1_000),
            Ok(None) => 1_000,
            Err(_) => 250,
        };
        tokio::select! {
            _ = engine.callbacks_due.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn deliver(
    engine: &Engine,
    store: &Store,
    metrics: &Metrics,
    client: &reqwest::Client,
    callback: Callback,
) {
    let params: Vec<(String, String)> = serde_json::from_str(&callback.params).unwrap_or_default();
    let token = match store.account(&callback.account_sid).await {
        Ok(Some(account)) => account.auth_token,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the callback's account");
            return;
        }
    };
    let is_get = callback.method.eq_ignore_ascii_case("GET");
    let (url, signed): (String, &[(String, String)]) = if is_get {
        let sep = if callback.url.contains('?') { '&' } else { '?' };
        (
            format!("{}{sep}{}", callback.url, form_encode(&params)),
            &[],
        )
    } else {
        (callback.url.clone(), &params)
    };
    let signature = sign(&token, &url, signed);

    let mut headers = HeaderMap::new();
    headers.insert(USER_AGENT, HeaderValue::from_static("TwilioProxy/1.1"));
    headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static("*/*"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=259200"));
    if let Ok(v) = HeaderValue::from_str(&signature) {
        headers.insert("X-Twilio-Signature", v);
    }
    if let Ok(v) = HeaderValue::from_str(&callback.idempotency_token) {
        headers.insert("I-Twilio-Idempotency-Token", v);
    }
    let request = if is_get {
        client.get(&url).headers(headers)
    } else {
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        client
            .post(&url)
            .headers(headers)
            .body(form_encode(&params))
    };

    let started = Instant::now();
    let at = wire::now_millis();
    let outcome = request.send().await;
    let latency_ms = started.elapsed().as_millis() as i64;
    let (status_code, error) = match outcome {
        Ok(response) => {
            let status = response.status();
            // Read the body so the connection can be reused; its content does not matter.
            let _ = response.bytes().await;
            let error = (!status.is_success()).then(|| format!("HTTP {}", status.as_u16()));
            (Some(i64::from(status.as_u16())), error)
        }
        Err(e) => {
            let why = if e.is_timeout() {
                format!("timed out after {} ms", engine.policy.timeout.as_millis())
            } else if e.is_connect() {
                "could not connect".to_string()
            } else {
                "request failed".to_string()
            };
            (None, Some(format!("{why}: {e}")))
        }
    };
    let attempt_number = callback.attempts + 1;
    let delivered = error.is_none();
    let (state, next_attempt_at) = if delivered {
        ("delivered", None)
    } else if attempt_number < i64::from(engine.policy.attempts.max(1)) {
        let backoff = engine.policy.retry_delay.as_millis() as i64
            * (1_i64 << (attempt_number - 1).clamp(0, 20));
        ("pending", Some(wire::now_millis() + backoff))
    } else {
        ("failed", None)
    };
    let attempt = CallbackAttempt {
        callback_id: callback.id,
        attempt: attempt_number,
        at,
        url,
        signature,
        status_code,
        latency_ms,
        error,
    };
    if let Err(e) = store.record_attempt(&attempt, state, next_attempt_at).await {
        tracing::warn!(error = %e, "could not record a callback attempt");
    }
    metrics.callback_attempted(delivered);
    tracing::info!(
        call_sid = %callback.call_sid,
        attempt = attempt_number,
        status = ?attempt.status_code,
        latency_ms,
        state,
        "status callback attempt"
    );
}
