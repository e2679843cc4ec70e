//! The request journal's table on PostgreSQL is a queue: every batch of requests appends rows
//! and deletes as many of the oldest. Deleted rows stay in the table and its indexes until a
//! vacuum, and PostgreSQL's autovacuum looks at a table about once a minute, so each replica
//! deletes from where its last delete ended and vacuums the table itself. These tests drive
//! the store's journal writes as a busy replica makes them and check what the table holds.
//! Need `CALLERID_TEST_POSTGRES_URL`.

use std::time::Duration;

use callerid_emulator::store::{JournalledRequest, Store};
use sqlx::{Connection, PgConnection};

use crate::helpers::pg::{cluster_url, TempDatabase};

const ACCOUNT: &str = "AC00000000000000000000000000000003";

/// `n` entries answered at `at`, `at + 1`, … (milliseconds), numbered from `first`; each about
/// as long as a real entry.
fn batch(first: usize, n: usize, at: i64) -> Vec<JournalledRequest> {
    (0..n)
        .map(|i| JournalledRequest {
            at: at + i as i64,
            account_sid: Some(ACCOUNT.to_string()),
            entry: format!("{{\"n\":{},\"pad\":\"{}\"}}", first + i, "x".repeat(380)),
        })
        .collect()
}

/// Writes `entries` through the store, keeping `keep`, as a replica's journal batch does.
async fn write(store: &Store, entries: Vec<JournalledRequest>, keep: i64) {
    store.journal_requests(&entries, keep).await.expect("write");
}

/// The numbers from `to - 1` down to `from`: the newest entries, newest first.
fn newest_first(from: usize, to: usize) -> Vec<usize> {
    (from..to).rev().collect()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn scalar(url: &str, sql: &str) -> i64 {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let value: i64 = sqlx::query_scalar(sql)
        .fetch_one(&mut conn)
        .await
        .expect(sql);
    let _ = conn.close().await;
    value
}

/// The numbers of the newest `limit` entries the store returns, newest first.
async fn newest(store: &Store, limit: i64) -> Vec<usize> {
    store
        .journalled_requests(Some(ACCOUNT), limit)
        .await
        .expect("read")
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(e).expect("json");
            v["n"].as_u64().expect("n") as usize
        })
        .collect()
}

#[tokio::test]
async fn a_journal_written_for_a_long_time_keeps_its_table_small() {
    let Some(cluster) = cluster_url("the PostgreSQL request journal test") else {
        return;
    };
    let db = TempDatabase::create(&cluster);
    let store = Store::connect(&db.url, 1).await.expect("connect");
    // 60,000 requests in batches of 500, the journal keeping 1,000: 59,000 rows deleted.
    let start = now_ms() - 60_000;
    for b in 0..120 {
        let entries = batch(b * 500, 500, start + b as i64 * 500);
        store
            .journal_requests(&entries, 1_000)
            .await
            .expect("write");
    }
    let rows = scalar(&db.url, "SELECT count(*) FROM request_journal").await;
    assert!(rows <= 1_500, "at most the kept and one batch: {rows}");
    assert_eq!(newest(&store, 1_000).await, newest_first(59_000, 60_000));
    // Unvacuumed, the 60,000 rows of about 450 bytes take 39 MB with their indexes; vacuumed
    // every 10,000 deleted, about 9 MB.
    let bytes = scalar(&db.url, "SELECT pg_total_relation_size('request_journal')").await;
    assert!(bytes < 16 << 20, "the table and its indexes: {bytes} bytes");
    store.close().await;
}

#[tokio::test]
async fn rows_written_below_the_floor_are_deleted_within_about_a_second() {
    let Some(cluster) = cluster_url("the PostgreSQL request journal test") else {
        return;
    };
    let db = TempDatabase::create(&cluster);
    let store = Store::connect(&db.url, 1).await.expect("connect");
    let count = || scalar(&db.url, "SELECT count(*) FROM request_journal");
    let at = now_ms();
    // Three batches of 200, keeping 100: this store's deletes reached the second batch.
    for b in 0..3 {
        write(&store, batch(b * 200, 200, at + b as i64 * 200), 100).await;
    }
    assert_eq!(count().await, 300);
    // A replica whose clock is an hour behind writes 50: below where this one's deletes
    // stand. The next write, soon after, deletes from there on and leaves them.
    write(&store, batch(10_000, 50, at - 3_600_000), 100).await;
    write(&store, batch(600, 200, at + 600), 100).await;
    assert_eq!(count().await, 350, "the 50 are still there");
    // They are never among the newest.
    assert_eq!(newest(&store, 100).await, newest_first(700, 800));
    // A write a second later looks from the oldest end again.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    write(&store, batch(800, 200, at + 800), 100).await;
    assert_eq!(count().await, 300, "the kept 100 and the last batch");
    assert_eq!(newest(&store, 100).await, newest_first(900, 1000));
    store.close().await;
}
