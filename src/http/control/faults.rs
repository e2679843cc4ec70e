//! `/_emulator/faults`: make, list and delete the fault rules the Twilio API applies
//! ([`crate::http::middleware::faults`]). A rule is checked in full before it is kept; a bad
//! one is 400 with a message naming what is wrong.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{body, json};
use crate::domain::sid::AccountSid;
use crate::http::error::ApiError;
use crate::http::middleware::faults::{Action, Resource, Rule};
use crate::http::AppState;

/// The longest `delay_ms` a rule may have: five minutes.
pub const MAX_DELAY_MS: u64 = 300_000;

/// The body of `POST /_emulator/faults`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewFault {
    account_sid: Option<String>,
    method: Option<String>,
    resource: Option<String>,
    times: Option<i64>,
    probability: Option<f64>,
    action: Option<NewAction>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAction {
    status: Option<u16>,
    code: Option<u32>,
    message: Option<String>,
    retry_after: Option<u32>,
    delay_ms: Option<i64>,
    drop: Option<bool>,
}

const METHODS: [Method; 6] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
];

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::invalid_parameter(message)
}

impl NewAction {
    fn check(self) -> Result<Action, ApiError> {
        let status_kind = self.status.is_some()
            || self.code.is_some()
            || self.message.is_some()
            || self.retry_after.is_some();
        let kinds = [status_kind, self.delay_ms.is_some(), self.drop.is_some()];
        match kinds.iter().filter(|k| **k).count() {
            0 => return Err(bad("action needs one of status, delay_ms or drop")),
            1 => {}
            _ => {
                return Err(bad(
                    "action must be one of status (with code, message, retry_after), delay_ms or drop, not several",
                ))
            }
        }
        if let Some(delay_ms) = self.delay_ms {
            let delay_ms = u64::try_from(delay_ms)
                .ok()
                .filter(|ms| *ms <= MAX_DELAY_MS)
                .ok_or_else(|| bad(format!("delay_ms must be from 0 to {MAX_DELAY_MS}")))?;
            return Ok(Action::Delay { delay_ms });
        }
        if let Some(drop) = self.drop {
            if !drop {
                return Err(bad("drop must be true"));
            }
            return Ok(Action::Drop { drop });
        }
        let status = self
            .status
            .ok_or_else(|| bad("code, message and retry_after go with a status"))?;
        if !(400..=599).contains(&status) {
            return Err(bad(format!(
                "status must be an HTTP error status from 400 to 599, not {status}"
            )));
        }
        let http = StatusCode::from_u16(status).map_err(|_| bad("status is not valid"))?;
        if self.retry_after.is_some_and(|s| s > 86_400) {
            return Err(bad("retry_after must be at most 86400 seconds"));
        }
        let code = self.code.unwrap_or(20_000 + u32::from(status));
        if !(10_000..=99_999).contains(&code) {
            return Err(bad(format!(
                "code must be a Twilio error code (five digits), not {code}"
            )));
        }
        let message = match self.message {
            Some(m) if m.is_empty() || m.len() > 1000 => {
                return Err(bad("message must be 1 to 1000 characters"))
            }
            Some(m) => m,
            None => http.canonical_reason().unwrap_or("Error").to_string(),
        };
        // A 429 tells the client when to come back, as Twilio's does.
        let retry_after = self.retry_after.or((status == 429).then_some(1));
        Ok(Action::Status {
            status,
            code,
            message,
            retry_after,
        })
    }
}

impl NewFault {
    fn check(self) -> Result<Rule, ApiError> {
        let account_sid = match self.account_sid {
            None => None,
            Some(raw) => Some(AccountSid::parse(&raw).ok_or_else(|| {
                bad(format!(
                    "account_sid {raw:?} is not an AccountSid (AC + 32 hex digits)"
                ))
            })?),
        };
        let method = match self.method {
            None => None,
            Some(raw) => {
                let upper = raw.to_ascii_uppercase();
                let found = METHODS.into_iter().find(|m| m.as_str() == upper);
                Some(found.ok_or_else(|| {
                    bad(format!(
                        "method {raw:?} is not one of GET, POST, PUT, DELETE, HEAD, OPTIONS"
                    ))
                })?)
            }
        };
        let resource = match self.resource {
            None => None,
            Some(raw) => Some(Resource::parse(&raw).ok_or_else(|| {
                bad(format!(
                    "resource {raw:?} is not one of OutgoingCallerIds, Calls, Accounts, Keys"
                ))
            })?),
        };
        let times = match self.times {
            None => None,
            Some(n) => Some(
                u32::try_from(n)
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| bad(format!("times must be from 1 to {}", u32::MAX)))?,
            ),
        };
        if let Some(p) = self.probability {
            if !(0.0..=1.0).contains(&p) {
                return Err(bad(format!("probability must be from 0 to 1, not {p}")));
            }
        }
        let action = self
            .action
            .ok_or_else(|| bad("a rule needs an action"))?
            .check()?;
        if method == Some(Method::HEAD) && matches!(action, Action::Drop { .. }) {
            return Err(bad(
                "drop cannot apply to HEAD: a HEAD answer's head is written without its body",
            ));
        }
        Ok(Rule {
            id: Rule::new_id(),
            account_sid,
            method,
            resource,
            times,
            probability: self.probability,
            action,
            hits: 0,
        })
    }
}

pub(super) async fn create_fault(
    State(app): State<AppState>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let rule = body::<NewFault>(&bytes)?.check()?;
    let response = json(StatusCode::CREATED, &rule);
    app.faults.add(rule);
    Ok(response)
}

pub(super) async fn list_faults(State(app): State<AppState>) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({ "faults": app.faults.list() }),
    )
}

pub(super) async fn delete_fault(
    State(app): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    if !app.faults.remove(&id) {
        return Err(ApiError::not_found(uri.path()));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn delete_faults(State(app): State<AppState>) -> Response {
    app.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}
