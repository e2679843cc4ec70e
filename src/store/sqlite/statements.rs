//! The statements a call's change writes beside the call itself, appended to one query so
//! that they cost one round trip: shared by the group commit and the scheduler's updates.

use sqlx::{QueryBuilder, Sqlite};

use crate::domain::call::EventKind;
use crate::domain::callback::NewCallback;
use crate::domain::plan::CallChange;
use crate::domain::sid::{AccountSid, CallSid};

/// Appends the statements that store what goes with a call's new state: its timeline events,
/// its caller ID and, unless `claim_callback` (the caller queues it itself), its callback (each
/// followed by `; `).
pub(super) fn push_change_rows<'a>(
    q: &mut QueryBuilder<'a, Sqlite>,
    change: &'a CallChange,
    claim_callback: bool,
) {
    let call = &change.to;
    if !change.events.is_empty() {
        push_events(q, &call.sid, change.at, change.events.iter().cloned());
    }
    if let Some(new) = &change.caller_id {
        q.push(
            "INSERT INTO outgoing_caller_ids (sid, account_sid, phone_number, friendly_name,
             date_created, date_updated) VALUES (",
        );
        q.separated(", ")
            .push_bind(new.sid.as_str())
            .push_bind(new.account_sid.as_str())
            .push_bind(new.phone_number.as_str())
            .push_bind(new.friendly_name.as_str())
            .push_bind(new.date_created)
            .push_bind(new.date_created)
            .push_unseparated("); ");
    }
    if let Some(cb) = change.callback.as_ref().filter(|_| !claim_callback) {
        push_callback(q, &call.account_sid, &call.sid, cb, change.at, None);
    }
}

/// Appends the insert of timeline events, all at `at`, and `; `.
pub(super) fn push_events<'a>(
    q: &mut QueryBuilder<'a, Sqlite>,
    call: &'a CallSid,
    at: i64,
    events: impl IntoIterator<Item = (EventKind, String)>,
) {
    q.push("INSERT INTO call_events (call_sid, at, status, note) ");
    q.push_values(events, |mut row, (kind, note)| {
        row.push_bind(call.as_str())
            .push_bind(at)
            .push_bind(kind.as_str())
            .push_bind(note);
    });
    q.push("; ");
}

/// Appends the statement that queues `cb` and `; `: due at `at`, or, with a `claimed`
/// idempotency token, already claimed by the sender (`sending`, nothing due), its id returned
/// in a row whose `kind` is `callback`.
pub(super) fn push_callback<'a>(
    q: &mut QueryBuilder<'a, Sqlite>,
    account: &'a AccountSid,
    call: &'a CallSid,
    cb: &NewCallback,
    at: i64,
    claimed: Option<&'a str>,
) {
    let params = cb.params.body().to_owned();
    q.push(
        "INSERT INTO callbacks (account_sid, call_sid, url, method, params, idempotency_token,
         state, attempts, next_attempt_at, created_at) VALUES (",
    );
    let mut values = q.separated(", ");
    values
        .push_bind(account.as_str())
        .push_bind(call.as_str())
        .push_bind(cb.url.clone())
        .push_bind(cb.method.as_str())
        .push_bind(params);
    match claimed {
        Some(token) => {
            values
                .push_bind(token)
                .push_unseparated(", 'sending', 0, NULL, ")
                .push_bind_unseparated(at)
                // The id by a statement of its own rather than RETURNING: SQLite runs
                // RETURNING as a trigger, which makes the insert keep a statement journal,
                // a copy of each page it changes that the transaction had changed already.
                .push_unseparated("); SELECT 'callback' AS kind, last_insert_rowid() AS id; ");
        }
        None => {
            values
                .push_bind(crate::domain::sid::random_uuid())
                .push_unseparated(", 'pending', 0, ")
                .push_bind_unseparated(at)
                .push_unseparated(", ")
                .push_bind_unseparated(at)
                .push_unseparated("); ");
        }
    }
}
