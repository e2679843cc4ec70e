//! PostgreSQL for the tests: a fresh database per test on the cluster named by
//! `CALLERID_TEST_POSTGRES_URL` (a superuser URL; `scripts/pg-cluster start` makes one), so
//! tests run in parallel in isolation. `CALLERID_TEST_BACKEND=postgres` runs the whole
//! integration suite on PostgreSQL instead of SQLite files ([`backend_is_postgres`]).
//!
//! Without `CALLERID_TEST_POSTGRES_URL`, the PostgreSQL tests fail loudly when `CI` is set and
//! are skipped, with a message, otherwise.

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

    /// Runs `sql` on the cluster's own database (not this one), on a connection of its own.
    pub fn on_cluster(&self, sql: &str) {
        on_cluster(&self.cluster, sql.to_string()).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Lets new connections into this database, or not (those open stay open).
    pub fn allow_connections(&self, allow: bool) {
        self.on_cluster(&format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allow}",
            self.name
        ));
    }

    /// Ends the connections to this database whose last statement began with `prefix`.
    pub fn terminate_where_last_statement(&self, prefix: &str) {
        self.on_cluster(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = '{}' AND query LIKE '{prefix}%'",
            self.name
        ));
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

/// A database of the integration suite and the folder of the test that uses it.
struct FolderDatabase {
    url: String,
    /// The test's own folder: the one named, or the folder of the file named. Once it is gone
    /// (its `TempDir` dropped with the test), so is every use of the database.
    folder: PathBuf,
    database: TempDatabase,
}

/// The databases of the integration suite, by the path of the test that uses one: a test that
/// restarts the emulator on its folder finds the same database.
static BY_FOLDER: Mutex<Vec<(PathBuf, FolderDatabase)>> = Mutex::new(Vec::new());

/// The PostgreSQL database of the test whose files are at `path`, a folder or a database
/// file in one (made on first use). The databases of tests whose folder is gone are dropped
/// here, so that a run keeps about as many as it runs tests at once: a database is 8 MB, and
/// a whole run makes some 150.
pub fn database_for(path: &Path) -> String {
    let mut finished = Vec::new();
    let url = {
        let mut map = BY_FOLDER.lock().unwrap_or_else(|e| e.into_inner());
        let mut i = 0;
        while i < map.len() {
            if map[i].1.folder.exists() {
                i += 1;
            } else {
                finished.push(map.swap_remove(i).1.database);
            }
        }
        match map.iter().find(|(key, _)| key == path) {
            Some((_, known)) => known.url.clone(),
            None => {
                let cluster =
                    cluster_url("the integration suite on PostgreSQL").expect("cluster URL");
                let database = TempDatabase::create(&cluster);
                let folder = if path.is_dir() {
                    path.to_path_buf()
                } else {
                    path.parent().unwrap_or(path).to_path_buf()
                };
                let url = database.url.clone();
                let entry = FolderDatabase {
                    url: url.clone(),
                    folder,
                    database,
                };
                map.push((path.to_path_buf(), entry));
                url
            }
        }
    };
    // Dropped outside the lock: each drop is a statement on the cluster.
    drop(finished);
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
