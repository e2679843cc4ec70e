//! The benchmark's reference: the smallest axum + sqlx + SQLite server that reads one row and
//! returns it as JSON (`GET /row/{id}`), inserts one row (`POST /row`, JSON body
//! `{"name": "…"}`), and, for a like-for-like look at list pages, returns the 50 rows after an
//! id as a JSON array (`GET /rows?after={id}`). `scripts/bench` runs it beside the emulator and reports every emulator
//! figure as a ratio to it, since absolute numbers on a shared machine drift.
//!
//! It opens SQLite the way the emulator's store does (WAL, `synchronous=NORMAL`, a read pool and
//! one writer connection, no ping before each acquire) and goes to SQLite for every request.
//! With `--database postgres://…` it serves the same routes from PostgreSQL instead (one pool,
//! its table created and seeded the same way), the reference of the PostgreSQL benchmark.
//! The emulator adds routing, auth, validation, paging, Twilio's wire format, the request
//! journal, metrics and the per-request log line, and serves caller-ID reads from memory, so
//! the ratios measure both.
//!
//! ```text
//! cargo run --release --example reference_server -- --listen 127.0.0.1:4016 \
//!     --database /tmp/reference.db --seed 10000 --read-connections 4
//! cargo run --release --example reference_server -- --listen 127.0.0.1:4016 \
//!     --database postgres://localhost/reference --seed 10000 --read-connections 8
//! ```

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
enum Pools {
    Sqlite { read: SqlitePool, write: SqlitePool },
    Postgres(PgPool),
}

/// A row shaped like an outgoing caller ID.
#[derive(Serialize, sqlx::FromRow)]
struct Row {
    id: i64,
    sid: String,
    phone_number: String,
    friendly_name: String,
    date_created: i64,
    date_updated: i64,
}

#[derive(Deserialize)]
struct After {
    after: Option<i64>,
}

#[derive(Deserialize)]
struct NewRow {
    name: String,
}

struct Args {
    listen: SocketAddr,
    database: String,
    seed: i64,
    read_connections: u32,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 4016)),
        database: "reference.db".to_string(),
        seed: 10_000,
        read_connections: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => args.listen = value.parse()?,
            "--database" => args.database = value,
            "--seed" => args.seed = value.parse()?,
            "--read-connections" => args.read_connections = value.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(args)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn fetch(State(pools): State<Pools>, Path(id): Path<i64>) -> Result<Json<Row>, StatusCode> {
    let row = match &pools {
        Pools::Sqlite { read, .. } => {
            sqlx::query_as("SELECT * FROM rows WHERE id = ?")
                .bind(id)
                .fetch_optional(read)
                .await
        }
        Pools::Postgres(pool) => {
            sqlx::query_as("SELECT * FROM rows WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
        }
    };
    row.map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .map(Json)
        .ok_or(StatusCode::NOT_FOUND)
}

async fn page(
    State(pools): State<Pools>,
    Query(q): Query<After>,
) -> Result<Json<Vec<Row>>, StatusCode> {
    let after = q.after.unwrap_or(0);
    let rows = match &pools {
        Pools::Sqlite { read, .. } => {
            sqlx::query_as("SELECT * FROM rows WHERE id > ? ORDER BY id LIMIT 50")
                .bind(after)
                .fetch_all(read)
                .await
        }
        Pools::Postgres(pool) => {
            sqlx::query_as("SELECT * FROM rows WHERE id > $1 ORDER BY id LIMIT 50")
                .bind(after)
                .fetch_all(pool)
                .await
        }
    };
    rows.map(Json)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

async fn insert(
    State(pools): State<Pools>,
    Json(new): Json<NewRow>,
) -> Result<(StatusCode, Json<Row>), StatusCode> {
    let t = now();
    let rows: Result<Vec<Row>, _> =
        match &pools {
            Pools::Sqlite { write, .. } => sqlx::query_as(
                "INSERT INTO rows (sid, phone_number, friendly_name, date_created, date_updated)
                 VALUES (lower(hex(randomblob(16))), '+14155550100', ?, ?, ?) RETURNING *",
            )
            .bind(&new.name)
            .bind(t)
            .bind(t)
            .fetch_all(write)
            .await,
            Pools::Postgres(pool) => sqlx::query_as(
                "INSERT INTO rows (sid, phone_number, friendly_name, date_created, date_updated)
                 VALUES (md5(random()::text), '+14155550100', $1, $2, $2) RETURNING *",
            )
            .bind(&new.name)
            .bind(t)
            .fetch_all(pool)
            .await,
        };
    let mut rows = rows.map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    rows.pop()
        .map(|row| (StatusCode::CREATED, Json(row)))
        .ok_or(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn open_sqlite(args: &Args) -> Result<Pools, BoxError> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", args.database))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10));
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(options.clone())
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS rows (
            id INTEGER PRIMARY KEY,
            sid TEXT NOT NULL,
            phone_number TEXT NOT NULL,
            friendly_name TEXT NOT NULL,
            date_created INTEGER NOT NULL,
            date_updated INTEGER NOT NULL
        )",
    )
    .execute(&write)
    .await?;
    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rows")
        .fetch_one(&write)
        .await?;
    if have < args.seed {
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?)
             INSERT INTO rows (id, sid, phone_number, friendly_name, date_created, date_updated)
             SELECT i, printf('PN%032d', i), printf('+1206%07d', 2000000 + i),
                    'Row ' || i, 1700000000, 1700000000 FROM n",
        )
        .bind(have + 1)
        .bind(args.seed)
        .execute(&write)
        .await?;
    }
    let read = SqlitePoolOptions::new()
        .max_connections(args.read_connections.max(1))
        .test_before_acquire(false)
        .connect_with(options.read_only(true))
        .await?;
    Ok(Pools::Sqlite { read, write })
}

async fn open_postgres(args: &Args) -> Result<Pools, BoxError> {
    let pool = PgPoolOptions::new()
        .max_connections(args.read_connections.max(1))
        .test_before_acquire(false)
        .connect(&args.database)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS rows (
            id BIGSERIAL PRIMARY KEY,
            sid TEXT NOT NULL,
            phone_number TEXT NOT NULL,
            friendly_name TEXT NOT NULL,
            date_created BIGINT NOT NULL,
            date_updated BIGINT NOT NULL
        )",
    )
    .execute(&pool)
    .await?;
    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rows")
        .fetch_one(&pool)
        .await?;
    if have < args.seed {
        sqlx::query(
            "INSERT INTO rows (id, sid, phone_number, friendly_name, date_created, date_updated)
             SELECT i, 'PN' || lpad(i::text, 32, '0'), '+1206' || lpad((2000000 + i)::text, 7, '0'),
                    'Row ' || i, 1700000000, 1700000000 FROM generate_series($1::bigint, $2::bigint) AS i",
        )
        .bind(have + 1)
        .bind(args.seed)
        .execute(&pool)
        .await?;
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('rows', 'id'), (SELECT MAX(id) FROM rows))",
        )
        .execute(&pool)
        .await?;
    }
    Ok(Pools::Postgres(pool))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    let pools =
        if args.database.starts_with("postgres://") || args.database.starts_with("postgresql://") {
            open_postgres(&args).await?
        } else {
            open_sqlite(&args).await?
        };
    let app = Router::new()
        .route("/row/{id}", get(fetch))
        .route("/row", post(insert))
        .route("/rows", get(page))
        .with_state(pools);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
