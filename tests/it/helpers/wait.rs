//! Bounded polling for asynchronous work.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `probe` every 20 ms until it gives a value or `limit` passes. This bounds a wait
/// for asynchronous work; it asserts nothing about speed.
pub async fn wait_for<T, F, Fut>(limit: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
