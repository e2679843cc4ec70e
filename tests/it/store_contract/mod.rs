//! The store contract: what every backend of `callerid_emulator::store::Store` must do, written
//! once against the `Store` interface and run against every backend (the list is
//! [`for_each_backend!`], the one place a backend is added). The tests go through `Store`'s
//! public methods only, never SQL, so that a new backend passes or fails the same bodies.
//!
//! A test is declared with [`contract_tests!`] as `async fn name(b: Backend) { … }`; it
//! becomes a module `name` with one `#[tokio::test]` per backend (`name::sqlite_file`,
//! `name::sqlite_memory`, `name::postgres`), each given a fresh, empty store. The PostgreSQL
//! one runs on a fresh database of the cluster `CALLERID_TEST_POSTGRES_URL` names (see
//! [`crate::helpers::pg`]: without it, it fails in CI and is skipped elsewhere).
//! [`replicas`] runs two stores on one PostgreSQL database, as two emulator processes would.

use callerid_emulator::store::Store;

use crate::helpers::pg::{self, TempDatabase};

/// One backend under test: a fresh store, the URL it was opened from, and what the backend
/// promises beyond the interface.
pub struct Backend {
    pub name: &'static str,
    pub url: String,
    pub store: Store,
    /// Whether connecting to `url` again finds what was committed (false for a database that
    /// lives only as long as its connection). Tests of a restart or a crash need it and say
    /// so when they skip.
    pub survives_reopen: bool,
    /// Keeps the backend's files or database (if any) alive for the test.
    _dir: Option<Keep>,
}

/// What a backend's store lives in, kept for the test: a folder, or a database dropped at
/// the end.
pub enum Keep {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Database(#[allow(dead_code)] TempDatabase),
}

/// Read connections every test store opens (SQLite's file backend reads through a pool).
const READ_CONNECTIONS: u32 = 4;

impl Backend {
    /// A SQLite database file in a fresh temporary folder.
    pub async fn sqlite_file() -> Backend {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        Backend::open("sqlite_file", url, true, Some(Keep::Dir(dir))).await
    }

    /// A fresh PostgreSQL database; `None` (after saying why) when no cluster is configured
    /// outside CI.
    pub async fn postgres() -> Option<Backend> {
        let cluster = pg::cluster_url("the PostgreSQL store contract")?;
        let db = TempDatabase::create(&cluster);
        let url = db.url.clone();
        Some(Backend::open("postgres", url, true, Some(Keep::Database(db))).await)
    }

    /// SQLite in memory: gone with its connection.
    pub async fn sqlite_memory() -> Backend {
        Backend::open("sqlite_memory", "sqlite::memory:".into(), false, None).await
    }

    async fn open(
        name: &'static str,
        url: String,
        survives_reopen: bool,
        dir: Option<Keep>,
    ) -> Backend {
        let store = Store::connect(&url, READ_CONNECTIONS)
            .await
            .unwrap_or_else(|e| panic!("{name}: connect {url}: {e}"));
        Backend {
            name,
            url,
            store,
            survives_reopen,
            _dir: dir,
        }
    }

    /// Lets go of the store and connects to the same database again, as a restarted process
    /// would: after closing it (`Stop::Close`, a clean shutdown) or after simply dropping it
    /// with nothing flushed or closed (`Stop::Crash`). `None`, after saying so, when the
    /// backend does not survive that: the test is skipped on it.
    pub async fn restart(self, stop: Stop, why: &str) -> Option<Backend> {
        if !self.survives_reopen {
            eprintln!(
                "skipped on {}: {why} needs a database that survives reopening",
                self.name
            );
            return None;
        }
        let Backend {
            name,
            url,
            store,
            survives_reopen,
            _dir,
        } = self;
        if let Stop::Close = stop {
            store.close().await;
        }
        drop(store);
        Some(Backend::open(name, url, survives_reopen, _dir).await)
    }
}

/// How [`Backend::restart`] lets go of the store.
pub enum Stop {
    Close,
    Crash,
}

/// Expands to one `#[tokio::test]` per backend, each running `$body(backend)`: **the list of
/// backends**. A backend added to the store gets a line here (and a constructor on
/// [`Backend`]), and every contract test runs against it.
macro_rules! for_each_backend {
    ($body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn sqlite_file() {
            $body($crate::store_contract::Backend::sqlite_file().await).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn sqlite_memory() {
            $body($crate::store_contract::Backend::sqlite_memory().await).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn postgres() {
            if let Some(backend) = $crate::store_contract::Backend::postgres().await {
                $body(backend).await
            }
        }
    };
}

/// Declares contract tests: each `async fn name(b: Backend) { … }` becomes a module `name`
/// holding the body and one test per backend ([`for_each_backend!`]).
macro_rules! contract_tests {
    ($(
        $(#[$meta:meta])*
        async fn $name:ident($b:ident: Backend) $body:block
    )*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn body($b: $crate::store_contract::Backend) $body

                for_each_backend!(body);
            }
        )*
    };
}

mod fixtures;

mod accounts;
mod call_updates;
mod callback_journal;
mod callbacks;
mod caller_id_lists;
mod caller_ids;
mod calls;
mod durability;
mod replicas;
mod subaccounts;
mod upkeep;
