//! The emulator's PostgreSQL sessions plan statements onto their indexes however small the
//! tables were when the plan was made. sqlx prepares each statement once per connection, and
//! PostgreSQL caches a generic plan for it after five executions; on a new database, where
//! `calls` has a few rows, that plan is a sequential scan, kept for the connection's life, so every
//! validation request read the whole table (its supersede step, and the foreign-key check of
//! each new timeline row) and got slower with every call made. Checked with `EXPLAIN` of the
//! generic plans on a freshly migrated database holding a few calls, in a session with the
//! emulator's settings and, for contrast, in one without them. Needs `CALLERID_TEST_POSTGRES_URL`.

use std::str::FromStr;

use callerid_emulator::store::postgres::SESSION_SETTINGS;
use callerid_emulator::store::Store;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::helpers::pg::{cluster_url, TempDatabase};

/// The statements whose plans matter: the supersede step of a validation request, and
/// PostgreSQL's own foreign-key check of a new `call_events` row.
const STATEMENTS: [(&str, &str); 2] = [
    (
        "PREPARE supersede(text, text) AS UPDATE calls SET status = 'canceled'
         WHERE account_sid = $1 AND to_number = $2 AND next_action_at IS NOT NULL",
        "EXPLAIN EXECUTE supersede('AC00000000000000000000000000000001', '+14155550100')",
    ),
    (
        "PREPARE key_check(text) AS SELECT 1 FROM ONLY calls x WHERE sid = $1 FOR KEY SHARE OF x",
        "EXPLAIN EXECUTE key_check('CA00000000000000000000000000000001')",
    ),
];

/// The generic plans of [`STATEMENTS`], as `EXPLAIN` prints them, in a session opened with
/// `settings`.
async fn generic_plans(url: &str, settings: &[(&str, &str)]) -> Vec<String> {
    let options = PgConnectOptions::from_str(url)
        .expect("url")
        .options(settings.iter().copied());
    let mut conn = PgConnection::connect_with(&options).await.expect("connect");
    sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
        .execute(&mut conn)
        .await
        .expect("set");
    let mut plans = Vec::new();
    for (prepare, explain) in STATEMENTS {
        sqlx::raw_sql(prepare)
            .execute(&mut conn)
            .await
            .expect("prepare");
        let lines: Vec<String> = sqlx::query_scalar(explain)
            .fetch_all(&mut conn)
            .await
            .expect("explain");
        plans.push(lines.join("\n"));
    }
    let _ = conn.close().await;
    plans
}

#[tokio::test]
async fn plans_made_on_small_tables_take_the_indexes() {
    let Some(cluster) = cluster_url("the PostgreSQL plan test") else {
        return;
    };
    let db = TempDatabase::create(&cluster);
    // The emulator's own migrations make the tables; a first few calls go in, as a new
    // database's first validation requests would put them, and are counted (autovacuum
    // analyzes a small table soon after its first rows).
    let store = Store::connect(&db.url, 1)
        .await
        .expect("the store connects");
    let mut conn = PgConnection::connect(&db.url).await.expect("connect");
    sqlx::raw_sql(
        "INSERT INTO accounts (sid, auth_token, friendly_name, configured, date_created,
             date_updated)
         VALUES ('AC00000000000000000000000000000002', 'token', '', FALSE, 0, 0);
         INSERT INTO calls (sid, account_sid, to_number, friendly_name, validation_code,
             call_delay, status_callback_method, behavior, status, date_created, date_updated)
         SELECT 'CA' || lpad(i::text, 32, '0'), 'AC00000000000000000000000000000002',
             '+1206555' || lpad(i::text, 4, '0'), '', '123456', 0, 'POST', 'auto',
             'completed', 0, 0
         FROM generate_series(1, 5) AS i;
         ANALYZE calls",
    )
    .execute(&mut conn)
    .await
    .expect("the first calls");
    let _ = conn.close().await;

    let with = generic_plans(&db.url, &SESSION_SETTINGS).await;
    assert!(with[0].contains("calls_pending_by_number"), "{}", with[0]);
    assert!(with[1].contains("calls_pkey"), "{}", with[1]);
    for plan in &with {
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }

    // Without the settings the same plans read the whole table: what the settings are for.
    let without = generic_plans(&db.url, &[]).await;
    assert!(
        without.iter().any(|p| p.contains("Seq Scan on calls")),
        "{without:?}"
    );
    store.close().await;
}
