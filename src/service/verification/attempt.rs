//! One attempt of a StatusCallback: signed, sent, and handed to the [`Recorder`] with the
//! state it leaves the callback in.

use std::time::Instant;

use hyper::Method;
use reqwest::Url;

use super::batch::Prepared;
use super::client::{Callout, Outcome};
use super::recorder::{Finished, Recorder};
use super::signature::sign_form;
use crate::domain::callback::{
    Attempted, Callback, CallbackAttempt, CallbackMethod, CallbackParams, CallbackState,
};
use crate::domain::time::now_millis;
use crate::service::Service;

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
    // For GET the parameters are in the URL already.
    let signature = sign_form(
        &token,
        url.as_str(),
        if is_get { "" } else { params.body() },
    );

    // What Twilio's requests carry; a POST's body is a form.
    let headers = [
        ("User-Agent", "TwilioProxy/1.1"),
        ("Accept", "*/*"),
        ("Cache-Control", "max-age=259200"),
        ("X-Twilio-Signature", signature.as_str()),
        (
            "I-Twilio-Idempotency-Token",
            callback.idempotency_token.as_str(),
        ),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let callout = if is_get {
        Callout {
            method: Method::GET,
            url: &url,
            headers: &headers[..5],
            body: None,
        }
    } else {
        Callout {
            method: Method::POST,
            url: &url,
            headers: &headers,
            body: Some(params.body()),
        }
    };

    let started = Instant::now();
    let at = now_millis();
    let outcome = service.client.send(callout).await;
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
    // A delivered attempt is logged at `debug` (the callback journal shows every attempt);
    // one that failed, at `info`.
    if attempt.error.is_some() {
        tracing::info!(
            call_sid = %callback.call_sid,
            attempt = attempt_number,
            status = ?attempt.status_code,
            latency_ms,
            state = state.as_str(),
            error = attempt.error.as_deref().unwrap_or_default(),
            "status callback attempt failed"
        );
    } else {
        tracing::debug!(
            call_sid = %callback.call_sid,
            attempt = attempt_number,
            status = ?attempt.status_code,
            latency_ms,
            "status callback delivered"
        );
    }
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
    use crate::service::verification::sender::base_url;

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
