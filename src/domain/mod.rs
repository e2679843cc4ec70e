//! What the emulator is about, with no HTTP and no SQL: typed SIDs, phone numbers, caller IDs
//! and their names, accounts, the verification call as a pure state machine, the plan of what
//! its steps write, StatusCallbacks and the change events. Every other layer speaks these
//! types; none of them is imported here.

pub mod account;
pub mod call;
pub mod callback;
pub mod caller_id;
pub mod event;
pub mod machine;
pub mod params;
pub mod phone;
pub mod plan;
pub mod sid;
pub mod time;
pub mod timing;

pub use phone::PhoneNumber;
