//! How SQLite stores a callback's attempts: the newest in the callback's row, the ones before
//! it in callback_attempts (migration 0007), and files written before that layout. Reads the
//! SQLite file itself.

use std::sync::Arc;

use serde_json::Value;

use crate::helpers::db::{callback_rows, connect, delivered_then_stopped, Delivered};
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

#[tokio::test]
async fn a_callback_stored_with_its_parameters_as_json_is_sent_with_them() {
    // Rows written before callbacks kept their form body hold the parameters as a JSON array
    // of [name, value] pairs; such a callback, still due, goes out with the same parameters,
    // signed over them.
    if crate::helpers::pg::skip_on_postgres("writing the SQLite file's older layout") {
        return;
    }
    let Delivered {
        dir,
        db_url,
        receiver,
        call_sid: sid,
        first,
    } = delivered_then_stopped("+14155550299").await;

    let pool = connect(&db_url, true).await;
    let body: String = sqlx::query_scalar("SELECT params FROM callbacks")
        .fetch_one(&pool)
        .await
        .expect("params");
    assert!(
        body.starts_with("AccountSid="),
        "stored as a form body: {body}"
    );
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    sqlx::query(
        "UPDATE callbacks SET params = ?, state = 'pending', attempts = 0, next_attempt_at = 0,
         last_at = NULL, last_url = NULL, last_signature = NULL, last_status_code = NULL,
         last_latency_ms = NULL, last_error = NULL",
    )
    .bind(serde_json::to_string(&pairs).expect("json"))
    .execute(&pool)
    .await
    .expect("store the parameters as JSON");
    pool.close().await;

    let app = TestApp::spawn_in(dir.clone(), test_settings(&dir)).await;
    let all = receiver.wait_for(2).await;
    let again = all.last().expect("second delivery");
    assert_eq!(again.body, first.body, "the same form body");
    assert_eq!(again.param("To").as_deref(), Some("+14155550299"));
    assert_signed(again, &receiver, TOKEN);
    let journal = wait_callback_state(&app, &sid, "delivered").await;
    assert_eq!(journal["params"]["CallSid"], sid.as_str());
}
