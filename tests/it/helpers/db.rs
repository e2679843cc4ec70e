//! The test's SQLite file, read (or, to stage a crash, written) directly; its counts and
//! callback rows also from a PostgreSQL database. Only durability
//! tests use this module: what a test checks through the API goes through the API.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use super::app::TestApp;

/// One connection to the SQLite file at `db_url`, read-only unless `write` is set.
pub async fn connect(db_url: &str, write: bool) -> SqlitePool {
    let options = SqliteConnectOptions::from_str(db_url)
        .expect("db url")
        .read_only(!write);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("open test db")
}

/// Rows in `table`, read straight from the test's SQLite file (or PostgreSQL database).
pub async fn count_rows(app: &TestApp, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    if app.db_url.starts_with("postgres") {
        let pool = pg_connect(&app.db_url).await;
        let n: i64 = sqlx::query_scalar(&sql)
            .fetch_one(&pool)
            .await
            .expect("count");
        pool.close().await;
        return n;
    }
    let pool = connect(&app.db_url, false).await;
    let n: i64 = sqlx::query_scalar(&sql)
        .fetch_one(&pool)
        .await
        .expect("count");
    pool.close().await;
    n
}

/// One connection to the PostgreSQL database at `db_url`.
async fn pg_connect(db_url: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(db_url)
        .await
        .expect("open test db")
}

/// (state, attempts, next_attempt_at, idempotency_token, attempts recorded) of every callback,
/// read straight from the SQLite file (or PostgreSQL database). SQLite keeps a callback's
/// newest attempt in its row and the ones before it in callback_attempts.
pub async fn callback_rows(db_url: &str) -> Vec<(String, i64, Option<i64>, String, i64)> {
    const SQL: &str = "SELECT state, attempts, next_attempt_at, idempotency_token,
                (SELECT COUNT(*) FROM callback_attempts a WHERE a.callback_id = c.id)
         FROM callbacks c ORDER BY id";
    if db_url.starts_with("postgres") {
        let pool = pg_connect(db_url).await;
        let rows = sqlx::query_as(SQL)
            .fetch_all(&pool)
            .await
            .expect("callbacks");
        pool.close().await;
        return rows;
    }
    const SQLITE: &str = "SELECT state, attempts, next_attempt_at, idempotency_token,
                (SELECT COUNT(*) FROM callback_attempts a WHERE a.callback_id = c.id)
                + (last_at IS NOT NULL)
         FROM callbacks c ORDER BY id";
    let pool = connect(db_url, false).await;
    let rows = sqlx::query_as(SQLITE)
        .fetch_all(&pool)
        .await
        .expect("callbacks");
    pool.close().await;
    rows
}

/// A server stopped after delivering one callback, to stage a state of its SQLite file.
pub struct Delivered {
    /// The folder of the stopped server's file, to start it again in.
    pub dir: std::sync::Arc<tempfile::TempDir>,
    pub db_url: String,
    pub receiver: super::receiver::Receiver,
    pub call_sid: String,
    /// The request the receiver got.
    pub first: super::receiver::Received,
}

/// Starts a server, makes a validation request for `number` with a StatusCallback, waits for
/// it to be delivered and stops the server.
pub async fn delivered_then_stopped(number: &str) -> Delivered {
    let dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
    let app = TestApp::spawn_in(dir.clone(), super::app::test_settings(&dir)).await;
    let db_url = app.db_url.clone();
    let receiver = super::receiver::Receiver::start().await;
    let created = super::calls::create(
        &app,
        &[("PhoneNumber", number), ("StatusCallback", &receiver.url)],
    )
    .await;
    let call_sid = super::calls::call_sid(&created);
    let first = super::receiver::wait_callback(&receiver, &call_sid).await;
    super::calls::wait_callback_state(&app, &call_sid, "delivered").await;
    Delivered {
        dir: app.stop().await,
        db_url,
        receiver,
        call_sid,
        first,
    }
}
