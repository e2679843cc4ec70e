//! The JSON view of each change event on `/_emulator/events`: its SSE `event:` name and its
//! `data:` object, and the SSE text of a run of them. The domain's [`Event`] knows nothing of
//! HTTP; this is its wire form.

use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::event::{CallStep, Event};
use crate::http::render::{rfc2822, rfc3339_millis};
use crate::http::twilio::caller_id_repr::to_json;

/// The SSE event name of `event`.
pub(super) fn name(event: &Event) -> &'static str {
    match event {
        Event::CallerIdCreated(_) => "caller_id.created",
        Event::CallerIdRenamed(_) => "caller_id.renamed",
        Event::CallerIdDeleted { .. } => "caller_id.deleted",
        Event::CallStep(_) => "call.step",
        Event::CallbackAttempted { .. } => "callback.attempted",
        Event::RequestJournalled { .. } => "request.journalled",
        Event::AccountCreated { .. } => "account.created",
        Event::AccountDeleted { .. } => "account.deleted",
        Event::Reset => "reset",
    }
}

/// The `data:` of `request.journalled`, the event of every request, written without building
/// a [`Value`] first.
#[derive(Serialize)]
struct Journalled<'a> {
    account_sid: Option<&'a str>,
    request_id: &'a str,
    method: &'a str,
    path: &'a str,
    status: u16,
    error_code: Option<u32>,
}

/// The `data:` of `call.step`, several per validation request, written without building a
/// [`Value`] first; its fields in the order a [`Value`] map writes them (by name).
#[derive(Serialize)]
struct Step<'a> {
    account_sid: &'a str,
    at: String,
    call_sid: &'a str,
    date: String,
    kind: &'a str,
    note: &'a str,
    status: &'a str,
    verification_status: Option<&'a str>,
}

fn step(step: &CallStep) -> Step<'_> {
    Step {
        account_sid: step.account_sid.as_str(),
        at: rfc3339_millis(step.at),
        call_sid: step.call_sid.as_str(),
        date: rfc2822(step.at / 1000),
        kind: step.kind.as_str(),
        note: &step.note,
        status: step.status.as_str(),
        verification_status: step.verification_status.map(|v| v.as_str()),
    }
}

/// Appends one `request.journalled` SSE event, from the journal's fields.
pub(crate) fn write_journalled(
    out: &mut Vec<u8>,
    account_sid: Option<&str>,
    request_id: &str,
    method: &str,
    path: &str,
    status: u16,
    error_code: Option<u32>,
) {
    out.extend_from_slice(b"event: request.journalled\ndata: ");
    let _ = serde_json::to_writer(
        &mut *out,
        &Journalled {
            account_sid,
            request_id,
            method,
            path,
            status,
            error_code,
        },
    );
    out.extend_from_slice(b"\n\n");
}

/// Appends `event` as one SSE event (`event:` and `data:` lines, a blank line) to `out`.
pub(super) fn write_sse(out: &mut Vec<u8>, event: &Event) {
    if let Event::RequestJournalled {
        account_sid,
        request_id,
        method,
        path,
        status,
        error_code,
    } = event
    {
        let account_sid = account_sid.as_ref().map(|s| s.as_str());
        let request_id = request_id.as_str();
        return write_journalled(
            out,
            account_sid,
            request_id,
            method,
            path,
            *status,
            *error_code,
        );
    }
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name(event).as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Compact JSON has no line breaks, so it is one `data:` line. Writing to a Vec only fails
    // on a serializer error, which these plain values do not have.
    let _ = match event {
        Event::CallStep(s) => serde_json::to_writer(&mut *out, &step(s)),
        other => serde_json::to_writer(&mut *out, &data(other)),
    };
    out.extend_from_slice(b"\n\n");
}

/// The JSON `data:` of the events `write_sse` does not write from a struct of their own.
fn data(event: &Event) -> Value {
    match event {
        Event::CallerIdCreated(row) | Event::CallerIdRenamed(row) => {
            serde_json::to_value(to_json(row)).unwrap_or(Value::Null)
        }
        Event::CallerIdDeleted { account_sid, sid } => json!({
            "account_sid": account_sid.as_str(),
            "sid": sid.as_str(),
        }),
        Event::CallbackAttempted {
            account_sid,
            call_sid,
            attempt,
            state,
        } => json!({
            "account_sid": account_sid.as_str(),
            "call_sid": call_sid.as_str(),
            "callback_id": attempt.callback_id,
            "attempt": attempt.attempt,
            "at": rfc3339_millis(attempt.at),
            "url": attempt.url,
            "signature": attempt.signature,
            "status_code": attempt.status_code,
            "latency_ms": attempt.latency_ms,
            "error": attempt.error,
            "state": state.as_str(),
        }),
        // Written from their own structs by `write_sse`, without a `Value`.
        Event::CallStep(_) | Event::RequestJournalled { .. } => Value::Null,
        Event::AccountCreated { sid } | Event::AccountDeleted { sid } => {
            json!({ "sid": sid.as_str() })
        }
        Event::Reset => json!({}),
    }
}
