//! Typed SIDs: two upper-case letters and 32 lower-case hex digits.
//!
//! New SIDs are ordered by creation: the first 16 hex digits are a strictly increasing
//! (milliseconds << 16 | counter) value, the last 16 are random. Lists are paged by SID, so a
//! `PageToken` (`PA`/`PB` + SID) locates its page by itself, even after the row it names is
//! deleted.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

static LAST: AtomicU64 = AtomicU64::new(0);

fn next_prefix() -> u64 {
    let now = (crate::wire::now_millis().max(0) as u64) << 16;
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev + 1);
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(actual) => prev = actual,
        }
    }
}

/// `n` bytes from the operating system's cryptographic generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // getrandom only fails when the OS has no entropy source at all; fall back to a
    // time-derived value rather than panicking inside a request.
    if getrandom::fill(&mut buf).is_err() {
        let seed = crate::wire::now_millis().to_le_bytes();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = seed[i % 8] ^ (i as u8).wrapping_mul(151);
        }
    }
    buf
}

/// 32 random lower-case hex digits, as Twilio's auth tokens and secrets look.
pub fn random_hex32() -> String {
    hex(&random_bytes::<16>())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn well_formed(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

macro_rules! sid_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// Accepts the prefix and 32 hex digits in either case; stores them lower-case.
            pub fn parse(s: &str) -> Option<Self> {
                well_formed(s, $prefix).then(|| Self(format!("{}{}", $prefix, s[2..].to_ascii_lowercase())))
            }

            /// A new SID, later in order than every SID made before it by this process.
            pub fn generate() -> Self {
                let tail = u64::from_le_bytes(random_bytes::<8>());
                Self(format!("{}{:016x}{:016x}", $prefix, next_prefix(), tail))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// For values read back from the database, which only ever holds parsed SIDs.
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

sid_type!(
    /// An account, `AC…`.
    AccountSid,
    "AC"
);
sid_type!(
    /// An API key, `SK…`.
    ApiKeySid,
    "SK"
);
sid_type!(
    /// An OutgoingCallerId, `PN…`.
    CallerIdSid,
    "PN"
);
sid_type!(
    /// A verification call, `CA…`.
    CallSid,
    "CA"
);
sid_type!(
    /// A request id sent in `Twilio-Request-Id`, `RQ…`.
    RequestSid,
    "RQ"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_checks_prefix_length_and_hex() {
        assert!(CallerIdSid::parse("PNe905d7e6b410746a0fb08c57e5a186f3").is_some());
        assert_eq!(
            CallerIdSid::parse("PNE905D7E6B410746A0FB08C57E5A186F3").map(|s| s.to_string()),
            Some("PNe905d7e6b410746a0fb08c57e5a186f3".to_string())
        );
        assert!(CallerIdSid::parse("CAe905d7e6b410746a0fb08c57e5a186f3").is_none());
        assert!(CallerIdSid::parse("PNe905d7e6b410746a0fb08c57e5a186f").is_none());
        assert!(CallerIdSid::parse("PNg905d7e6b410746a0fb08c57e5a186f3").is_none());
        assert!(CallerIdSid::parse("PN\u{e9}905d7e6b410746a0fb08c57e5a186f").is_none());
    }

    #[test]
    fn generated_sids_are_well_formed_and_increasing() {
        let mut prev = CallerIdSid::generate();
        for _ in 0..1000 {
            let next = CallerIdSid::generate();
            assert!(CallerIdSid::parse(next.as_str()).is_some());
            assert!(next > prev, "{next} should sort after {prev}");
            prev = next;
        }
    }
}
