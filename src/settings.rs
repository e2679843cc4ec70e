//! Every setting: a command-line flag and an environment variable of the same meaning.

use std::net::SocketAddr;

use clap::{Parser, ValueEnum};

use crate::domain::sid::AccountSid;

/// The built-in development account, there when no account is configured.
pub const DEV_ACCOUNT_SID: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const DEV_AUTH_TOKEN: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A local, stateful emulator of Twilio's Outgoing Caller IDs and validation-request API.
#[derive(Clone, Parser)]
#[command(name = "callerid-emulator", version, about)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "CALLERID_LISTEN", default_value = "127.0.0.1:4015")]
    pub listen: SocketAddr,

    /// The database: SQLite as `sqlite://rel.db`, `sqlite:///abs/path.db` or
    /// `sqlite::memory:` (created if missing), or PostgreSQL as
    /// `postgres://user:password@host:port/database` (the database must exist).
    #[arg(
        long,
        env = "CALLERID_DATABASE_URL",
        default_value = "sqlite://callerid-emulator.db"
    )]
    pub database_url: String,

    /// Seconds to keep trying to reach the database at start-up (waiting 0.25 s, doubling up
    /// to 5 s, between tries, each logged) before giving up; 0 tries for ever.
    #[arg(long, env = "CALLERID_DATABASE_RETRY_SECS", default_value_t = 60)]
    pub database_retry_secs: u64,

    /// An account as `AccountSid:AuthToken`; repeat the flag, or separate with commas in the
    /// environment variable. With none, the development account
    /// ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa exists.
    #[arg(
        long = "account",
        env = "CALLERID_ACCOUNTS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub accounts: Vec<String>,

    /// Real seconds per simulated second for CallDelay, ringing and keypad time: 1 is real
    /// time, 0 makes every simulated wait instant.
    #[arg(long, env = "CALLERID_TIME_SCALE", default_value_t = 1.0)]
    pub time_scale: f64,

    /// Seconds a `manual` verification call waits for digits posted to the control API
    /// (real time, not scaled).
    #[arg(long, env = "CALLERID_MANUAL_DIGITS_TIMEOUT", default_value_t = 60)]
    pub manual_digits_timeout: u64,

    /// Timeout of one StatusCallback attempt, in milliseconds.
    #[arg(long, env = "CALLERID_CALLBACK_TIMEOUT_MS", default_value_t = 15_000)]
    pub callback_timeout_ms: u64,

    /// StatusCallback attempts in all (Twilio makes one).
    #[arg(long, env = "CALLERID_CALLBACK_ATTEMPTS", default_value_t = 1)]
    pub callback_attempts: u32,

    /// Milliseconds before the second StatusCallback attempt; doubled for each one after.
    #[arg(
        long,
        env = "CALLERID_CALLBACK_RETRY_DELAY_MS",
        default_value_t = 1_000
    )]
    pub callback_retry_delay_ms: u64,

    /// Serve the control API under /_emulator.
    #[arg(
        long,
        env = "CALLERID_CONTROL_API",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub control_api: bool,

    /// When set, the control API requires `Authorization: Bearer <token>`.
    #[arg(long, env = "CALLERID_CONTROL_TOKEN", hide_env_values = true)]
    pub control_token: Option<String>,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "CALLERID_MAX_BODY_BYTES", default_value_t = 65_536)]
    pub max_body_bytes: usize,

    /// Largest total size of the request headers accepted, in bytes; larger ones get 431.
    #[arg(long, env = "CALLERID_MAX_HEADER_BYTES", default_value_t = 16_384)]
    pub max_header_bytes: usize,

    /// Milliseconds a request may take before it is answered with 408; 0 answers every
    /// request with 408 (for testing a client's handling of it).
    #[arg(long, env = "CALLERID_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,

    /// Requests of one account (the AccountSid in the path) that may be in flight at once;
    /// one more is answered 429 with code 20429 and `Retry-After`, and not processed. Off
    /// unless set.
    #[arg(long, env = "CALLERID_MAX_CONCURRENT_REQUESTS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_requests: Option<u32>,

    /// How many recent Twilio API requests GET /_emulator/requests keeps.
    #[arg(long, env = "CALLERID_REQUEST_JOURNAL_SIZE", default_value_t = 1_000)]
    pub request_journal_size: usize,

    /// How many events may wait to be sent to `GET /_emulator/events` readers (they are sent in
    /// batches, at most every 10 ms while busy); beyond it they are dropped and every reader is
    /// sent `resync` instead.
    #[arg(long, env = "CALLERID_EVENT_BACKLOG", default_value_t = 16_384, value_parser = clap::value_parser!(u32).range(1..))]
    pub event_backlog: u32,

    /// Connections in the read pool (writes always go through one connection).
    #[arg(long, env = "CALLERID_READ_CONNECTIONS", default_value_t = 4)]
    pub read_connections: u32,

    /// Also serve the whole app over HTTPS on this address, with a certificate for
    /// api.twilio.com and the other Twilio API hosts from the local CA.
    #[arg(long, env = "CALLERID_TLS_LISTEN")]
    pub tls_listen: Option<SocketAddr>,

    /// Also run a forward proxy on this address: CONNECT to a Twilio API host (and absolute-form
    /// requests for one) are served by the emulator itself; every other host gets 403.
    #[arg(long, env = "CALLERID_PROXY_LISTEN")]
    pub proxy_listen: Option<SocketAddr>,

    /// Where the local certificate authority is kept (made on first start). Default: the
    /// database file's folder; for an in-memory or a PostgreSQL database, `callerid-emulator`
    /// in the system's temporary folder.
    #[arg(long, env = "CALLERID_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,

    /// A further host name or IP address for the server certificate; repeat the flag, or
    /// separate with commas in the environment variable.
    #[arg(long = "tls-name", env = "CALLERID_TLS_NAMES", value_delimiter = ',')]
    pub tls_names: Vec<String>,

    /// Log format.
    #[arg(long, env = "CALLERID_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let accounts: Vec<&str> = self
            .accounts
            .iter()
            .map(|a| a.split(':').next().unwrap_or(""))
            .collect();
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database_url", &redact_password(&self.database_url))
            .field("accounts", &accounts)
            .field("time_scale", &self.time_scale)
            .field("control_api", &self.control_api)
            .field(
                "control_token",
                &self.control_token.as_ref().map(|_| "<redacted>"),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("tls_listen", &self.tls_listen)
            .field("proxy_listen", &self.proxy_listen)
            .field("data_dir", &self.data_dir())
            .finish_non_exhaustive()
    }
}

/// `url` with the password of its user info (if any) replaced, for the log.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let Some((user_info, _)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let Some((user, _password)) = user_info.split_once(':') else {
        return url.to_string();
    };
    let after = &rest[user_info.len()..];
    format!("{scheme}://{user}:<redacted>{after}")
}

impl Settings {
    /// The settings with every default, for tests and embedding: an in-memory database.
    pub fn for_tests() -> Settings {
        let mut s = Settings::parse_from(["callerid-emulator"]);
        s.database_url = "sqlite::memory:".into();
        s.time_scale = 0.0;
        s
    }

    /// The configured accounts as (sid, token), or the development account when none is.
    pub fn parsed_accounts(&self) -> Result<Vec<(AccountSid, String)>, String> {
        if self.accounts.is_empty() {
            let dev = AccountSid::parse(DEV_ACCOUNT_SID).ok_or("bad development account sid")?;
            return Ok(vec![(dev, DEV_AUTH_TOKEN.into())]);
        }
        self.accounts
            .iter()
            .map(|a| {
                let (sid, token) = a.trim().split_once(':').ok_or_else(|| {
                    "an account must be given as AccountSid:AuthToken".to_string()
                })?;
                let sid = AccountSid::parse(sid)
                    .ok_or_else(|| format!("{sid:?} is not an AccountSid (AC + 32 hex digits)"))?;
                if token.is_empty() {
                    return Err(format!("account {sid} has an empty auth token"));
                }
                Ok((sid, token.to_string()))
            })
            .collect()
    }

    /// The folder the local certificate authority is kept in.
    pub fn data_dir(&self) -> std::path::PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        let url = &self.database_url;
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return std::env::temp_dir().join("callerid-emulator");
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path.contains(":memory:") || url.contains("mode=memory") {
            return std::env::temp_dir().join("callerid-emulator");
        }
        match std::path::Path::new(path).parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.time_scale.is_finite() && (0.0..=1000.0).contains(&self.time_scale)) {
            return Err("--time-scale must be a number from 0 to 1000".into());
        }
        if self.manual_digits_timeout > 86_400 {
            return Err("--manual-digits-timeout must be at most 86400 seconds".into());
        }
        if self.callback_attempts == 0 {
            return Err("--callback-attempts must be at least 1".into());
        }
        self.parsed_accounts().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn the_log_never_shows_a_database_password() {
        assert_eq!(
            redact_password("postgres://emulator:s3cret@db:5432/callerid"),
            "postgres://emulator:<redacted>@db:5432/callerid"
        );
        for kept in [
            "postgres://postgres@127.0.0.1:5432/postgres",
            "sqlite://callerid-emulator.db",
            "sqlite::memory:",
        ] {
            assert_eq!(redact_password(kept), kept);
        }
    }
}
