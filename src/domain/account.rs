//! Accounts, API keys, and what authenticates a request.

use super::sid::{AccountSid, ApiKeySid};

#[derive(Clone, Debug)]
pub struct Account {
    pub sid: AccountSid,
    pub auth_token: String,
    pub friendly_name: String,
    /// Made from the settings at start-up (and removed when no longer configured), rather
    /// than through the control API.
    pub configured: bool,
    /// Seconds since the Unix epoch.
    pub date_created: i64,
}

#[derive(Clone, Debug)]
pub struct ApiKey {
    pub sid: ApiKeySid,
    pub account_sid: AccountSid,
    pub secret: String,
    pub friendly_name: String,
    /// Seconds since the Unix epoch.
    pub date_created: i64,
}

/// What authenticates a username (an AccountSid or an API key sid): its secret and the
/// account it acts for.
#[derive(Debug)]
pub struct Credential {
    pub secret: String,
    pub account_sid: AccountSid,
}
