//! What the steps of a verification call do, as data for the store to persist in one
//! transaction: the call as they leave it, one timeline event per step, the caller ID when the
//! callee keyed the code, and the StatusCallback once the call has ended. Creating a validation
//! request and moving due calls on both make their writes through [`CallChange::of_steps`].

use super::call::{Call, CallGuard, CallStatus, EventKind, VerificationStatus};
use super::callback::NewCallback;
use super::caller_id::NewCallerId;
use super::machine::Step;
use super::sid::{CallSid, CallerIdSid};

/// A call's new state with everything that goes with it.
#[derive(Clone, Debug)]
pub struct CallChange {
    /// The call after its steps.
    pub to: Call,
    /// One timeline event per step, in order, each at `at`.
    pub events: Vec<(EventKind, String)>,
    /// The caller ID the call verified, to create in the same transaction.
    pub caller_id: Option<NewCallerId>,
    /// The callback of a call that has ended, queued in the same transaction.
    pub callback: Option<NewCallback>,
    /// When the steps were taken (milliseconds).
    pub at: i64,
}

impl CallChange {
    /// The change `steps` make, leaving the call as `to`, at `at`. On success the caller ID's
    /// sid is chosen here, so that the call and its callback name it.
    pub fn of_steps(
        steps: Vec<Step>,
        mut to: Call,
        mut events: Vec<(EventKind, String)>,
        at: i64,
    ) -> CallChange {
        let verified = steps.iter().any(|s| s.create_caller_id);
        events.extend(
            steps
                .into_iter()
                .map(|s| (EventKind::Status(s.status), s.note)),
        );
        let caller_id = verified.then(|| NewCallerId {
            sid: CallerIdSid::generate(),
            account_sid: to.account_sid.clone(),
            phone_number: to.to.clone(),
            friendly_name: to.friendly_name.clone(),
            date_created: at / 1000,
        });
        to.outgoing_caller_id_sid = caller_id.as_ref().map(|c| c.sid.clone());
        to.date_updated = at;
        let callback = if to.has_ended() {
            to.status_callback()
        } else {
            None
        };
        CallChange {
            to,
            events,
            caller_id,
            callback,
            at,
        }
    }

    /// The same change for a number that got verified on the account meanwhile (through
    /// the control API): the call still ends as it did, but as a failed verification that
    /// creates nothing.
    pub fn number_already_verified(mut self) -> CallChange {
        if self.caller_id.take().is_none() {
            return self;
        }
        self.to.outgoing_caller_id_sid = None;
        self.to.verification_status = Some(VerificationStatus::Failed);
        if let Some((_, note)) = self.events.last_mut() {
            note.push_str(
                "; the number was already verified on this account, so nothing was created",
            );
        }
        self.callback = self.to.status_callback();
        self
    }
}

/// A due call moved on: applies only if the call is still in the state it was read in.
#[derive(Clone, Debug)]
pub struct CallUpdate {
    pub from: CallGuard,
    pub change: CallChange,
}

/// How calls still pending for a number end when a new validation request for it comes: as
/// `canceled`, a failed verification, each with its callback.
#[derive(Clone, Debug)]
pub struct Supersede {
    pub status: CallStatus,
    pub verification_status: VerificationStatus,
    pub note: String,
    pub at: i64,
}

impl Supersede {
    pub fn by(call: &CallSid, at: i64) -> Supersede {
        Supersede {
            status: CallStatus::Canceled,
            verification_status: VerificationStatus::Failed,
            note: format!("superseded by validation request {call}"),
            at,
        }
    }
}

/// A validation request's call, as the steps due at creation leave it (at time scale 0, the
/// whole call), with `queued` first in its timeline.
#[derive(Clone, Debug)]
pub struct NewCall {
    pub change: CallChange,
    pub supersede: Supersede,
    /// Store the call's own callback as already claimed by the sender, which the caller hands
    /// it to, instead of due for the sender to claim.
    pub claim_callback: bool,
    /// The plan assumed that no callee behaviour is set for the number (it was not read
    /// first): the store writes nothing if one is, and says so
    /// ([`crate::store::StoreError::BehaviorSet`]).
    pub assumes_no_behavior: bool,
}
