//! The call scheduler: wakes when a call is due (or when told something changed), takes the
//! steps of every due call and stores them, a batch per transaction.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::call::Call;
use crate::domain::machine;
use crate::domain::plan::{CallChange, CallUpdate};
use crate::domain::time::now_millis;
use crate::service::Service;
use crate::store::Applied;

/// The most due calls moved on in one transaction: enough to share a commit among many calls,
/// few enough that requests waiting for the writer are not held up for long.
const CALLS_PER_TRANSACTION: usize = 32;

/// The most due calls read at once.
const DUE_PER_READ: i64 = 256;

impl Service {
    /// Runs the call scheduler until `shutdown` turns true.
    pub async fn run_calls(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let mut healthy = true;
            match self.store.due_calls(now_millis(), DUE_PER_READ).await {
                Ok(due) => {
                    for batch in due.chunks(CALLS_PER_TRANSACTION) {
                        healthy &= self.advance(batch).await;
                    }
                }
                Err(e) => {
                    healthy = false;
                    tracing::warn!(error = %e, "could not read due calls");
                }
            }
            let wait = match self.store.next_call_due().await {
                // After a database error, back off rather than spin on the same call.
                Ok(_) | Err(_) if !healthy => 250,
                Ok(Some(at)) => (at - now_millis()).clamp(0, 1_000),
                Ok(None) => 1_000,
                Err(_) => 250,
            };
            if wait == 0 {
                continue;
            }
            tokio::select! {
                _ = self.calls_due.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// The update that takes every step of `call` due at `now`.
    fn plan(&self, call: &Call, now: i64) -> CallUpdate {
        let (steps, to) = machine::steps_due(call, call.behavior, &self.timing, now);
        CallUpdate {
            from: call.guard(),
            change: CallChange::of_steps(steps, to, Vec::new(), now),
        }
    }

    /// Takes every step of `calls` that is due, in one transaction; a call whose number got
    /// verified meanwhile is planned again as a failed verification and stored in a second.
    /// `false` when the store failed.
    async fn advance(&self, calls: &[Call]) -> bool {
        let now = now_millis();
        let mut updates: Vec<CallUpdate> = calls.iter().map(|c| self.plan(c, now)).collect();
        loop {
            let applied = match self.store.apply_call_updates(&updates).await {
                Ok(applied) => applied,
                Err(e) => {
                    tracing::warn!(calls = calls.len(), error = %e, "could not move calls on");
                    return false;
                }
            };
            let mut again = Vec::new();
            let mut ended_any = false;
            for (update, applied) in updates.into_iter().zip(applied) {
                match applied {
                    Applied::Stale => {}
                    Applied::NumberTaken => again.push(CallUpdate {
                        from: update.from,
                        change: update.change.number_already_verified(),
                    }),
                    Applied::Done { caller_id } => {
                        tracing::debug!(call_sid = %update.from.sid, "call moved on");
                        let to = &update.change.to;
                        if to.has_ended() {
                            self.metrics.call_ended(to.status.as_str());
                            ended_any = true;
                        }
                        self.publish_change(&update.change, caller_id);
                    }
                }
            }
            if ended_any {
                self.wake_callbacks();
            }
            if again.is_empty() {
                return true;
            }
            updates = again;
        }
    }
}
