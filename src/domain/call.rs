//! The verification call behind a validation request: its states, its callee, its timeline.

use super::callback::{CallbackMethod, CallbackParams, NewCallback};
use super::caller_id::FriendlyName;
use super::phone::PhoneNumber;
use super::sid::{AccountSid, CallSid, CallerIdSid};

/// The number verification calls come from.
pub const VERIFICATION_CALLER: &str = "+14157234000";

/// A call's status, in Twilio's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    Queued,
    Ringing,
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    Canceled,
    Failed,
}

impl CallStatus {
    pub const ALL: [CallStatus; 8] = [
        CallStatus::Queued,
        CallStatus::Ringing,
        CallStatus::InProgress,
        CallStatus::Completed,
        CallStatus::Busy,
        CallStatus::NoAnswer,
        CallStatus::Canceled,
        CallStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Canceled => "canceled",
            CallStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<CallStatus> {
        CallStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// How a verification ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerificationStatus {
    Success,
    Failed,
}

impl VerificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationStatus::Success => "success",
            VerificationStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<VerificationStatus> {
        [VerificationStatus::Success, VerificationStatus::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// How the simulated callee answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behavior {
    /// Answers and keys the validation code.
    CorrectCode,
    /// Answers and keys a wrong code.
    WrongCode,
    /// Lets it ring until the call gives up.
    NoAnswer,
    /// The line is busy.
    Busy,
    /// Answers and waits for digits posted to `POST /_emulator/calls/{CallSid}/digits`.
    Manual,
}

/// Where a number's callee behaviour comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BehaviorSource {
    /// Set for the number on its account through the control API.
    Set,
    /// One of the magic numbers.
    Magic,
    /// Neither: the callee keys the right code.
    Default,
}

impl Behavior {
    pub const ALL: [Behavior; 5] = [
        Behavior::CorrectCode,
        Behavior::WrongCode,
        Behavior::NoAnswer,
        Behavior::Busy,
        Behavior::Manual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Behavior::CorrectCode => "correct-code",
            Behavior::WrongCode => "wrong-code",
            Behavior::NoAnswer => "no-answer",
            Behavior::Busy => "busy",
            Behavior::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Behavior> {
        Behavior::ALL.into_iter().find(|b| b.as_str() == s)
    }

    /// The magic numbers, on every account with no set-up. They sit in +1 500-555, the range
    /// Twilio keeps for its own test numbers, so no number a team really verifies is one.
    pub fn for_magic_number(phone: &PhoneNumber) -> Option<Behavior> {
        match phone.as_str() {
            "+15005550001" => Some(Behavior::CorrectCode),
            "+15005550002" => Some(Behavior::WrongCode),
            "+15005550003" => Some(Behavior::NoAnswer),
            "+15005550004" => Some(Behavior::Busy),
            "+15005550005" => Some(Behavior::Manual),
            _ => None,
        }
    }

    /// How the callee at `phone` answers: the behaviour set for it, else its magic number's,
    /// else the right code.
    pub fn resolve(set: Option<Behavior>, phone: &PhoneNumber) -> (Behavior, BehaviorSource) {
        if let Some(b) = set {
            return (b, BehaviorSource::Set);
        }
        match Behavior::for_magic_number(phone) {
            Some(b) => (b, BehaviorSource::Magic),
            None => (Behavior::CorrectCode, BehaviorSource::Default),
        }
    }
}

/// A validated validation request.
#[derive(Clone, Debug)]
pub struct ValidationRequest {
    pub phone: PhoneNumber,
    pub friendly_name: FriendlyName,
    /// Seconds, 0 to 60.
    pub call_delay: i64,
    pub extension: Option<String>,
    /// An absolute http(s) URL, normalized as it will be requested.
    pub status_callback: Option<String>,
    pub status_callback_method: CallbackMethod,
}

/// A verification call. Times are milliseconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub sid: CallSid,
    pub account_sid: AccountSid,
    pub to: PhoneNumber,
    pub friendly_name: FriendlyName,
    pub validation_code: String,
    pub extension: Option<String>,
    pub call_delay: i64,
    pub status_callback: Option<String>,
    pub status_callback_method: CallbackMethod,
    pub behavior: Behavior,
    pub status: CallStatus,
    pub verification_status: Option<VerificationStatus>,
    pub digits: Option<String>,
    /// When its next step is due; `None` once it has ended.
    pub next_action_at: Option<i64>,
    pub outgoing_caller_id_sid: Option<CallerIdSid>,
    pub date_created: i64,
    pub date_updated: i64,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    /// Seconds.
    pub duration: Option<i64>,
}

impl Call {
    /// The callback request this call makes once it has ended, if it has a StatusCallback:
    /// the standard voice status parameters plus `VerificationStatus` and, on success,
    /// `OutgoingCallerIdSid`.
    pub fn status_callback(&self) -> Option<NewCallback> {
        let call = self;
        let url = call.status_callback.clone()?;
        let verification = call
            .verification_status
            .unwrap_or(VerificationStatus::Failed);
        let status = call.status.as_str();
        let duration = call.duration.unwrap_or(0).to_string();
        let mut params = CallbackParams::with_capacity(400);
        for (name, value) in [
            ("AccountSid", call.account_sid.as_str()),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", call.sid.as_str()),
            ("CallStatus", status),
            ("Called", call.to.as_str()),
            ("Caller", VERIFICATION_CALLER),
            ("Direction", "outbound-api"),
            ("From", VERIFICATION_CALLER),
            ("To", call.to.as_str()),
            ("CallDuration", &duration),
            ("VerificationStatus", verification.as_str()),
        ] {
            params.push(name, value);
        }
        if verification == VerificationStatus::Success {
            if let Some(sid) = &call.outgoing_caller_id_sid {
                params.push("OutgoingCallerIdSid", sid.as_str());
            }
        }
        Some(NewCallback {
            url,
            method: call.status_callback_method,
            params,
        })
    }

    pub fn has_ended(&self) -> bool {
        self.next_action_at.is_none()
    }

    /// The state this call was read in, which an update of it must still find.
    pub fn guard(&self) -> CallGuard {
        CallGuard {
            sid: self.sid.clone(),
            status: self.status,
            next_action_at: self.next_action_at,
            digits: self.digits.clone(),
        }
    }
}

/// What a timeline entry records: a status the call reached, or digits keyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Status(CallStatus),
    Digits,
}

impl serde::Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Status(s) => s.as_str(),
            EventKind::Digits => "digits",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        match s {
            "digits" => Some(EventKind::Digits),
            _ => CallStatus::parse(s).map(EventKind::Status),
        }
    }
}

/// One entry of a call's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallEvent {
    pub at: i64,
    pub kind: EventKind,
    pub note: String,
}

/// The state an update was planned from: it applies only if the call is still in this
/// status, step and digits (digits keyed meanwhile make the scheduler read the call again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallGuard {
    pub sid: CallSid,
    pub status: CallStatus,
    pub next_action_at: Option<i64>,
    pub digits: Option<String>,
}
