//! How SQLite stores a callback's attempts: the newest in the callback's row, the ones before
//! it in callback_attempts (migration 0007), and files written before that layout. Reads the
//! SQLite file itself.

use std::sync::Arc;

use serde_json::Value;

use crate::helpers::db::{callback_rows, connect};
use crate::helpers::*;

#[tokio::test]
async fn attempts_stored_before_a_callback_kept_its_newest_are_still_listed_in_order() {
    // SQLite keeps a callback's newest attempt in its row and moves the one before to
    // callback_attempts (migration 0007); a file written before that holds every attempt in
    // callback_attempts. Both layouts list the same attempts.
    if crate::helpers::pg::skip_on_postgres("writing the SQLite file's older layout") {
        return;
    }
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut settings = test_settings(&dir);
    settings.callback_attempts = 2;
    settings.callback_retry_delay_ms = 50;
    let app = TestApp::spawn_in(dir.clone(), settings.clone()).await;
    let db_url = app.db_url.clone();
    let url = closed_port_url().await;
    let created = create(
        &app,
        &[("PhoneNumber", "+14155550298"), ("StatusCallback", &url)],
    )
    .await;
    let sid = call_sid(&created);
    let listed = |journal: &Value| -> Vec<(u64, bool)> {
        journal["attempts"]
            .as_array()
            .expect("attempts")
            .iter()
            .map(|a| (a["attempt"].as_u64().unwrap_or(0), a["error"].is_string()))
            .collect()
    };
    let journal = wait_callback_state(&app, &sid, "failed").await;
    assert_eq!(listed(&journal), [(1, true), (2, true)], "{journal}");
    let rows = callback_rows(&db_url).await;
    assert_eq!((rows[0].1, rows[0].4), (2, 2), "{rows:?}");
    let dir = app.stop().await;

    // The older layout: the newest attempt in callback_attempts too, none in the row.
    let pool = connect(&db_url, true).await;
    let moved = sqlx::query(
        "INSERT INTO callback_attempts (callback_id, attempt, at, url, signature, status_code,
         latency_ms, error)
         SELECT id, attempts, last_at, last_url, last_signature, last_status_code,
         last_latency_ms, last_error FROM callbacks WHERE last_at IS NOT NULL",
    )
    .execute(&pool)
    .await
    .expect("move the newest attempt");
    assert_eq!(moved.rows_affected(), 1);
    sqlx::query("UPDATE callbacks SET last_at = NULL, last_url = NULL, last_error = NULL")
        .execute(&pool)
        .await
        .expect("clear the row's attempt");
    pool.close().await;

    let app = TestApp::spawn_in(dir.clone(), settings).await;
    let journal = wait_callback_state(&app, &sid, "failed").await;
    assert_eq!(listed(&journal), [(1, true), (2, true)], "{journal}");
}
