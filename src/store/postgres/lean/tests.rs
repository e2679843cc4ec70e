use std::str::FromStr;
use std::time::Duration;

use super::*;

/// The test cluster's options, from `CALLERID_TEST_POSTGRES_URL`; required in CI.
fn options() -> Option<PgConnectOptions> {
    match std::env::var("CALLERID_TEST_POSTGRES_URL") {
        Ok(url) => Some(PgConnectOptions::from_str(&url).expect("a PostgreSQL URL")),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI runs the PostgreSQL tests: set CALLERID_TEST_POSTGRES_URL")
        }
        Err(_) => {
            eprintln!("skipped: set CALLERID_TEST_POSTGRES_URL to run the lean connection test");
            None
        }
    }
}

/// The server process of the connection `lean` hands out next.
async fn backend(lean: &Lean) -> i32 {
    lean.run(async |c| {
        Ok(sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(c)
            .await?)
    })
    .await
    .expect("its pid")
}

#[tokio::test]
async fn a_connection_goes_back_after_its_work_and_is_closed_when_the_work_is_cut_short() {
    let Some(options) = options() else {
        return;
    };
    let lean = Lean::new(options, 2);
    let first = backend(&lean).await;
    assert_eq!(backend(&lean).await, first, "back after a statement");

    let failed = lean
        .run(async |c| Ok(sqlx::query("SELECT 1 / 0").execute(c).await?))
        .await;
    assert!(failed.is_err(), "division by zero");
    assert_eq!(
        backend(&lean).await,
        first,
        "back after an error the database answered"
    );

    // Dropped while the database has yet to answer, as when a request's client goes away:
    // the answer would reach the next statement, so the connection is closed instead.
    let cut = tokio::time::timeout(Duration::from_millis(200), async {
        lean.run(async |c| Ok(sqlx::query("SELECT pg_sleep(5)").execute(c).await?))
            .await
    })
    .await;
    assert!(cut.is_err(), "cut short");
    let next = backend(&lean).await;
    assert_ne!(next, first, "a new connection");
    assert_eq!(backend(&lean).await, next);

    lean.close().await;
    let closed = lean.run(async |_| Ok(())).await;
    assert!(closed.is_err(), "closed");
}
