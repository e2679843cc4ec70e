//! The simulated verification call behind a validation request, and the StatusCallback it
//! ends with. Creating a request and moving a due call on both plan their writes with
//! [`CallChange::of_steps`] over the steps of the pure state machine; the store persists the
//! plan; the change is then published as events. Every state and timer lives in the store, so
//! the scheduler ([`scheduler`]) and the sender ([`sender`]) only act on what it says is due.

mod attempt;
mod batch;
pub(super) mod client;
pub(super) mod handoff;
mod plain;
mod recorder;
pub mod scheduler;
pub mod sender;
pub mod signature;

use std::sync::Arc;
use std::time::Duration;

use super::{Service, ServiceError};
use crate::domain::call::{
    Behavior, BehaviorSource, Call, CallEvent, CallStatus, EventKind, ValidationRequest,
};
use crate::domain::caller_id::CallerId;
use crate::domain::event::{CallStep, Event};
use crate::domain::machine;
use crate::domain::plan::{CallChange, NewCall, Supersede};
use crate::domain::sid::{random_bytes, AccountSid, CallSid};
use crate::domain::time::now_millis;
use crate::domain::PhoneNumber;
use crate::store::StoreError;

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

/// Six decimal digits from the OS's cryptographic generator; leading zeros are allowed.
pub fn validation_code() -> String {
    loop {
        let n = u32::from_le_bytes(random_bytes::<4>());
        // Reject the top sliver so every code is equally likely.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// The timeline entries of a change, as events.
fn steps_of(change: &CallChange) -> impl Iterator<Item = Event> + '_ {
    let to = &change.to;
    change.events.iter().map(move |(kind, note)| {
        Event::CallStep(CallStep {
            account_sid: to.account_sid.clone(),
            call_sid: to.sid.clone(),
            kind: *kind,
            note: note.clone(),
            at: change.at,
            status: to.status,
            verification_status: to.verification_status,
        })
    })
}

impl Service {
    /// Something about the calls changed: the scheduler looks at them again now.
    pub fn wake_calls(&self) {
        self.calls_due.notify_one();
    }

    /// A callback was queued in the store: the sender claims what is due now.
    pub fn wake_callbacks(&self) {
        self.handoff.mark_queued();
        self.callbacks_due.notify_one();
    }

    /// How the callee at `phone` answers on `account`, and why.
    pub async fn behavior(
        &self,
        account: &AccountSid,
        phone: &PhoneNumber,
    ) -> Result<(Behavior, BehaviorSource), ServiceError> {
        let set = self.store.behavior(account, phone).await?;
        Ok(Behavior::resolve(set, phone))
    }

    pub async fn set_behavior(
        &self,
        account: &AccountSid,
        phone: &PhoneNumber,
        behavior: Behavior,
    ) -> Result<(), ServiceError> {
        Ok(self.store.set_behavior(account, phone, behavior).await?)
    }

    /// Creates a validation request: the call, queued, with the steps already due (at time
    /// scale 0, the whole call) taken in the same transaction. Returns the call as created.
    ///
    /// On a shared store, where reading the callee behaviour first would be a round trip of
    /// its own, the plan assumes none is set for the number and the store checks that in the
    /// call's own transaction; when one is, it is read and the request planned again.
    pub async fn create_validation_request(
        self: &Arc<Self>,
        account: &AccountSid,
        request: ValidationRequest,
    ) -> Result<Call, ServiceError> {
        if self.store.is_shared() {
            let unset = Behavior::resolve(None, &request.phone).0;
            match self
                .plan_and_store(account, request.clone(), unset, true)
                .await
            {
                Err(ServiceError::Store(StoreError::BehaviorSet)) => {}
                done => return done,
            }
        }
        let (behavior, _) = self.behavior(account, &request.phone).await?;
        self.plan_and_store(account, request, behavior, false).await
    }

    /// Plans the validation request with the callee's `behavior` and stores it.
    async fn plan_and_store(
        self: &Arc<Self>,
        account: &AccountSid,
        request: ValidationRequest,
        behavior: Behavior,
        assumes_no_behavior: bool,
    ) -> Result<Call, ServiceError> {
        let now = now_millis();
        let call = Call {
            sid: CallSid::generate(),
            account_sid: account.clone(),
            to: request.phone,
            friendly_name: request.friendly_name,
            validation_code: validation_code(),
            extension: request.extension,
            call_delay: request.call_delay,
            status_callback: request.status_callback,
            status_callback_method: request.status_callback_method,
            behavior,
            status: CallStatus::Queued,
            verification_status: None,
            digits: None,
            next_action_at: Some(self.timing.after(now, request.call_delay as f64)),
            outgoing_caller_id_sid: None,
            date_created: now,
            date_updated: now,
            start_time: None,
            end_time: None,
            duration: None,
        };
        let queued = (
            EventKind::Status(CallStatus::Queued),
            format!(
                "validation request created; callee behaviour {}, CallDelay {}s",
                behavior.as_str(),
                call.call_delay
            ),
        );
        let (steps, to) = if call.next_action_at.is_some_and(|at| at <= now) {
            machine::steps_due(&call, behavior, &self.timing, now)
        } else {
            (Vec::new(), call.clone())
        };
        let change = CallChange::of_steps(steps, to, vec![queued], now);
        // A callback the call ends with goes straight to the sender, stored as claimed, unless
        // the sender has enough waiting already: then it is queued for the sender to claim.
        let claim_callback = change.callback.is_some() && self.handoff.has_room();
        let new = NewCall {
            change,
            supersede: Supersede::by(&call.sid, now),
            claim_callback,
            assumes_no_behavior,
        };
        // Once submitted, the request is stored whether or not its client waits for the
        // answer, and what follows (handing its callback to the sender above all) must happen
        // too: the HTTP layer runs each request that may write as a task of its own, which the
        // client's going away cannot cancel.
        self.store_validation_request(call, new, now).await
    }

    /// Stores a planned validation request, then counts, wakes and publishes what it did.
    async fn store_validation_request(
        &self,
        call: Call,
        new: NewCall,
        now: i64,
    ) -> Result<Call, ServiceError> {
        let ended = new.change.to.has_ended().then_some(new.change.to.status);
        let ends_with_callback = new.change.callback.is_some();
        // Kept for the events only while someone listens.
        let published = self.is_published().then(|| {
            (
                steps_of(&new.change).collect::<Vec<_>>(),
                new.supersede.note.clone(),
            )
        });
        let created = match self.store.create_call(new).await {
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::AlreadyVerified(call.to.clone()))
            }
            other => other?,
        };
        for _ in &created.superseded {
            self.metrics.call_ended(CallStatus::Canceled.as_str());
        }
        if let Some(status) = ended {
            self.metrics.call_ended(status.as_str());
        }
        let handed = created.callback.is_some();
        if let Some(callback) = created.callback {
            self.handoff.push(callback);
            self.callbacks_due.notify_one();
        }
        // Only a callback stored unclaimed is for the sender to find in the store: a call that
        // ends without a StatusCallback queues none, and the sender need not read the store.
        let queued = created
            .superseded
            .iter()
            .any(|c| c.status_callback().is_some())
            || (ends_with_callback && !handed);
        if queued {
            self.wake_callbacks();
        }
        if ended.is_none() {
            self.wake_calls();
        }
        self.announce_due(ended.is_none(), queued);
        self.metrics.validation_requests_created();
        let Some((steps, superseded_note)) = published else {
            return Ok(call);
        };
        self.publish(|| {
            let mut events: Vec<Event> = created
                .superseded
                .iter()
                .map(|c| {
                    Event::CallStep(CallStep {
                        account_sid: c.account_sid.clone(),
                        call_sid: c.sid.clone(),
                        kind: EventKind::Status(c.status),
                        note: superseded_note.clone(),
                        at: now,
                        status: c.status,
                        verification_status: c.verification_status,
                    })
                })
                .collect();
            events.extend(steps);
            events.extend(created.caller_id.clone().map(Event::CallerIdCreated));
            events
        });
        Ok(call)
    }

    /// Publishes a change applied by the scheduler, with the caller ID it created.
    fn publish_change(&self, change: &CallChange, caller_id: Option<Arc<CallerId>>) {
        self.publish(|| {
            let mut events: Vec<Event> = steps_of(change).collect();
            events.extend(caller_id.map(Event::CallerIdCreated));
            events
        });
    }

    pub async fn call(&self, sid: &CallSid) -> Result<Option<Call>, ServiceError> {
        Ok(self.store.call(sid).await?)
    }

    /// The newest `limit` calls, optionally of one account, newest first.
    pub async fn calls(
        &self,
        account: Option<&AccountSid>,
        limit: i64,
    ) -> Result<Vec<Call>, ServiceError> {
        Ok(self.store.calls(account, limit).await?)
    }

    pub async fn call_events(&self, sid: &CallSid) -> Result<Vec<CallEvent>, ServiceError> {
        Ok(self.store.call_events(sid).await?)
    }

    /// Digits keyed by the callee: a call waiting for them moves on now. `None` when there is
    /// no such call; an error when it has ended.
    pub async fn key_digits(
        &self,
        sid: &CallSid,
        digits: &str,
    ) -> Result<Option<Call>, ServiceError> {
        let Some(existing) = self.store.call(sid).await? else {
            return Ok(None);
        };
        if existing.has_ended() {
            return Err(ServiceError::CallEnded {
                sid: sid.clone(),
                status: Some(existing.status),
            });
        }
        let now = now_millis();
        let Some(call) = self.store.key_digits(sid, digits, now).await? else {
            return Err(ServiceError::CallEnded {
                sid: sid.clone(),
                status: None,
            });
        };
        self.wake_calls();
        self.announce_due(true, false);
        self.publish(|| {
            vec![Event::CallStep(CallStep {
                account_sid: call.account_sid.clone(),
                call_sid: call.sid.clone(),
                kind: EventKind::Digits,
                note: format!("callee keyed {digits:?}"),
                at: now,
                status: call.status,
                verification_status: call.verification_status,
            })]
        });
        Ok(Some(call))
    }
}
