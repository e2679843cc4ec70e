//! The simulated verification call behind a validation request, and the StatusCallback it
//! ends with. Every state and timer lives in SQLite: the call scheduler and the callback sender
//! only ever act on what the database says is due, so a restart resumes both where they were.

pub mod machine;
pub mod sender;
pub mod signature;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

pub use machine::{Behavior, Timing};

use crate::metrics::Metrics;
use crate::store::{Applied, Call, CallUpdate, NewCallback, Store};
use crate::wire;

/// The most due calls moved on in one transaction: enough to share a commit among many calls,
/// few enough that requests waiting for the writer are not held up for long.
const CALLS_PER_TRANSACTION: usize = 32;

/// The number verification calls come from.
pub const VERIFICATION_CALLER: &str = "+14157234000";

/// How callbacks are delivered.
#[derive(Clone, Debug)]
pub struct CallbackPolicy {
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Attempts in all, at least 1 (Twilio makes one).
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each one after.
    pub retry_delay: Duration,
}

/// The callback request a call that has ended makes, if it has a StatusCallback: the standard
/// voice status parameters plus `VerificationStatus` and, on success, `OutgoingCallerIdSid`.
pub fn status_callback(call: &Call) -> Option<NewCallback> {
    let url = call.status_callback.clone()?;
    let verification = call.verification_status.as_deref().unwrap_or("failed");
    let mut params: Vec<(String, String)> = [
        ("AccountSid", call.account_sid.as_str()),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", call.sid.as_str()),
        ("CallStatus", call.status.as_str()),
        ("Called", call.to_number.as_str()),
        ("Caller", VERIFICATION_CALLER),
        ("Direction", "outbound-api"),
        ("From", VERIFICATION_CALLER),
        ("To", call.to_number.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    params.push((
        "CallDuration".into(),
        call.duration.unwrap_or(0).to_string(),
    ));
    params.push(("VerificationStatus".into(), verification.to_string()));
    if verification == "success" {
        if let Some(sid) = &call.outgoing_caller_id_sid {
            params.push(("OutgoingCallerIdSid".into(), sid.clone()));
        }
    }
    Some(NewCallback {
        url,
        method: call.status_callback_method.clone(),
        params,
    })
}

/// The verification engine: the clock-driven call scheduler and the callback sender.
pub struct Engine {
    pub timing: Timing,
    pub policy: CallbackPolicy,
    /// The HTTP client callbacks are sent with (see [`sender::client`]).
    pub client: reqwest::Client,
    calls_due: Notify,
    callbacks_due: Notify,
}

impl Engine {
    /// Fails if the callback client cannot be built (its timeout and no-redirect policy are
    /// not optional).
    pub fn new(timing: Timing, policy: CallbackPolicy) -> Result<Engine, reqwest::Error> {
        let client = sender::client(policy.timeout)?;
        Ok(Engine {
            timing,
            policy,
            client,
            calls_due: Notify::new(),
            callbacks_due: Notify::new(),
        })
    }

    /// Something about the calls changed: look at them again now.
    pub fn wake_calls(&self) {
        self.calls_due.notify_one();
    }

    /// A callback was queued: look at the queue again now.
    pub fn wake_callbacks(&self) {
        self.callbacks_due.notify_one();
    }

    /// Runs the call scheduler until `shutdown` turns true.
    pub async fn run_calls(
        self: Arc<Self>,
        store: Store,
        metrics: Arc<Metrics>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let now = wire::now_millis();
            let mut healthy = true;
            match store.due_calls(now, 256).await {
                Ok(due) => {
                    for batch in due.chunks(CALLS_PER_TRANSACTION) {
                        healthy &= self.advance(&store, &metrics, batch).await;
                    }
                }
                Err(e) => {
                    healthy = false;
                    tracing::warn!(error = %e, "could not read due calls");
                }
            }
            let wait = match store.next_call_due().await {
                // After a database error, back off rather than spin on the same call.
                Ok(_) | Err(_) if !healthy => 250,
                Ok(Some(at)) => (at - wire::now_millis()).clamp(0, 1_000),
                Ok(None) => 1_000,
                Err(_) => 250,
            };
            if wait == 0 {
                continue;
            }
            tokio::select! {
                _ = self.calls_due.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Takes every step of `calls` that is due, in one transaction; `false` when the
    /// database failed.
    async fn advance(&self, store: &Store, metrics: &Metrics, calls: &[Call]) -> bool {
        let now = wire::now_millis();
        let updates: Vec<CallUpdate<'_>> = calls
            .iter()
            .map(|call| {
                let behavior = Behavior::parse(&call.behavior).unwrap_or(Behavior::CorrectCode);
                let (steps, to) = machine::steps_due(call, behavior, &self.timing, now);
                CallUpdate {
                    from: call,
                    create_caller_id: steps.iter().any(|s| s.create_caller_id),
                    events: steps.into_iter().map(|s| (s.status, s.note)).collect(),
                    to,
                }
            })
            .collect();
        let ends: Vec<Option<String>> = updates
            .iter()
            .map(|u| u.to.next_action_at.is_none().then(|| u.to.status.clone()))
            .collect();
        match store
            .apply_call_updates(updates, status_callback, now)
            .await
        {
            Ok(applied) => {
                let mut ended_any = false;
                for ((call, end), applied) in calls.iter().zip(ends).zip(applied) {
                    if applied == Applied::Stale {
                        continue;
                    }
                    tracing::debug!(call_sid = %call.sid, "call moved on");
                    if let Some(status) = end {
                        metrics.call_ended(&status);
                        ended_any = true;
                    }
                }
                if ended_any {
                    self.wake_callbacks();
                }
                true
            }
            Err(e) => {
                tracing::warn!(calls = calls.len(), error = %e, "could not move calls on");
                false
            }
        }
    }
}
