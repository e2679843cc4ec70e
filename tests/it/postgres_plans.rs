//! A replica's statements stay index-driven as its tables grow. sqlx prepares each statement
//! once per connection, and PostgreSQL caches a generic plan for it after five executions;
//! a plan cached while `calls` was nearly empty is a sequential scan, kept for the
//! connection's life, so every validation request read the whole table (its supersede step)
//! and got slower with every call made. Counted with PostgreSQL's own statistics
//! (`pg_stat_user_tables.seq_scan`), on the real binary. Needs `CALLERID_TEST_POSTGRES_URL`.

use std::time::Duration;

use crate::helpers::new_account;
use crate::helpers::replicas::{validation_request, Replicas};

/// Sequential scans of `calls` so far, once the count is settled: a backend reports its
/// statistics at most once a second, within a second of going idle.
async fn calls_seq_scans(r: &Replicas) -> i64 {
    let read = || r.query_i64("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'calls'");
    let mut last = read().await;
    loop {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let now = read().await;
        if now == last {
            return now;
        }
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_requests_never_scan_the_whole_calls_table() {
    let Some(r) = Replicas::start("the PostgreSQL plan test", 1, &["--time-scale", "0"]).await
    else {
        return;
    };
    let server = r.at(0);
    let account = new_account(server).await;
    // Enough requests for every pool connection to cache its generic plans, on a table with
    // hardly any rows.
    let requests = 60;
    let before = calls_seq_scans(&r).await;
    for i in 0..requests {
        let number = format!("+1415555{i:04}");
        let (status, body) =
            validation_request(server, &account, &[("PhoneNumber", &number)]).await;
        assert_eq!(status, 200, "{body}");
    }
    let after = calls_seq_scans(&r).await;
    eprintln!(
        "{requests} validation requests: {} sequential scans of calls",
        after - before
    );
    assert!(
        after - before < 3,
        "{requests} validation requests scanned the calls table {} times",
        after - before
    );
}
