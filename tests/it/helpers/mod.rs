//! The one set of helpers every test module shares: the in-process server ([`app`]), the
//! real binary ([`binary`]), accounts ([`accounts`]), the HTTP client side ([`client`]),
//! callback receivers ([`receiver`]), subaccounts and keys of the Twilio API ([`subaccounts`]),
//! verification calls ([`calls`]), fault rules and the request journal ([`faults`]), bounded
//! waits ([`wait`]) and the checks more than one module makes ([`checks`], [`xml`],
//! [`listing`], [`signature`]). [`db`] reads the SQLite file directly and is imported by name, only where
//! a durability test needs it.

pub mod accounts;
pub mod app;
pub mod binary;
pub mod calls;
pub mod checks;
pub mod client;
pub mod db;
pub mod faults;
pub mod listing;
pub mod pg;
pub mod receiver;
pub mod replicas;
pub mod signature;
pub mod subaccounts;
pub mod wait;
pub mod xml;

pub use accounts::*;
pub use app::*;
pub use binary::*;
pub use calls::*;
pub use checks::*;
pub use client::*;
pub use faults::*;
pub use listing::*;
pub use receiver::*;
pub use signature::*;
pub use subaccounts::*;
pub use wait::*;
pub use xml::*;

/// The emulator's own form parser (`application/x-www-form-urlencoded`, strict UTF-8, pairs
/// in order). The only place the tests name its path.
pub use callerid_emulator::http::form::Params;
