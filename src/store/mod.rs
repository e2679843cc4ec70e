//! The store interface: every read and write of the emulator's state, as five traits that each
//! backend implements, and [`Store`], the enum of backends the services hold (static dispatch,
//! so the hot path pays no virtual call). Nothing outside a backend sees SQL. SQLite
//! ([`sqlite`]) is the embedded default; its in-memory index, credential cache, group commit
//! and checkpointer are its own private details. PostgreSQL ([`postgres`]) serves several
//! emulator replicas on one database, and so caches nothing.

pub mod postgres;
mod rows;
pub mod sqlite;

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use crate::domain::account::{Account, AccountUpdate, ApiKey, Credential};
use crate::domain::call::{Behavior, Call, CallEvent};
use crate::domain::callback::{Attempted, Callback, CallbackAttempt, CallbackCounts};
use crate::domain::caller_id::{CallerId, Cursor, FriendlyName, ListFilter, NewCallerId, Page};
use crate::domain::event::Event;
use crate::domain::plan::{CallUpdate, NewCall};
use crate::domain::sid::{AccountSid, ApiKeySid, CallSid, CallerIdSid};
use crate::domain::PhoneNumber;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write would break a uniqueness rule: an account's sid, an account's number.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A validation request planned assuming no callee behaviour set for its number found one
    /// (`NewCall::assumes_no_behavior`): nothing was written.
    #[error("a callee behaviour is set for the number")]
    BehaviorSet,
    /// The write names something that does not exist.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// A stored value is not one the emulator writes.
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Whether the database could not be reached (refused, timed out, still starting up): an
    /// error worth trying again later, unlike a bad URL or a failed migration.
    pub fn is_unreachable(&self) -> bool {
        let StoreError::Backend(source) = self else {
            return false;
        };
        match source.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_)) => true,
            // 57P03: the database system is starting up (or shutting down).
            Some(sqlx::Error::Database(e)) => e.code().is_some_and(|c| c == "57P03"),
            _ => false,
        }
    }
}

/// What a new validation request did.
#[derive(Debug, Default)]
pub struct CreatedCall {
    /// Calls that were pending for the same number and ended `canceled`.
    pub superseded: Vec<Call>,
    /// The caller ID, when the call succeeded at creation.
    pub caller_id: Option<Arc<CallerId>>,
    /// The call's own callback, stored as claimed (`sending`) when `NewCall::claim_callback`
    /// asked for that: for the caller to deliver.
    pub callback: Option<Callback>,
}

/// What applying one call update did.
#[derive(Debug)]
pub enum Applied {
    Done {
        /// The caller ID the update created.
        caller_id: Option<Arc<CallerId>>,
    },
    /// The call was not in the expected state (moved on by someone else); nothing written.
    Stale,
    /// The update creates a caller ID for a number the account has verified meanwhile;
    /// nothing written.
    NumberTaken,
}

/// What one process tells the other replicas on the same database: the events it published
/// and whether it made a call or a callback due, so that their live views show the change and
/// their workers look at the store again.
#[derive(Clone, Debug, Default)]
pub struct Announcement {
    pub events: Vec<Event>,
    pub calls_due: bool,
    pub callbacks_due: bool,
}

/// A reader of this process's events, from [`Store::hold_event_interest`]; dropped when the
/// reader goes.
pub struct EventInterest {
    _held: Option<postgres::Interest>,
}

/// One entry of the request journal, as the database keeps it for every replica.
#[derive(Clone, Debug)]
pub struct JournalledRequest {
    /// When it was answered (Unix milliseconds): the journal's order.
    pub at: i64,
    /// The account the request's path names, for the journal's account filter.
    pub account_sid: Option<String>,
    /// The entry as `GET /_emulator/requests` shows it: JSON text, written by the HTTP layer.
    pub entry: String,
}

/// One backend of the store.
#[derive(Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens the database at `url` and runs its migrations: SQLite for `sqlite:` (the file
    /// created if missing), PostgreSQL for `postgres://` or `postgresql://` (the database
    /// must exist).
    pub async fn connect(url: &str, read_connections: u32) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            return Ok(Store::Sqlite(
                sqlite::SqliteStore::connect(url, read_connections).await?,
            ));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Store::Postgres(
                postgres::PgStore::connect(url, read_connections).await?,
            ));
        }
        Err(StoreError::Backend(
            format!(
                "unsupported database URL {url:?}: it must start with sqlite:, postgres:// or \
                 postgresql://"
            )
            .into(),
        ))
    }

    /// Whether other processes may share this database (PostgreSQL): then what one does is
    /// announced to the others ([`Store::announce`]).
    pub fn is_shared(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// Whether another process on this database has a reader of its events: then this one
    /// announces its own ([`Store::announce`]); SQLite: never.
    pub fn others_listen(&self) -> bool {
        match self {
            Store::Sqlite(_) => false,
            Store::Postgres(backend) => backend.others_listen(),
        }
    }

    /// Counts a reader of this process's events while the interest lives: on PostgreSQL, the
    /// other replicas announce their events meanwhile, and this returns once they do (see
    /// `postgres::listeners`). SQLite: nothing to wait for.
    pub async fn hold_event_interest(&self) -> EventInterest {
        match self {
            Store::Sqlite(_) => EventInterest { _held: None },
            Store::Postgres(backend) => EventInterest {
                _held: Some(backend.hold_event_interest().await),
            },
        }
    }

    /// Queues `announcement` for the other replicas, without waiting (SQLite: nothing).
    pub fn announce(&self, announcement: Announcement) {
        if let Store::Postgres(backend) = self {
            backend.announce(announcement);
        }
    }

    /// The other replicas' announcements, for the first caller (SQLite: none).
    pub fn remote_announcements(&self) -> Option<tokio::sync::mpsc::Receiver<Announcement>> {
        match self {
            Store::Sqlite(_) => None,
            Store::Postgres(backend) => backend.remote_announcements(),
        }
    }

    /// How long one callback attempt may take: on PostgreSQL, a claimed callback's lease is
    /// that and a margin ([`postgres::LEASE_MARGIN`]); SQLite has no leases.
    pub fn set_callback_timeout(&self, timeout: std::time::Duration) {
        if let Store::Postgres(backend) = self {
            backend.set_callback_timeout(timeout);
        }
    }

    /// Appends entries (oldest first) to the request journal in the database and deletes the
    /// oldest beyond `keep`. SQLite keeps the journal in memory (one process): nothing here.
    pub async fn journal_requests(
        &self,
        entries: &[JournalledRequest],
        keep: i64,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(_) => Ok(()),
            Store::Postgres(backend) => {
                postgres::bounded("journal_requests", backend.journal_requests(entries, keep)).await
            }
        }
    }

    /// The newest `limit` entries of the request journal in the database, optionally of one
    /// account, newest first (SQLite: none).
    pub async fn journalled_requests(
        &self,
        account: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Sqlite(_) => Ok(Vec::new()),
            Store::Postgres(backend) => {
                postgres::bounded(
                    "journalled_requests",
                    backend.journalled_requests(account, limit),
                )
                .await
            }
        }
    }

    /// Which backend this is: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }
}

/// Declares the store's traits and, for each of their methods, the [`Store`] method that
/// hands the call to the backend.
macro_rules! store_interface {
    ($(
        $(#[$trait_doc:meta])*
        trait $trait:ident {
            $(
                $(#[$doc:meta])*
                fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
            )*
        }
    )*) => {
        $(
            $(#[$trait_doc])*
            pub trait $trait {
                $(
                    $(#[$doc])*
                    fn $name(&self $(, $arg: $ty)*) -> impl Future<Output = $ret> + Send;
                )*
            }

            impl Store {
                $(
                    $(#[$doc])*
                    pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                        match self {
                            Store::Sqlite(backend) => $trait::$name(backend $(, $arg)*).await,
                            Store::Postgres(backend) => {
                                postgres::bounded(stringify!($name), $trait::$name(backend $(, $arg)*)).await
                            }
                        }
                    }
                )*
            }
        )*
    };
}

store_interface! {
    /// The database itself.
    trait Upkeep {
        /// Background work the backend needs (for SQLite, keeping the WAL short), until `stop`
        /// turns true.
        fn run_upkeep(&self, stop: watch::Receiver<bool>) -> ();
        /// A cheap query proving the database answers.
        fn ping(&self) -> Result<(), StoreError>;
        fn close(&self) -> ();
        /// Wipes every caller ID, call, callback, key, behaviour and non-configured account.
        fn reset(&self) -> Result<(), StoreError>;
    }

    /// Accounts, API keys and the credentials they authenticate with.
    trait AccountStore {
        /// Makes `accounts` exactly the set of configured accounts: an account configured on
        /// an earlier start but not now is removed with its data; accounts made through the
        /// control API stay as they are.
        fn sync_configured_accounts(&self, accounts: &[Account]) -> Result<(), StoreError>;
        /// The credential of an `AC…` or `SK…` username, with its account's status and, for a
        /// subaccount, its parent and the parent's status. A closed account's keys are gone;
        /// its auth token still authenticates (the access rules then refuse it).
        fn credential(&self, user: &str) -> Result<Option<Arc<Credential>>, StoreError>;
        fn account(&self, sid: &AccountSid) -> Result<Option<Account>, StoreError>;
        /// Every account, configured ones first, then by sid.
        fn accounts(&self) -> Result<Vec<Account>, StoreError>;
        /// Creates an account made through the control API or `POST /Accounts` (never a
        /// configured one, whatever `account.configured` says), with its owner, status and
        /// dates as given; conflict when the sid is taken, not found when its owner does not
        /// exist.
        fn create_account(&self, account: &Account) -> Result<(), StoreError>;
        /// Deletes an account and everything it owns, its subaccounts included; `false` when
        /// there was none.
        fn delete_account(&self, sid: &AccountSid) -> Result<bool, StoreError>;
        /// The account and its subaccounts (those whose owner it is), in sid order; empty when
        /// it does not exist.
        fn account_family(&self, sid: &AccountSid) -> Result<Vec<Account>, StoreError>;
        /// Sets what `update` gives and `date_updated` to `now` (Unix seconds); `None` when
        /// there is no such account. Setting the status to closed also deletes, in the same
        /// write, everything the account owns (caller IDs, calls, callbacks, behaviours, keys);
        /// the account itself stays, closed. The caller checks that the change is allowed.
        fn update_account(&self, sid: &AccountSid, update: &AccountUpdate, now: i64) -> Result<Option<Account>, StoreError>;
        /// Not found when the key's account does not exist.
        fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
        /// An account's API keys in creation order; empty when the account has none (or
        /// does not exist).
        fn api_keys(&self, account: &AccountSid) -> Result<Vec<ApiKey>, StoreError>;
        /// One of an account's API keys; `None` when the account has no such key.
        fn api_key(&self, account: &AccountSid, sid: &ApiKeySid) -> Result<Option<ApiKey>, StoreError>;
        /// Renames one of an account's keys and sets its `date_updated` to `now`; `None` when
        /// the account has no such key.
        fn rename_api_key(&self, account: &AccountSid, sid: &ApiKeySid, friendly_name: &str, now: i64) -> Result<Option<ApiKey>, StoreError>;
        /// Deletes one of an account's keys; it authenticates no request after this returns.
        /// `false` when the account had no such key.
        fn delete_api_key(&self, account: &AccountSid, sid: &ApiKeySid) -> Result<bool, StoreError>;
    }

    /// Verified caller IDs and the callee behaviour set for numbers.
    trait CallerIdStore {
        fn caller_id(&self, account: &AccountSid, sid: &CallerIdSid) -> Result<Option<Arc<CallerId>>, StoreError>;
        /// The account owning a caller-ID sid, if the sid exists.
        fn caller_id_owner(&self, sid: &CallerIdSid) -> Result<Option<AccountSid>, StoreError>;
        /// One page of an account's caller IDs in sid order, with whether rows exist beyond
        /// each end of it.
        fn list_caller_ids(&self, account: &AccountSid, filter: ListFilter<'_>, cursor: &Cursor, page_size: u32) -> Result<Page, StoreError>;
        /// Conflict when the account has the number already.
        fn insert_caller_id(&self, new: NewCallerId) -> Result<Arc<CallerId>, StoreError>;
        /// `None` when the account has no such caller ID.
        fn rename_caller_id(&self, account: &AccountSid, sid: &CallerIdSid, name: &FriendlyName, now: i64) -> Result<Option<Arc<CallerId>>, StoreError>;
        fn delete_caller_id(&self, account: &AccountSid, sid: &CallerIdSid) -> Result<bool, StoreError>;
        fn set_behavior(&self, account: &AccountSid, phone: &PhoneNumber, behavior: Behavior) -> Result<(), StoreError>;
        fn behavior(&self, account: &AccountSid, phone: &PhoneNumber) -> Result<Option<Behavior>, StoreError>;
    }

    /// Verification calls and their timelines.
    trait CallStore {
        /// Stores a validation request's call, unless the number is already verified on the
        /// account (conflict). Calls still pending for the number end as `new.supersede`
        /// says, each with its callback, in the same transaction; so does the new call's
        /// caller ID and callback.
        fn create_call(&self, new: NewCall) -> Result<CreatedCall, StoreError>;
        fn call(&self, sid: &CallSid) -> Result<Option<Call>, StoreError>;
        fn call_events(&self, sid: &CallSid) -> Result<Vec<CallEvent>, StoreError>;
        /// The newest `limit` calls, optionally of one account, newest first.
        fn calls(&self, account: Option<&AccountSid>, limit: i64) -> Result<Vec<Call>, StoreError>;
        /// Calls whose next step is due at `now`, soonest first.
        fn due_calls(&self, now: i64, limit: i64) -> Result<Vec<Call>, StoreError>;
        /// When the next pending call is due, if any is pending.
        fn next_call_due(&self) -> Result<Option<i64>, StoreError>;
        fn pending_calls(&self) -> Result<i64, StoreError>;
        /// Applies updates in one transaction, each only if its caller ID's number is still
        /// free (checked first: `NumberTaken`) and its call is still in the state it was read
        /// in (`Stale`).
        fn apply_call_updates(&self, updates: &[CallUpdate]) -> Result<Vec<Applied>, StoreError>;
        /// Records digits keyed by the callee and makes the call due now if it is waiting for
        /// them. `None` when the call has ended (or does not exist).
        fn key_digits(&self, sid: &CallSid, digits: &str, now: i64) -> Result<Option<Call>, StoreError>;
    }

    /// The StatusCallback queue and its journal.
    trait CallbackStore {
        /// Takes up to `limit` due callbacks and marks them `sending`, so that nothing claims
        /// them again while this process lives.
        fn claim_due_callbacks(&self, now: i64, limit: i64) -> Result<Vec<Callback>, StoreError>;
        /// Requeues, due at `now`, every callback left `sending` by a crash. Call once at
        /// start-up, before the sender runs.
        fn resume_interrupted_callbacks(&self, now: i64) -> Result<u64, StoreError>;
        /// Puts a claimed callback back, due at `at`, without counting an attempt.
        fn requeue_callback(&self, id: i64, at: i64) -> Result<(), StoreError>;
        fn next_callback_due(&self) -> Result<Option<i64>, StoreError>;
        /// When the soonest lease of a `sending` callback another replica holds runs out (Unix
        /// milliseconds), after which this one may claim it; `None` for a backend without
        /// leases (SQLite).
        fn next_lease_end(&self) -> Result<Option<i64>, StoreError>;
        /// Records delivery attempts, each with its callback's new state, in one transaction.
        fn record_attempts(&self, attempts: &[Attempted]) -> Result<(), StoreError>;
        /// The callback journal, newest first, optionally for one account and/or call.
        fn callbacks(&self, account: Option<&AccountSid>, call: Option<&CallSid>, limit: i64) -> Result<Vec<(Callback, Vec<CallbackAttempt>)>, StoreError>;
        fn callback_counts(&self) -> Result<CallbackCounts, StoreError>;
    }
}
