//! What the contract tests store: accounts, caller IDs, and validation requests and call
//! updates planned exactly as the service plans them (`CallChange::of_steps` over
//! `machine::steps_due`), at fixed times so that every stored time can be asserted.

use callerid_emulator::domain::account::{Account, ApiKey, KeyKind};
use callerid_emulator::domain::call::{Behavior, Call, CallEvent, CallStatus, EventKind};
use callerid_emulator::domain::callback::{
    Attempted, Callback, CallbackAttempt, CallbackMethod, CallbackState,
};
use callerid_emulator::domain::caller_id::{
    Cursor, FriendlyName, ListFilter, NewCallerId, PhoneFilter,
};
use callerid_emulator::domain::machine::{self, Timing};
use callerid_emulator::domain::plan::{CallChange, CallUpdate, NewCall, Supersede};
use callerid_emulator::domain::sid::{random_hex32, AccountSid, ApiKeySid, CallSid, CallerIdSid};
use callerid_emulator::domain::PhoneNumber;
use callerid_emulator::store::{CreatedCall, Store, StoreError};

/// The clock of every test, in milliseconds: a fixed instant, so stored times are exact.
pub const T0: i64 = 1_700_000_000_000;

/// Where the StatusCallbacks of the tests go (never requested: the store only queues them).
pub const CALLBACK_URL: &str = "http://127.0.0.1:9/status";

pub fn account(configured: bool) -> Account {
    Account {
        configured,
        ..Account::main(
            AccountSid::generate(),
            random_hex32(),
            "contract test account".into(),
            T0 / 1000,
        )
    }
}

/// A new control-made account, stored.
pub async fn new_account(store: &Store) -> AccountSid {
    let a = account(false);
    store.create_account(&a).await.expect("create account");
    a.sid
}

pub fn api_key(account: &AccountSid) -> ApiKey {
    ApiKey {
        sid: ApiKeySid::generate(),
        account_sid: account.clone(),
        secret: random_hex32(),
        friendly_name: "contract test key".into(),
        kind: KeyKind::Standard,
        date_created: T0 / 1000,
        date_updated: T0 / 1000,
    }
}

/// `+1415555nnnn`.
pub fn phone(n: u32) -> PhoneNumber {
    PhoneNumber::parse(&format!("+1415555{n:04}")).expect("phone number")
}

pub fn name(s: &str) -> FriendlyName {
    FriendlyName::parse(s).expect("friendly name")
}

pub fn new_caller_id(account: &AccountSid, phone: &PhoneNumber, friendly: &str) -> NewCallerId {
    NewCallerId {
        sid: CallerIdSid::generate(),
        account_sid: account.clone(),
        phone_number: phone.clone(),
        friendly_name: name(friendly),
        date_created: T0 / 1000,
    }
}

/// A caller ID inserted straight into the store (as the control API seeds one).
pub async fn seed_caller_id(
    store: &Store,
    account: &AccountSid,
    phone: &PhoneNumber,
) -> CallerIdSid {
    let new = new_caller_id(account, phone, "seeded");
    let sid = new.sid.clone();
    store.insert_caller_id(new).await.expect("insert caller ID");
    sid
}

/// Every simulated wait instant: a call plays out in the steps taken at its creation.
pub fn instant() -> Timing {
    Timing {
        time_scale: 0.0,
        ..Timing::default()
    }
}

/// Real time: 3 s of ringing, 8 s at the keypad.
pub fn real_time() -> Timing {
    Timing::default()
}

/// A validation request as the service makes it.
#[derive(Clone, Debug)]
pub struct Request {
    pub account: AccountSid,
    pub phone: PhoneNumber,
    pub behavior: Behavior,
    /// CallDelay, in simulated seconds.
    pub delay: i64,
    pub status_callback: Option<String>,
    pub timing: Timing,
    pub now: i64,
}

impl Request {
    /// A request from `account` for `phone`, correct code, no delay, no callback, time scale
    /// 0, at [`T0`].
    pub fn new(account: &AccountSid, phone: &PhoneNumber) -> Request {
        Request {
            account: account.clone(),
            phone: phone.clone(),
            behavior: Behavior::CorrectCode,
            delay: 0,
            status_callback: None,
            timing: instant(),
            now: T0,
        }
    }

    pub fn behavior(mut self, behavior: Behavior) -> Request {
        self.behavior = behavior;
        self
    }

    /// Real time, with `delay` seconds of CallDelay: the call stays queued at creation.
    pub fn queued(mut self, delay: i64) -> Request {
        self.timing = real_time();
        self.delay = delay;
        self
    }

    pub fn timing(mut self, timing: Timing) -> Request {
        self.timing = timing;
        self
    }

    pub fn with_callback(mut self) -> Request {
        self.status_callback = Some(CALLBACK_URL.into());
        self
    }

    pub fn at(mut self, now: i64) -> Request {
        self.now = now;
        self
    }

    /// The `NewCall` `Service::create_validation_request` builds for this request.
    pub fn plan(&self) -> NewCall {
        let now = self.now;
        let call = Call {
            sid: CallSid::generate(),
            account_sid: self.account.clone(),
            to: self.phone.clone(),
            friendly_name: FriendlyName::of_number(&self.phone),
            validation_code: "123456".into(),
            extension: None,
            call_delay: self.delay,
            status_callback: self.status_callback.clone(),
            status_callback_method: CallbackMethod::Post,
            behavior: self.behavior,
            status: CallStatus::Queued,
            verification_status: None,
            digits: None,
            next_action_at: Some(self.timing.after(now, self.delay as f64)),
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
                "validation request created; callee behaviour {}",
                self.behavior.as_str()
            ),
        );
        let (steps, to) = if call.next_action_at.is_some_and(|at| at <= now) {
            machine::steps_due(&call, self.behavior, &self.timing, now)
        } else {
            (Vec::new(), call.clone())
        };
        NewCall {
            change: CallChange::of_steps(steps, to, vec![queued], now),
            supersede: Supersede::by(&call.sid, now),
            claim_callback: false,
            assumes_no_behavior: false,
        }
    }

    /// Plans and creates the call: its sid and what the store did.
    pub async fn create(&self, store: &Store) -> (CallSid, Result<CreatedCall, StoreError>) {
        let new = self.plan();
        let sid = new.change.to.sid.clone();
        (sid, store.create_call(new).await)
    }

    /// Plans and creates the call, which must succeed.
    pub async fn created(&self, store: &Store) -> (CallSid, CreatedCall) {
        let (sid, created) = self.create(store).await;
        (sid, created.expect("create call"))
    }
}

/// The update the scheduler plans for `call` at `now`.
pub fn plan_update(call: &Call, timing: &Timing, now: i64) -> CallUpdate {
    let (steps, to) = machine::steps_due(call, call.behavior, timing, now);
    CallUpdate {
        from: call.guard(),
        change: CallChange::of_steps(steps, to, Vec::new(), now),
    }
}

pub async fn call(store: &Store, sid: &CallSid) -> Call {
    store
        .call(sid)
        .await
        .expect("read call")
        .expect("call exists")
}

pub fn kinds(events: &[CallEvent]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

pub fn statuses(list: &[CallStatus]) -> Vec<EventKind> {
    list.iter().copied().map(EventKind::Status).collect()
}

/// The value of a callback's parameter.
pub fn param(cb: &Callback, key: &str) -> Option<String> {
    cb.params.get(key).map(|v| v.into_owned())
}

/// The callbacks queued for `call`, newest first.
pub async fn callbacks_of(store: &Store, call: &CallSid) -> Vec<Callback> {
    store
        .callbacks(None, Some(call), 100)
        .await
        .expect("callbacks")
        .into_iter()
        .map(|(cb, _)| cb)
        .collect()
}

/// The sids of the account's caller IDs (all of them, in list order).
pub async fn listed(store: &Store, account: &AccountSid) -> Vec<CallerIdSid> {
    let page = store
        .list_caller_ids(account, ListFilter::default(), &Cursor::Start, 1000)
        .await
        .expect("list");
    page.rows.iter().map(|r| r.sid.clone()).collect()
}

/// The sids of the account's caller IDs with `phone`.
pub async fn listed_with_number(
    store: &Store,
    account: &AccountSid,
    phone: &PhoneNumber,
) -> Vec<CallerIdSid> {
    let filter = ListFilter {
        phone_number: PhoneFilter::Number(phone),
        friendly_name: None,
    };
    let page = store
        .list_caller_ids(account, filter, &Cursor::Start, 1000)
        .await
        .expect("list");
    page.rows.iter().map(|r| r.sid.clone()).collect()
}

/// An ended call of `account` to `phone` with a StatusCallback, made at `at`: its sid.
pub async fn ended_call_with_callback(
    store: &Store,
    account: &AccountSid,
    phone: &PhoneNumber,
    at: i64,
) -> CallSid {
    let (sid, created) = Request::new(account, phone)
        .behavior(Behavior::Busy)
        .with_callback()
        .at(at)
        .created(store)
        .await;
    assert!(created.caller_id.is_none());
    sid
}

/// Attempt `n` of `cb`, made at `at`.
pub fn attempt(
    cb: &Callback,
    n: i64,
    at: i64,
    status: Option<i64>,
    error: Option<&str>,
) -> CallbackAttempt {
    CallbackAttempt {
        callback_id: cb.id,
        attempt: n,
        at,
        url: cb.url.clone(),
        signature: format!("signature {n}"),
        status_code: status,
        latency_ms: 10 + n,
        error: error.map(String::from),
    }
}

/// The one callback of `call`, as the journal has it, with its attempts.
pub async fn journal_of(s: &Store, call: &CallSid) -> (Callback, Vec<CallbackAttempt>) {
    let mut found = s.callbacks(None, Some(call), 10).await.expect("journal");
    assert_eq!(found.len(), 1, "one callback for {call}");
    found.remove(0)
}

/// Records one attempt, with the state it leaves its callback in.
pub async fn record(
    s: &Store,
    attempt: &CallbackAttempt,
    state: CallbackState,
    next_attempt_at: Option<i64>,
) -> Result<(), StoreError> {
    s.record_attempts(&[Attempted {
        attempt: attempt.clone(),
        state,
        next_attempt_at,
    }])
    .await
}
