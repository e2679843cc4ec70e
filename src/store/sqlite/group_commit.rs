//! Validation requests are committed in groups: a task of its own takes every request waiting
//! and writes them in one transaction, each inside a savepoint, and answers each once the group
//! is committed. A request writes about eight pages (the call, its timeline, the caller ID and
//! their indexes); a group shares those pages and one commit.

use std::sync::Arc;

use sqlx::{FromRow, QueryBuilder, Row, Sqlite};
use tokio::sync::{mpsc, oneshot};

use super::callbacks::write_attempts;
use super::rows::CallRow;
use super::statements::{push_callback, push_change_rows};
use super::{Change, Core, Write};
use crate::domain::call::Call;
use crate::domain::callback::{Attempted, Callback, CallbackState, NewCallback};
use crate::domain::caller_id::NewCallerId;
use crate::domain::plan::NewCall;
use crate::store::{CreatedCall, StoreError};

/// The most validation requests committed together.
const CREATES_PER_COMMIT: usize = 64;

/// What waits for the group commit: a validation request, or callback attempts to record
/// (written in the same transaction as the requests, before them).
pub(super) enum Job {
    Create {
        new: Box<NewCall>,
        reply: oneshot::Sender<Result<CreatedCall, StoreError>>,
    },
    Attempts {
        attempts: Vec<Attempted>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

pub(super) type Queue = mpsc::UnboundedSender<Job>;

fn closed() -> StoreError {
    StoreError::Backend("the store is closed".into())
}

/// Starts the group commit's task, which ends when the returned queue's last clone is gone.
pub(super) fn start(core: Arc<Core>) -> Queue {
    let (queue, jobs) = mpsc::unbounded_channel();
    tokio::spawn(run(core, jobs));
    queue
}

/// Stores `new` with the next group; its outcome once that group is committed.
pub(super) async fn submit(queue: &Queue, new: NewCall) -> Result<CreatedCall, StoreError> {
    let (reply, answer) = oneshot::channel();
    queue
        .send(Job::Create {
            new: Box::new(new),
            reply,
        })
        .map_err(|_| closed())?;
    answer.await.map_err(|_| closed())?
}

/// Records `attempts` with the next group; done once that group is committed.
pub(super) async fn record(queue: &Queue, attempts: Vec<Attempted>) -> Result<(), StoreError> {
    let (reply, answer) = oneshot::channel();
    queue
        .send(Job::Attempts { attempts, reply })
        .map_err(|_| closed())?;
    answer.await.map_err(|_| closed())?
}

async fn run(core: Arc<Core>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let (mut news, mut replies, mut attempts, mut recorded) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Create { new, reply } => {
                    news.push(*new);
                    replies.push(reply);
                }
                Job::Attempts {
                    attempts: mut more,
                    reply,
                } => {
                    attempts.append(&mut more);
                    recorded.push(reply);
                }
            }
            if news.len() < CREATES_PER_COMMIT {
                next = jobs.try_recv().ok();
            }
        }
        // Without savepoints first; should one request fail, the group is rolled back and
        // written again with a savepoint per request, so that the others still commit.
        let outcome = match create_group(&core, &news, &attempts, false).await {
            Ok(outcomes) => Ok(outcomes),
            Err(_) => create_group(&core, &news, &attempts, true).await,
        };
        let attempted = outcome.as_ref().map(|_| ()).map_err(|e| e.to_string());
        for reply in recorded {
            let _ = reply.send(attempted.clone().map_err(|e| StoreError::Backend(e.into())));
        }
        match outcome {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Backend(message.clone().into())));
                }
            }
        }
    }
}

/// Writes `attempts` and `group` in one transaction; the outcome of each request, or the error
/// that failed them all.
/// With `savepoints`, each request is written inside a savepoint and one that fails is rolled
/// back alone; without, any request that fails fails the group. A savepoint makes SQLite
/// copy every page a request changes that an earlier one of the group changed already (its
/// sub-journal): the group's hot pages once per request, for a failure that does not come.
async fn create_group(
    core: &Core,
    group: &[NewCall],
    attempts: &[Attempted],
    savepoints: bool,
) -> Result<Vec<Result<CreatedCall, StoreError>>, StoreError> {
    let mut write = core.transaction().await?;
    if !attempts.is_empty() {
        write_attempts(write.conn(), attempts).await?;
    }
    let mut outcomes = Vec::with_capacity(group.len());
    // Holding the writer's turn, memory is exactly what is committed; numbers verified earlier
    // in this group are checked too.
    let mut made: Vec<&NewCallerId> = Vec::new();
    for new in group {
        let call = &new.change.to;
        if core.number_taken(&call.account_sid, &call.to, &made) {
            outcomes.push(Err(StoreError::Conflict(
                "the number is verified on the account",
            )));
            continue;
        }
        if new.assumes_no_behavior && core.behavior_set(&call.account_sid, &call.to) {
            outcomes.push(Err(StoreError::BehaviorSet));
            continue;
        }
        match create_one(&mut write, new, savepoints).await {
            Ok(created) => {
                made.extend(&new.change.caller_id);
                outcomes.push(Ok(created));
            }
            Err(e) if !savepoints => return Err(e),
            Err(e) => {
                sqlx::query("ROLLBACK TO one_create; RELEASE one_create")
                    .execute(write.conn())
                    .await?;
                outcomes.push(Err(e));
            }
        }
    }
    let changes = made
        .into_iter()
        .map(|c| Change::PutCallerId(c.clone().into_caller_id()))
        .collect();
    let mut put = write.commit(changes).await?.into_iter();
    // The caller IDs were put in the order of the requests that made them.
    for (new, outcome) in group.iter().zip(outcomes.iter_mut()) {
        if let (Ok(created), Some(_)) = (outcome, &new.change.caller_id) {
            created.caller_id = put.next();
        }
    }
    Ok(outcomes)
}

/// One validation request's statements, inside a savepoint if `savepoint`, in one round trip: end the calls
/// pending for the number as `new.supersede` says (their events and the UPDATE … RETURNING),
/// insert the call and what goes with it. Then the callbacks of the superseded calls. Returns
/// the superseded calls, and the call's own callback when it was stored claimed.
async fn create_one(
    write: &mut Write<'_>,
    new: &NewCall,
    savepoint: bool,
) -> Result<CreatedCall, StoreError> {
    let call = &new.change.to;
    let end = &new.supersede;
    let mut q = QueryBuilder::<Sqlite>::new(if savepoint {
        "SAVEPOINT one_create; "
    } else {
        ""
    });
    q.push("INSERT INTO call_events (call_sid, at, status, note) SELECT sid, ");
    q.push_bind(end.at)
        .push(", ")
        .push_bind(end.status.as_str())
        .push(", ")
        .push_bind(&end.note)
        .push(" FROM calls WHERE account_sid = ")
        .push_bind(call.account_sid.as_str())
        .push(" AND to_number = ")
        .push_bind(call.to.as_str())
        .push(" AND next_action_at IS NOT NULL; UPDATE calls SET status = ")
        .push_bind(end.status.as_str())
        .push(", verification_status = ")
        .push_bind(end.verification_status.as_str())
        .push(", next_action_at = NULL, end_time = ")
        .push_bind(end.at)
        .push(", date_updated = ")
        .push_bind(end.at)
        .push(" WHERE account_sid = ")
        .push_bind(call.account_sid.as_str())
        .push(" AND to_number = ")
        .push_bind(call.to.as_str())
        .push(" AND next_action_at IS NOT NULL RETURNING 'superseded' AS kind, *; ");
    q.push(
        "INSERT INTO calls (sid, account_sid, to_number, friendly_name, validation_code,
         extension, call_delay, status_callback, status_callback_method, behavior, status,
         verification_status, digits, next_action_at, outgoing_caller_id_sid, date_created,
         date_updated, start_time, end_time, duration) ",
    );
    q.push_values([call], |mut row, c| {
        row.push_bind(c.sid.as_str())
            .push_bind(c.account_sid.as_str())
            .push_bind(c.to.as_str())
            .push_bind(c.friendly_name.as_str())
            .push_bind(&c.validation_code)
            .push_bind(&c.extension)
            .push_bind(c.call_delay)
            .push_bind(&c.status_callback)
            .push_bind(c.status_callback_method.as_str())
            .push_bind(c.behavior.as_str())
            .push_bind(c.status.as_str())
            .push_bind(c.verification_status.map(|v| v.as_str()))
            .push_bind(&c.digits)
            .push_bind(c.next_action_at)
            .push_bind(c.outgoing_caller_id_sid.as_ref().map(|s| s.as_str()))
            .push_bind(c.date_created)
            .push_bind(c.date_updated)
            .push_bind(c.start_time)
            .push_bind(c.end_time)
            .push_bind(c.duration);
    });
    q.push("; ");
    let claimed = new
        .change
        .callback
        .as_ref()
        .filter(|_| new.claim_callback)
        .map(|cb| (cb, crate::domain::sid::random_uuid()));
    push_change_rows(&mut q, &new.change, claimed.is_some());
    if let Some((cb, token)) = &claimed {
        push_callback(
            &mut q,
            &call.account_sid,
            &call.sid,
            cb,
            new.change.at,
            Some(token),
        );
    }
    if savepoint {
        q.push("RELEASE one_create");
    }
    let mut superseded = Vec::new();
    let mut callback = None;
    for row in q.build().fetch_all(write.conn()).await? {
        match row.try_get::<&str, _>("kind")? {
            "callback" => {
                callback = claimed.as_ref().map(|(cb, token)| Callback {
                    id: row.try_get("id").unwrap_or_default(),
                    account_sid: call.account_sid.clone(),
                    call_sid: call.sid.clone(),
                    url: cb.url.clone(),
                    method: cb.method,
                    params: cb.params.clone(),
                    idempotency_token: token.clone(),
                    state: CallbackState::Sending,
                    attempts: 0,
                    next_attempt_at: None,
                    created_at: new.change.at,
                })
            }
            _ => superseded.push(CallRow::from_row(&row)?.parse()?),
        }
    }
    let callbacks: Vec<(&Call, NewCallback)> = superseded
        .iter()
        .filter_map(|ended| ended.status_callback().map(|cb| (ended, cb)))
        .collect();
    if !callbacks.is_empty() {
        let mut q = QueryBuilder::<Sqlite>::new("");
        for (ended, cb) in &callbacks {
            push_callback(&mut q, &ended.account_sid, &ended.sid, cb, end.at, None);
        }
        q.build().execute(write.conn()).await?;
    }
    Ok(CreatedCall {
        superseded,
        caller_id: None,
        callback,
    })
}
