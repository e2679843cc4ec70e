//! The typed change events: one for every change the emulator commits, published by the
//! service layer on an in-process channel once the change is committed.

use std::sync::Arc;

use serde::Serialize;

use super::call::{CallStatus, EventKind, VerificationStatus};
use super::callback::{CallbackAttempt, CallbackState};
use super::caller_id::CallerId;
use super::sid::{AccountSid, CallSid, CallerIdSid, RequestSid};

/// What changed.
#[derive(Clone, Debug)]
pub enum Event {
    CallerIdCreated(Arc<CallerId>),
    CallerIdRenamed(Arc<CallerId>),
    CallerIdDeleted {
        account_sid: AccountSid,
        sid: CallerIdSid,
    },
    /// A call reached a status, or had digits keyed: one timeline entry.
    CallStep(CallStep),
    CallbackAttempted {
        account_sid: AccountSid,
        call_sid: CallSid,
        attempt: CallbackAttempt,
        state: CallbackState,
    },
    RequestJournalled {
        account_sid: Option<AccountSid>,
        request_id: RequestSid,
        method: String,
        path: String,
        status: u16,
        /// The code of the Twilio error body of the answer; `None` for a success.
        error_code: Option<u32>,
    },
    AccountCreated {
        sid: AccountSid,
    },
    AccountDeleted {
        sid: AccountSid,
    },
    /// Everything but the configured accounts was wiped.
    Reset,
}

/// One entry of a call's timeline, with where the call stands after it.
#[derive(Clone, Debug, Serialize)]
pub struct CallStep {
    pub account_sid: AccountSid,
    pub call_sid: CallSid,
    pub kind: EventKind,
    pub note: String,
    pub at: i64,
    pub status: CallStatus,
    pub verification_status: Option<VerificationStatus>,
}

impl Event {
    /// The account the change belongs to, if it belongs to one.
    pub fn account_sid(&self) -> Option<&AccountSid> {
        match self {
            Event::CallerIdCreated(row) | Event::CallerIdRenamed(row) => Some(&row.account_sid),
            Event::CallerIdDeleted { account_sid, .. }
            | Event::CallbackAttempted { account_sid, .. } => Some(account_sid),
            Event::CallStep(step) => Some(&step.account_sid),
            Event::RequestJournalled { account_sid, .. } => account_sid.as_ref(),
            Event::AccountCreated { sid } | Event::AccountDeleted { sid } => Some(sid),
            Event::Reset => None,
        }
    }
}
