//! The kept-alive connections of the plain-HTTP client, by receiver (host and port), newest
//! last. A task of the pool's own sweeps every few seconds the connections that their
//! receiver closed or that were idle too long, so that receivers that are gone (a test suite
//! starts one per test) hold no descriptors.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long a kept-alive connection to a receiver may stay idle before it is closed.
pub(super) const IDLE: Duration = Duration::from_secs(90);
/// Idle connections kept per receiver at most.
const MAX_IDLE: usize = 64;
/// Receivers with idle connections at most; a connection to one more is not kept.
const MAX_RECEIVERS: usize = 1024;
/// How often the idle connections are swept.
const SWEEP: Duration = Duration::from_secs(5);

pub(super) type Receiver = (String, u16);
type Kept = HashMap<Receiver, Vec<(TcpStream, Instant)>>;

#[derive(Default)]
pub(super) struct Pool {
    kept: Arc<Mutex<Kept>>,
    /// Whether the sweeping task runs.
    sweeping: AtomicBool,
}

impl Pool {
    /// The newest connection kept for `receiver`. It is not checked for being open, which
    /// would cost a system call each time: a request on one the receiver closed meanwhile
    /// fails before any answer, and the client sends it again on a new connection.
    pub fn take(&self, receiver: &Receiver) -> Option<TcpStream> {
        let mut kept = lock(&self.kept);
        let idle = kept.get_mut(receiver)?;
        while let Some((stream, since)) = idle.pop() {
            if since.elapsed() < IDLE {
                return Some(stream);
            }
        }
        None
    }

    /// Keeps `stream`, which can carry another request to `receiver`.
    pub fn put(&self, receiver: Receiver, stream: TcpStream) {
        self.start_sweeping();
        let mut kept = lock(&self.kept);
        if kept.len() >= MAX_RECEIVERS && !kept.contains_key(&receiver) {
            sweep(&mut kept);
            if kept.len() >= MAX_RECEIVERS {
                return;
            }
        }
        let idle = kept.entry(receiver).or_default();
        if idle.len() < MAX_IDLE {
            idle.push((stream, Instant::now()));
        }
    }

    /// The connections kept, in all.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        lock(&self.kept).values().map(Vec::len).sum()
    }

    /// Sweeps now, as the pool's task does every few seconds.
    #[cfg(test)]
    pub fn sweep(&self) {
        sweep(&mut lock(&self.kept));
    }

    fn start_sweeping(&self) {
        if self.sweeping.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.sweeping.swap(true, Ordering::Relaxed) {
            return;
        }
        let kept: Weak<Mutex<Kept>> = Arc::downgrade(&self.kept);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(SWEEP).await;
                let Some(kept) = kept.upgrade() else {
                    return;
                };
                sweep(&mut lock(&kept));
            }
        });
    }
}

fn lock(kept: &Mutex<Kept>) -> std::sync::MutexGuard<'_, Kept> {
    kept.lock().unwrap_or_else(|e| e.into_inner())
}

/// Drops the connections that were closed or idle too long, and receivers left with none.
fn sweep(kept: &mut Kept) {
    kept.retain(|_, idle| {
        idle.retain(|(stream, since)| since.elapsed() < IDLE && open(stream));
        !idle.is_empty()
    });
}

/// Whether the receiver has neither closed `stream` nor sent anything on it unasked: a read
/// that would wait (no system call while the runtime has seen nothing to read).
fn open(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}
