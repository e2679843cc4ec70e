//! The StatusCallback a verification call ends with: what it carries, and its delivery.

use super::call::{Call, CallStatus, VerificationStatus, VERIFICATION_CALLER};
use super::sid::{AccountSid, CallSid};

/// How a StatusCallback is requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackMethod {
    Get,
    Post,
}

impl CallbackMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackMethod::Get => "GET",
            CallbackMethod::Post => "POST",
        }
    }

    /// `GET` or `POST`, in any case.
    pub fn parse(s: &str) -> Option<CallbackMethod> {
        if s.eq_ignore_ascii_case("GET") {
            Some(CallbackMethod::Get)
        } else if s.eq_ignore_ascii_case("POST") {
            Some(CallbackMethod::Post)
        } else {
            None
        }
    }
}

/// Where a queued callback stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackState {
    /// Waiting for its (next) attempt.
    Pending,
    /// Claimed by the sender; an attempt is under way.
    Sending,
    Delivered,
    /// Every attempt failed.
    Failed,
}

impl CallbackState {
    pub const ALL: [CallbackState; 4] = [
        CallbackState::Pending,
        CallbackState::Sending,
        CallbackState::Delivered,
        CallbackState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Pending => "pending",
            CallbackState::Sending => "sending",
            CallbackState::Delivered => "delivered",
            CallbackState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<CallbackState> {
        CallbackState::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A StatusCallback request to queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCallback {
    pub url: String,
    pub method: CallbackMethod,
    pub params: Vec<(String, String)>,
}

impl NewCallback {
    /// The callback request a call that has ended makes, if it has a StatusCallback: the
    /// standard voice status parameters plus `VerificationStatus` and, on success,
    /// `OutgoingCallerIdSid`.
    pub fn of_ended(call: &Call) -> Option<NewCallback> {
        let url = call.status_callback.clone()?;
        let verification = call
            .verification_status
            .unwrap_or(VerificationStatus::Failed);
        let status = call.status.as_str();
        let mut params: Vec<(String, String)> = [
            ("AccountSid", call.account_sid.as_str()),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", call.sid.as_str()),
            ("CallStatus", status),
            ("Called", call.to.as_str()),
            ("Caller", VERIFICATION_CALLER),
            ("Direction", "outbound-api"),
            ("From", VERIFICATION_CALLER),
            ("To", call.to.as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        params.push((
            "CallDuration".into(),
            call.duration.unwrap_or(0).to_string(),
        ));
        params.push(("VerificationStatus".into(), verification.as_str().into()));
        if verification == VerificationStatus::Success {
            if let Some(sid) = &call.outgoing_caller_id_sid {
                params.push(("OutgoingCallerIdSid".into(), sid.to_string()));
            }
        }
        debug_assert!(call.status != CallStatus::Queued);
        Some(NewCallback {
            url,
            method: call.status_callback_method,
            params,
        })
    }
}

/// A queued callback.
#[derive(Clone, Debug)]
pub struct Callback {
    pub id: i64,
    pub account_sid: AccountSid,
    pub call_sid: CallSid,
    pub url: String,
    pub method: CallbackMethod,
    pub params: Vec<(String, String)>,
    /// Sent as `I-Twilio-Idempotency-Token`, the same on every attempt and after a restart.
    pub idempotency_token: String,
    pub state: CallbackState,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
}

/// One delivery attempt of a callback.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CallbackAttempt {
    pub callback_id: i64,
    pub attempt: i64,
    pub at: i64,
    pub url: String,
    pub signature: String,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// Callbacks by where they stand, for the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallbackCounts {
    pub delivered: i64,
    pub failed: i64,
    /// `pending` or `sending`.
    pub unsettled: i64,
}
