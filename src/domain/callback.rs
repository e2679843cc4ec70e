//! The StatusCallback a verification call ends with: what it carries, and its delivery.

pub use super::params::CallbackParams;
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
    pub params: CallbackParams,
}

/// A queued callback.
#[derive(Clone, Debug)]
pub struct Callback {
    pub id: i64,
    pub account_sid: AccountSid,
    pub call_sid: CallSid,
    pub url: String,
    pub method: CallbackMethod,
    pub params: CallbackParams,
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

/// An attempt, with the state it leaves its callback in and when the next one is due.
#[derive(Clone, Debug)]
pub struct Attempted {
    pub attempt: CallbackAttempt,
    pub state: CallbackState,
    pub next_attempt_at: Option<i64>,
}

/// Callbacks by where they stand, for the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallbackCounts {
    pub delivered: i64,
    pub failed: i64,
    /// `pending` or `sending`.
    pub unsettled: i64,
}
