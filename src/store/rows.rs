//! Rows as the store backends return them (the same columns in SQLite and PostgreSQL), and their
//! parsing into domain types: the storage edge, where a value the emulator never writes is an
//! error, not a panic.

use sqlx::FromRow;

use crate::domain::account::{Account, AccountStatus, ApiKey, KeyKind};
use crate::domain::call::{Behavior, Call, CallEvent, CallStatus, EventKind, VerificationStatus};
use crate::domain::callback::{
    Callback, CallbackAttempt, CallbackMethod, CallbackParams, CallbackState,
};
use crate::domain::caller_id::{CallerId, FriendlyName};
use crate::domain::sid::{AccountSid, ApiKeySid, CallSid, CallerIdSid};
use crate::domain::PhoneNumber;
use crate::store::StoreError;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

/// Parses a stored value with a `from_stored` that gives the text back on failure.
pub(super) fn stored<T>(
    parse: fn(String) -> Result<T, String>,
    what: &str,
    value: String,
) -> Result<T, StoreError> {
    parse(value).map_err(|v| corrupt(what, &v))
}

pub(super) fn account_sid(s: String) -> Result<AccountSid, StoreError> {
    stored(AccountSid::from_stored, "account sid", s)
}

pub(super) fn caller_id_sid(s: String) -> Result<CallerIdSid, StoreError> {
    stored(CallerIdSid::from_stored, "caller ID sid", s)
}

pub(super) fn call_sid(s: String) -> Result<CallSid, StoreError> {
    stored(CallSid::from_stored, "call sid", s)
}

pub(super) fn phone(s: String) -> Result<PhoneNumber, StoreError> {
    stored(PhoneNumber::from_stored, "phone number", s)
}

fn named<T>(parse: fn(&str) -> Option<T>, what: &str, s: &str) -> Result<T, StoreError> {
    parse(s).ok_or_else(|| corrupt(what, s))
}

pub(super) fn behavior(s: &str) -> Result<Behavior, StoreError> {
    named(Behavior::parse, "callee behaviour", s)
}

#[derive(FromRow, serde::Serialize, serde::Deserialize)]
pub(super) struct CallerIdRow {
    pub sid: String,
    pub account_sid: String,
    pub phone_number: String,
    pub friendly_name: String,
    pub date_created: i64,
    pub date_updated: i64,
}

impl CallerIdRow {
    pub fn of(row: &CallerId) -> CallerIdRow {
        CallerIdRow {
            sid: row.sid.to_string(),
            account_sid: row.account_sid.to_string(),
            phone_number: row.phone_number.as_str().to_string(),
            friendly_name: row.friendly_name.as_str().to_string(),
            date_created: row.date_created,
            date_updated: row.date_updated,
        }
    }

    pub fn parse(self) -> Result<CallerId, StoreError> {
        Ok(CallerId {
            sid: caller_id_sid(self.sid)?,
            account_sid: account_sid(self.account_sid)?,
            phone_number: phone(self.phone_number)?,
            friendly_name: FriendlyName::from_stored(self.friendly_name),
            date_created: self.date_created,
            date_updated: self.date_updated,
            json: CallerId::not_kept(),
        })
    }
}

#[derive(FromRow)]
pub(super) struct AccountRow {
    pub sid: String,
    pub auth_token: String,
    pub friendly_name: String,
    pub configured: bool,
    pub date_created: i64,
    pub owner_account_sid: Option<String>,
    pub status: String,
    pub date_updated: i64,
}

pub(super) fn account_status(s: &str) -> Result<AccountStatus, StoreError> {
    named(AccountStatus::parse, "account status", s)
}

impl AccountRow {
    pub fn parse(self) -> Result<Account, StoreError> {
        Ok(Account {
            sid: account_sid(self.sid)?,
            auth_token: self.auth_token,
            friendly_name: self.friendly_name,
            configured: self.configured,
            owner_account_sid: self.owner_account_sid.map(account_sid).transpose()?,
            status: account_status(&self.status)?,
            date_created: self.date_created,
            date_updated: self.date_updated,
        })
    }
}

#[derive(FromRow)]
pub(super) struct ApiKeyRow {
    pub sid: String,
    pub account_sid: String,
    pub secret: String,
    pub friendly_name: String,
    pub date_created: i64,
    pub kind: String,
    pub date_updated: i64,
}

impl ApiKeyRow {
    pub fn parse(self) -> Result<ApiKey, StoreError> {
        Ok(ApiKey {
            sid: stored(ApiKeySid::from_stored, "API key sid", self.sid)?,
            account_sid: account_sid(self.account_sid)?,
            secret: self.secret,
            friendly_name: self.friendly_name,
            kind: named(KeyKind::parse, "key kind", &self.kind)?,
            date_created: self.date_created,
            date_updated: self.date_updated,
        })
    }
}

#[derive(FromRow, serde::Deserialize)]
pub(super) struct CallRow {
    pub sid: String,
    pub account_sid: String,
    pub to_number: String,
    pub friendly_name: String,
    pub validation_code: String,
    pub extension: Option<String>,
    pub call_delay: i64,
    pub status_callback: Option<String>,
    pub status_callback_method: String,
    pub behavior: String,
    pub status: String,
    pub verification_status: Option<String>,
    pub digits: Option<String>,
    pub next_action_at: Option<i64>,
    pub outgoing_caller_id_sid: Option<String>,
    pub date_created: i64,
    pub date_updated: i64,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub duration: Option<i64>,
}

impl CallRow {
    pub fn parse(self) -> Result<Call, StoreError> {
        Ok(Call {
            sid: call_sid(self.sid)?,
            account_sid: account_sid(self.account_sid)?,
            to: phone(self.to_number)?,
            friendly_name: FriendlyName::from_stored(self.friendly_name),
            validation_code: self.validation_code,
            extension: self.extension,
            call_delay: self.call_delay,
            status_callback: self.status_callback,
            status_callback_method: named(
                CallbackMethod::parse,
                "callback method",
                &self.status_callback_method,
            )?,
            behavior: behavior(&self.behavior)?,
            status: named(CallStatus::parse, "call status", &self.status)?,
            verification_status: match self.verification_status.as_deref() {
                None => None,
                Some(v) => Some(named(VerificationStatus::parse, "verification status", v)?),
            },
            digits: self.digits,
            next_action_at: self.next_action_at,
            outgoing_caller_id_sid: self.outgoing_caller_id_sid.map(caller_id_sid).transpose()?,
            date_created: self.date_created,
            date_updated: self.date_updated,
            start_time: self.start_time,
            end_time: self.end_time,
            duration: self.duration,
        })
    }
}

#[derive(FromRow)]
pub(super) struct CallEventRow {
    pub at: i64,
    pub status: String,
    pub note: String,
}

impl CallEventRow {
    pub fn parse(self) -> Result<CallEvent, StoreError> {
        Ok(CallEvent {
            at: self.at,
            kind: named(EventKind::parse, "timeline status", &self.status)?,
            note: self.note,
        })
    }
}

#[derive(FromRow)]
pub(super) struct CallbackRow {
    pub id: i64,
    pub account_sid: String,
    pub call_sid: String,
    pub url: String,
    pub method: String,
    pub params: String,
    pub idempotency_token: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
}

impl CallbackRow {
    pub fn parse(self) -> Result<Callback, StoreError> {
        Ok(Callback {
            id: self.id,
            account_sid: account_sid(self.account_sid)?,
            call_sid: call_sid(self.call_sid)?,
            url: self.url,
            method: named(CallbackMethod::parse, "callback method", &self.method)?,
            params: stored_params(self.params)?,
            idempotency_token: self.idempotency_token,
            state: named(CallbackState::parse, "callback state", &self.state)?,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at,
            created_at: self.created_at,
        })
    }
}

/// A callback's stored parameters: the form body, or, in rows written before the body was
/// stored, a JSON array of `[name, value]` pairs (a body starts with a name, never `[`).
fn stored_params(stored: String) -> Result<CallbackParams, StoreError> {
    if !stored.starts_with('[') {
        return Ok(CallbackParams::from_body(stored));
    }
    let pairs: Vec<(String, String)> =
        serde_json::from_str(&stored).map_err(|_| corrupt("callback parameters", &stored))?;
    Ok(CallbackParams::from_pairs(
        pairs
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    ))
}

/// An attempt's columns, in the order of `CallbackAttempt`'s fields.
pub(super) type AttemptRow = (
    i64,
    i64,
    i64,
    String,
    String,
    Option<i64>,
    i64,
    Option<String>,
);

pub(super) fn attempt(row: AttemptRow) -> CallbackAttempt {
    let (callback_id, attempt, at, url, signature, status_code, latency_ms, error) = row;
    CallbackAttempt {
        callback_id,
        attempt,
        at,
        url,
        signature,
        status_code,
        latency_ms,
        error,
    }
}

/// Parses every row, failing on the first that does not parse.
pub(super) fn parse_all<R, T>(
    rows: Vec<R>,
    parse: fn(R) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(parse).collect()
}
