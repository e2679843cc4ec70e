//! The integration tests, one crate: the real router on a real port over a real SQLite file
//! with real HTTP ([`helpers::TestApp`]), or the real binary as a child process
//! ([`helpers::Emulator`]). Every module below uses the one set of helpers in [`helpers`].

mod helpers;

// The Twilio API (Issue 2): caller IDs, their list and paging, errors and authentication.
mod api_errors;
mod auth;
mod caller_id_list;
mod caller_id_paging;
mod caller_ids;

// What real clients meet (Issue 13): CSV, the per-account concurrency limit, injected faults.
mod concurrency_limit;
mod csv;
mod faults;
// Subaccounts, account status and API keys (Issue 13).
mod account_status;
mod accounts_resource;
mod keys_resource;
mod subaccount_access;

// The control API.
mod control;
mod control_access;
mod control_lists;
// The request journal's error codes (Issue 12).
mod request_journal;

// Verification calls and their StatusCallbacks (Issue 3).
mod call_flow;
mod call_resource;
mod callback_answers;
mod callback_signatures;
mod callback_storage;
mod callbacks;
mod verification;
mod verification_errors;

// The binary, persistence and restarts, and operation.
mod binary;
mod cut_requests;
mod ops;
mod persistence;
mod restart;

// PostgreSQL going away and coming back, and replicas sharing one database (Issue 10).
mod postgres;
// Statements stay index-driven as a PostgreSQL database grows (Issue 10).
mod postgres_journal;
mod postgres_plans;
// Three replica binaries on one PostgreSQL database (Issue 10).
mod replicas;
// Each replica's credential cache, emptied everywhere before a change is answered (Issue 10).
mod replica_credentials;
// Two in-process replicas on one PostgreSQL database: events, wake-ups, the journal (Issue 10).
mod shared_database;

// Any client, unchanged: the local CA, the TLS listener and the forward proxy (Issue 11).
mod edge;

// The change events the service publishes, and the race the store reports to it.
mod event_stream;
mod events;

// The store interface itself, the same contract run against every backend.
mod store_contract;
