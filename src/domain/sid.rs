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
    let now = (super::time::now_millis().max(0) as u64) << 16;
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev + 1);
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(actual) => prev = actual,
        }
    }
}

/// Bytes of the operating system's cryptographic generator that each thread reads ahead, so
/// that a request needing a few random bytes (a SID, a code, a token) makes no system call.
const POOL: usize = 512;

thread_local! {
    /// Random bytes read ahead, and how many of them are used.
    static RANDOM_POOL: std::cell::RefCell<([u8; POOL], usize)> =
        const { std::cell::RefCell::new(([0; POOL], POOL)) };
}

/// `n` bytes from the operating system's cryptographic generator, each used once.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    RANDOM_POOL.with_borrow_mut(|(pool, used)| {
        let mut filled = 0;
        while filled < N {
            if *used == POOL {
                // getrandom only fails when the OS has no entropy source at all; fall back
                // to a time-derived value rather than panicking inside a request.
                if getrandom::fill(pool).is_err() {
                    let seed = super::time::now_millis().to_le_bytes();
                    for (i, b) in pool.iter_mut().enumerate() {
                        *b = seed[i % 8] ^ (i as u8).wrapping_mul(151);
                    }
                }
                *used = 0;
            }
            let take = (N - filled).min(POOL - *used);
            buf[filled..filled + take].copy_from_slice(&pool[*used..*used + take]);
            // Used bytes are cleared, so that none is handed out twice or stays readable.
            pool[*used..*used + take].fill(0);
            *used += take;
            filled += take;
        }
    });
    buf
}

/// A random (version 4) UUID in its hyphenated text form, as idempotency tokens are.
pub fn random_uuid() -> String {
    uuid::Builder::from_random_bytes(random_bytes::<16>())
        .into_uuid()
        .hyphenated()
        .to_string()
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

            /// A SID read back from storage: kept as it is when well formed and lower-case
            /// (as every SID this emulator stores is), without a copy.
            /// Gives the text back when it is not.
            pub fn from_stored(s: String) -> Result<Self, String> {
                if well_formed(&s, $prefix) && !s[2..].bytes().any(|b| b.is_ascii_uppercase()) {
                    Ok(Self(s))
                } else {
                    Err(s)
                }
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

thread_local! {
    /// splitmix64 state, seeded once per thread from the operating system.
    static REQUEST_RNG: std::cell::Cell<u64> = std::cell::Cell::new(u64::from_le_bytes(random_bytes::<8>()));
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl RequestSid {
    /// A new request id in the format of every other SID (ordered by creation), with its 64
    /// random bits from a per-thread generator, so that no request pays for a system call.
    pub fn next() -> RequestSid {
        let tail = REQUEST_RNG.with(|state| {
            let x = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
            state.set(x);
            let z = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        });
        let mut sid = String::with_capacity(34);
        sid.push_str(RequestSid::PREFIX);
        for word in [next_prefix(), tail] {
            for shift in (0..16).rev() {
                sid.push(char::from(HEX[(word >> (shift * 4)) as usize & 0xf]));
            }
        }
        RequestSid(sid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Draws across the read-ahead's refills, and one larger than it, never repeat bytes.
    #[test]
    fn random_draws_do_not_repeat_across_refills() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..(3 * POOL / 16 + 5) {
            assert!(seen.insert(random_bytes::<16>()));
        }
        let big = random_bytes::<{ 2 * POOL + 7 }>();
        let (a, b) = big.split_at(POOL);
        assert_ne!(a[..POOL / 2], b[..POOL / 2]);
        assert!(big.iter().any(|&b| b != 0));
        let uuid = random_uuid();
        let parsed = uuid::Uuid::parse_str(&uuid).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(uuid.len(), 36);
        assert_ne!(random_uuid(), uuid);
    }

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
    fn request_sids_are_well_formed_and_increasing() {
        let sids: Vec<String> = (0..1000).map(|_| RequestSid::next().to_string()).collect();
        for pair in sids.windows(2) {
            assert!(pair[0] < pair[1], "{pair:?}");
        }
        assert!(sids
            .iter()
            .all(|s| RequestSid::from_stored(s.clone()).is_ok()));
    }

    #[test]
    fn stored_sids_must_be_well_formed_and_lower_case() {
        let sid = "PNe905d7e6b410746a0fb08c57e5a186f3";
        assert!(CallerIdSid::from_stored(sid.to_string()).is_ok());
        assert!(CallerIdSid::from_stored(sid.to_uppercase()).is_err());
        assert!(CallerIdSid::from_stored(format!("CA{}", &sid[2..])).is_err());
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
