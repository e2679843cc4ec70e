//! Connections for the statements every API request makes (a caller ID, a page of them, a
//! validation request's transaction), kept apart from sqlx's pool because of what that pool
//! does when a connection goes back: it pings it, a round trip to the database for every
//! statement, on a task of its own. Here a connection goes back only when the work done on it
//! finished ([`Held::release`]); one whose work failed on the connection, or was dropped half
//! way (the request's client went away), is closed instead, so the next user never finds a
//! statement half read or a transaction left open. A connection broken while idle (the
//! database restarted) fails its next statement, once, and is closed.

use std::sync::Mutex;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::ACQUIRE_TIMEOUT;
use crate::store::StoreError;

pub(super) struct Lean {
    options: PgConnectOptions,
    idle: Mutex<Vec<PgConnection>>,
    /// One permit per connection there may be, idle or held.
    permits: Semaphore,
}

/// A connection taken from [`Lean`]; closed when dropped unless released.
pub(super) struct Held<'a> {
    conn: Option<PgConnection>,
    lean: &'a Lean,
    _permit: SemaphorePermit<'a>,
}

impl Lean {
    pub(super) fn new(options: PgConnectOptions, size: usize) -> Lean {
        Lean {
            options,
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Semaphore::new(size),
        }
    }

    /// Runs `work` on a connection of the set (see [`Lean::take`]), then gives it back or
    /// closes it as [`Held::release`] says.
    pub(super) async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: AsyncFnOnce(&mut PgConnection) -> Result<T, StoreError>,
    {
        let mut held = self.take().await?;
        let outcome = work(held.conn()).await;
        held.release(&outcome);
        outcome
    }

    /// An idle connection, or a new one while there are fewer than the size; waits for one
    /// to come back at most [`ACQUIRE_TIMEOUT`], connecting included.
    async fn take(&self) -> Result<Held<'_>, StoreError> {
        let taking = async {
            let permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| sqlx::Error::PoolClosed)?;
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match idle {
                Some(conn) => conn,
                None => PgConnection::connect_with(&self.options).await?,
            };
            Ok::<_, sqlx::Error>(Held {
                conn: Some(conn),
                lean: self,
                _permit: permit,
            })
        };
        match tokio::time::timeout(ACQUIRE_TIMEOUT, taking).await {
            Ok(held) => Ok(held?),
            Err(_) => Err(sqlx::Error::PoolTimedOut.into()),
        }
    }

    /// Closes the idle connections; connections held now are closed as they are dropped.
    pub(super) async fn close(&self) {
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for conn in idle {
            let _ = conn.close().await;
        }
    }
}

impl Held<'_> {
    fn conn(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("a held connection")
    }

    /// Gives the connection back if `outcome` leaves it ready for the next statement: a
    /// success, or an error the database answered (the connection read its whole answer).
    fn release<T>(mut self, outcome: &Result<T, StoreError>) {
        let ready = match outcome {
            Ok(_) => true,
            Err(StoreError::Backend(source)) => matches!(
                source.downcast_ref::<sqlx::Error>(),
                Some(sqlx::Error::Database(_) | sqlx::Error::RowNotFound)
            ),
            Err(StoreError::Corrupt(_)) => false,
            Err(_) => true,
        };
        if ready && !self.lean.permits.is_closed() {
            if let Some(conn) = self.conn.take() {
                let mut idle = self.lean.idle.lock().unwrap_or_else(|e| e.into_inner());
                idle.push(conn);
            }
        }
    }
}

#[cfg(test)]
mod tests;
