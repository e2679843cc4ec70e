//! Requests that may write, cut short by `--request-timeout-ms`: each one's handler still runs
//! to its end, so what it wrote is whole (in the SQLite file and in the memory the reads answer
//! from) and what follows the write (handing a StatusCallback to the sender) happens too. The
//! tests hold SQLite's write lock from a connection of their own, so that the write waits
//! inside the database past the timeout. SQLite only: the lock is SQLite's.

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqlitePool};

use crate::helpers::*;

/// The server with a 300 ms request timeout, or `None` on PostgreSQL.
async fn server() -> Option<TestApp> {
    if crate::helpers::pg::backend_is_postgres() {
        eprintln!("SQLite's write lock only: skipped on PostgreSQL");
        return None;
    }
    Some(TestApp::spawn_with(|s| s.request_timeout_ms = 300).await)
}

/// SQLite's write lock, taken on a connection of the test's own, and the connection.
async fn hold_write_lock(app: &TestApp) -> (SqlitePool, PoolConnection<Sqlite>) {
    let pool = crate::helpers::db::connect(&app.db_url, true).await;
    let mut held = pool.acquire().await.expect("connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *held)
        .await
        .expect("write lock");
    (pool, held)
}

async fn release(held: &mut PoolConnection<Sqlite>) {
    sqlx::query("COMMIT")
        .execute(&mut **held)
        .await
        .expect("release");
}

fn assert_timed_out((status, body): (u16, serde_json::Value)) {
    assert_eq!(
        (status, body["code"].as_i64()),
        (408, Some(20001)),
        "{body}"
    );
}

#[tokio::test]
async fn a_rename_cut_short_by_the_timeout_still_reaches_the_fetch() {
    let Some(app) = server().await else { return };
    let seeded = seed_in(&app, SID, "+14155550147", Some("Before")).await;
    let path = app.api(&format!(
        "/OutgoingCallerIds/{}.json",
        seeded["sid"].as_str().expect("sid")
    ));
    let (_pool, mut held) = hold_write_lock(&app).await;
    assert_timed_out(status_json(app.post_form(&path, &[("FriendlyName", "After")])).await);
    release(&mut held).await;

    let name = |app: &TestApp| {
        let request = app.get(&path);
        async move { status_json(request).await.1["friendly_name"].clone() }
    };
    let renamed = wait_for(std::time::Duration::from_secs(10), || async {
        (name(&app).await == "After").then_some(())
    })
    .await;
    let stored: String = sqlx::query_scalar("SELECT friendly_name FROM outgoing_caller_ids")
        .fetch_one(&mut *held)
        .await
        .expect("read");
    assert_eq!(stored, "After", "the rename reached the database");
    assert!(
        renamed.is_some(),
        "the fetch answers {} where the database holds After",
        name(&app).await
    );
}

#[tokio::test]
async fn a_validation_request_cut_short_by_the_timeout_still_sends_its_callback() {
    let Some(app) = server().await else { return };
    let receiver = Receiver::start().await;
    let (_pool, mut held) = hold_write_lock(&app).await;
    let request = app.post_form(
        &app.api("/OutgoingCallerIds.json"),
        &[
            ("PhoneNumber", "+14155550148"),
            ("StatusCallback", &receiver.url),
        ],
    );
    assert_timed_out(status_json(request).await);
    release(&mut held).await;

    let delivered = receiver.wait_for(1).await;
    assert_eq!(
        delivered.len(),
        1,
        "one callback for one validation request"
    );
    assert_eq!(
        delivered[0].param("VerificationStatus").as_deref(),
        Some("success")
    );
    let listed = caller_ids(&app, &dev()).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["phone_number"], "+14155550148");
}
