//! The text of a NOTIFY on [`super::notify::CHANNEL`]: what one replica tells the others (its
//! events, what it made due, whether it has event readers and whose of those it knows of), as
//! compact JSON, parsed back into domain types at this edge.

use serde::{Deserialize, Serialize};

use super::rows::{account_sid, attempt, call_sid, caller_id_sid, AttemptRow, CallerIdRow};
use crate::domain::call::{CallStatus, EventKind, VerificationStatus};
use crate::domain::callback::CallbackState;
use crate::domain::event::{CallStep, Event};
use crate::domain::sid::RequestSid;
use crate::store::{Announcement, StoreError};

/// One NOTIFY's payload.
#[derive(Serialize, Deserialize)]
pub(super) struct Payload {
    /// The replica that sent it.
    pub r: i32,
    /// A call was made due (created, digits keyed).
    #[serde(default)]
    pub c: bool,
    /// A callback was queued.
    #[serde(default)]
    pub b: bool,
    #[serde(default)]
    pub e: Vec<Wire>,
    /// The sender gained its first event reader (`true`) or lost its last one (`false`); see
    /// [`super::listeners`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l: Option<bool>,
    /// The replicas whose readers the sender now knows of: it announces its events from now on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub a: Vec<i32>,
}

/// What one NOTIFY from another replica says.
pub(super) struct Received {
    pub from: i32,
    pub announcement: Announcement,
    pub listening: Option<bool>,
    pub acks: Vec<i32>,
}

/// The payload of a replica's news about its event readers: `listening` or not, and the
/// replicas whose readers it acknowledges.
pub(super) fn listening(replica: i32, listening: Option<bool>, acks: Vec<i32>) -> String {
    serde_json::to_string(&Payload {
        r: replica,
        c: false,
        b: false,
        e: Vec::new(),
        l: listening,
        a: acks,
    })
    .unwrap_or_default()
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(super) enum Wire {
    CallerIdCreated(CallerIdRow),
    CallerIdRenamed(CallerIdRow),
    CallerIdDeleted {
        account_sid: String,
        sid: String,
    },
    CallStep {
        account_sid: String,
        call_sid: String,
        kind: String,
        note: String,
        at: i64,
        status: String,
        verification_status: Option<String>,
    },
    CallbackAttempted {
        account_sid: String,
        call_sid: String,
        attempt: AttemptRow,
        state: String,
    },
    RequestJournalled {
        account_sid: Option<String>,
        request_id: String,
        method: String,
        path: String,
        status: u16,
        /// Absent when there is none, and in the NOTIFY of a replica that predates it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_code: Option<u32>,
    },
    AccountCreated {
        sid: String,
    },
    AccountDeleted {
        sid: String,
    },
    Reset,
}

impl Wire {
    pub fn of(event: &Event) -> Wire {
        match event {
            Event::CallerIdCreated(row) => Wire::CallerIdCreated(CallerIdRow::of(row)),
            Event::CallerIdRenamed(row) => Wire::CallerIdRenamed(CallerIdRow::of(row)),
            Event::CallerIdDeleted { account_sid, sid } => Wire::CallerIdDeleted {
                account_sid: account_sid.to_string(),
                sid: sid.to_string(),
            },
            Event::CallStep(step) => Wire::CallStep {
                account_sid: step.account_sid.to_string(),
                call_sid: step.call_sid.to_string(),
                kind: step.kind.as_str().to_string(),
                note: step.note.clone(),
                at: step.at,
                status: step.status.as_str().to_string(),
                verification_status: step.verification_status.map(|v| v.as_str().to_string()),
            },
            Event::CallbackAttempted {
                account_sid,
                call_sid,
                attempt: a,
                state,
            } => Wire::CallbackAttempted {
                account_sid: account_sid.to_string(),
                call_sid: call_sid.to_string(),
                attempt: (
                    a.callback_id,
                    a.attempt,
                    a.at,
                    a.url.clone(),
                    a.signature.clone(),
                    a.status_code,
                    a.latency_ms,
                    a.error.clone(),
                ),
                state: state.as_str().to_string(),
            },
            Event::RequestJournalled {
                account_sid,
                request_id,
                method,
                path,
                status,
                error_code,
            } => Wire::RequestJournalled {
                account_sid: account_sid.as_ref().map(ToString::to_string),
                request_id: request_id.to_string(),
                method: method.clone(),
                path: path.clone(),
                status: *status,
                error_code: *error_code,
            },
            Event::AccountCreated { sid } => Wire::AccountCreated {
                sid: sid.to_string(),
            },
            Event::AccountDeleted { sid } => Wire::AccountDeleted {
                sid: sid.to_string(),
            },
            Event::Reset => Wire::Reset,
        }
    }

    pub fn parse(self) -> Result<Event, StoreError> {
        let named = |what: &str, value: &str| StoreError::Corrupt(format!("{what} {value:?}"));
        Ok(match self {
            Wire::CallerIdCreated(row) => Event::CallerIdCreated(row.parse()?.into()),
            Wire::CallerIdRenamed(row) => Event::CallerIdRenamed(row.parse()?.into()),
            Wire::CallerIdDeleted {
                account_sid: a,
                sid,
            } => Event::CallerIdDeleted {
                account_sid: account_sid(a)?,
                sid: caller_id_sid(sid)?,
            },
            Wire::CallStep {
                account_sid: a,
                call_sid: c,
                kind,
                note,
                at,
                status,
                verification_status,
            } => Event::CallStep(CallStep {
                account_sid: account_sid(a)?,
                call_sid: call_sid(c)?,
                kind: EventKind::parse(&kind).ok_or_else(|| named("event kind", &kind))?,
                note,
                at,
                status: CallStatus::parse(&status).ok_or_else(|| named("call status", &status))?,
                verification_status: match verification_status {
                    None => None,
                    Some(v) => Some(
                        VerificationStatus::parse(&v)
                            .ok_or_else(|| named("verification status", &v))?,
                    ),
                },
            }),
            Wire::CallbackAttempted {
                account_sid: a,
                call_sid: c,
                attempt: row,
                state,
            } => Event::CallbackAttempted {
                account_sid: account_sid(a)?,
                call_sid: call_sid(c)?,
                attempt: attempt(row),
                state: CallbackState::parse(&state)
                    .ok_or_else(|| named("callback state", &state))?,
            },
            Wire::RequestJournalled {
                account_sid: a,
                request_id,
                method,
                path,
                status,
                error_code,
            } => Event::RequestJournalled {
                account_sid: a.map(account_sid).transpose()?,
                request_id: RequestSid::from_stored(request_id)
                    .map_err(|v| named("request id", &v))?,
                method,
                path,
                status,
                error_code,
            },
            Wire::AccountCreated { sid } => Event::AccountCreated {
                sid: account_sid(sid)?,
            },
            Wire::AccountDeleted { sid } => Event::AccountDeleted {
                sid: account_sid(sid)?,
            },
            Wire::Reset => Event::Reset,
        })
    }
}

/// The payloads, each at most `limit` bytes, that carry `announcements` from `replica`: the
/// events in order, as many to a payload as fit. An event that alone exceeds the limit is left
/// out (logged): the store's state is what counts, and a live view reads it again.
pub(super) fn encode(replica: i32, announcements: &[Announcement], limit: usize) -> Vec<String> {
    let calls_due = announcements.iter().any(|a| a.calls_due);
    let callbacks_due = announcements.iter().any(|a| a.callbacks_due);
    let head = |c: bool, b: bool| {
        serde_json::to_string(&Payload {
            r: replica,
            c,
            b,
            e: Vec::new(),
            l: None,
            a: Vec::new(),
        })
        .unwrap_or_default()
    };
    let mut payloads = Vec::new();
    // The payload being filled: `{"r":…,"c":…,"b":…,"e":[` then the events, `]}` at the end.
    let open = |c: bool, b: bool| {
        let mut text = head(c, b);
        text.truncate(text.len().saturating_sub(2));
        text
    };
    let mut current = open(calls_due, callbacks_due);
    let mut events_in = 0_usize;
    for event in announcements.iter().flat_map(|a| &a.events) {
        let Ok(wire) = serde_json::to_string(&Wire::of(event)) else {
            continue;
        };
        if current.len() + wire.len() + 3 > limit {
            if events_in > 0 {
                current.push_str("]}");
                payloads.push(std::mem::replace(&mut current, open(false, false)));
                events_in = 0;
            }
            if current.len() + wire.len() + 3 > limit {
                tracing::warn!(
                    bytes = wire.len(),
                    "an event too large to announce is left out"
                );
                continue;
            }
        }
        if events_in > 0 {
            current.push(',');
        }
        current.push_str(&wire);
        events_in += 1;
    }
    if events_in > 0 || payloads.is_empty() && (calls_due || callbacks_due) {
        current.push_str("]}");
        payloads.push(current);
    }
    payloads
}

/// Reads a payload: `None` when it is this replica's own or not one of ours.
pub(super) fn decode(own: i32, text: &str) -> Option<Received> {
    let payload: Payload = match serde_json::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "an announcement that does not parse is ignored");
            return None;
        }
    };
    if payload.r == own {
        return None;
    }
    let mut events = Vec::with_capacity(payload.e.len());
    for wire in payload.e {
        match wire.parse() {
            Ok(event) => events.push(event),
            Err(e) => tracing::warn!(error = %e, "an announced event that does not parse"),
        }
    }
    Some(Received {
        from: payload.r,
        announcement: Announcement {
            events,
            calls_due: payload.c,
            callbacks_due: payload.b,
        },
        listening: payload.l,
        acks: payload.a,
    })
}

#[cfg(test)]
mod tests;
