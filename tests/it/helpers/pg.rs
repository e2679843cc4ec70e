//! PostgreSQL for the tests: a fresh database per test on the cluster named by
//! `CALLERID_TEST_POSTGRES_URL` (a superuser URL; `scripts/pg-cluster start` makes one), so
//! tests run in parallel in isolation. `CALLERID_TEST_BACKEND=postgres` runs the whole
//! integration suite on PostgreSQL instead of SQLite files ([`backend_is_postgres`]).
//!
//! Without `CALLERID_TEST_POSTGRES_URL`, the PostgreSQL tests fail loudly when `CI` is set and
//! are skipped, with a message, otherwise.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sqlx::{Connection, Executor, PgConnection};

/// The variable naming the cluster.
pub const URL_VAR: &str = "CALLERID_TEST_POSTGRES_URL";

/// Whether the integration suite runs on PostgreSQL (`CALLERID_TEST_BACKEND=postgres`).
pub fn backend_is_postgres() -> bool {
    std::env::var("CALLERID_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The cluster's URL; `None` (after saying why) when it is not set outside CI, where `what`
/// is skipped. In CI, or when the suite was asked to run on PostgreSQL, a missing URL fails.
pub fn cluster_url(what: &str) -> Option<String> {
    if let Ok(url) = std::env::var(URL_VAR) {
        if !url.is_empty() {
            return Some(url);
        }
    }
    if std::env::var_os("CI").is_some() || backend_is_postgres() {
        panic!(
            "{what} needs PostgreSQL: set {URL_VAR} to a superuser URL of a running cluster \
             (eval \"$(scripts/pg-cluster start)\" makes one)"
        );
    }
    eprintln!(
        "skipped {what}: {URL_VAR} is not set (eval \"$(scripts/pg-cluster start)\" to run it)"
    );
    None
}

/// A database made for one test, dropped when this is dropped.
pub struct TempDatabase {
    pub url: String,
    name: String,
    cluster: String,
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let mut parsed = reqwest::Url::parse(url).expect("a PostgreSQL URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

/// Runs `sql` on the cluster's own database, on a thread of its own (so that it can be
/// called from sync code and from `Drop` inside a test's runtime).
fn on_cluster(cluster: &str, sql: String) -> Result<(), String> {
    let cluster = cluster.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let mut conn = PgConnection::connect(&cluster)
                .await
                .map_err(|e| format!("connect to {cluster}: {e}"))?;
            conn.execute(sql.as_str())
                .await
                .map_err(|e| format!("{sql}: {e}"))?;
            let _ = conn.close().await;
            Ok(())
        })
    })
    .join()
    .map_err(|_| "the database thread panicked".to_string())?
}

impl TempDatabase {
    /// A new, empty database `cet_<random>` on `cluster`.
    pub fn create(cluster: &str) -> TempDatabase {
        let name = format!("cet_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        on_cluster(cluster, format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("create the test database: {e}"));
        TempDatabase {
            url: with_database(cluster, &name),
            name,
            cluster: cluster.to_string(),
        }
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = on_cluster(&self.cluster, sql) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// The databases of the integration suite, by the folder of the test that uses one: a test
/// that restarts the emulator on its folder finds the same database. They are left to the
/// throw-away cluster (scripts/test removes it).
static BY_FOLDER: Mutex<Option<HashMap<PathBuf, String>>> = Mutex::new(None);

/// The PostgreSQL database of the test whose files are in `folder` (made on first use).
pub fn database_for(folder: &Path) -> String {
    let mut map = BY_FOLDER.lock().unwrap_or_else(|e| e.into_inner());
    let map = map.get_or_insert_with(HashMap::new);
    if let Some(url) = map.get(folder) {
        return url.clone();
    }
    let cluster = cluster_url("the integration suite on PostgreSQL").expect("cluster URL");
    let db = TempDatabase::create(&cluster);
    let url = db.url.clone();
    // Kept: the emulator under test may outlive this test's own handles on it.
    std::mem::forget(db);
    map.insert(folder.to_path_buf(), url.clone());
    url
}

/// Skips (with a message) a test of the SQLite file itself (its default place, or writes
/// into it), when the suite runs on PostgreSQL: `true` when the test should return at once.
pub fn skip_on_postgres(what: &str) -> bool {
    if backend_is_postgres() {
        eprintln!("skipped on PostgreSQL: {what} is about the SQLite file itself");
        return true;
    }
    false
}
