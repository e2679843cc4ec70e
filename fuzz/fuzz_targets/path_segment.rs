//! A path segment with its `.json`/`.xml`/other suffix, then every SID parser on the name:
//! never panics; a segment that splits is the name plus the suffix; a SID that parses is the
//! text it was parsed from with its hex digits lower-cased (SIDs are accepted in either case),
//! and that text parses, and reads from storage, as the same SID.
#![no_main]

use callerid_emulator::domain::sid::{AccountSid, ApiKeySid, CallSid, CallerIdSid};
use callerid_emulator::http::format::Suffix;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(segment) = std::str::from_utf8(data) else {
        return;
    };
    let Some((name, suffix)) = Suffix::split(segment) else {
        return;
    };
    assert_eq!(format!("{name}{}", suffix.as_str()), segment);
    let _ = suffix.format();
    if let Some(sid) = CallerIdSid::parse(name) {
        check(sid.as_str(), name);
        assert_eq!(CallerIdSid::parse(sid.as_str()).as_ref(), Some(&sid));
        assert_eq!(CallerIdSid::from_stored(sid.as_str().to_string()).as_ref(), Ok(&sid));
    }
    if let Some(sid) = AccountSid::parse(name) {
        check(sid.as_str(), name);
        assert_eq!(AccountSid::parse(sid.as_str()).as_ref(), Some(&sid));
        assert_eq!(AccountSid::from_stored(sid.as_str().to_string()).as_ref(), Ok(&sid));
    }
    if let Some(sid) = CallSid::parse(name) {
        check(sid.as_str(), name);
        assert_eq!(CallSid::parse(sid.as_str()).as_ref(), Some(&sid));
        assert_eq!(CallSid::from_stored(sid.as_str().to_string()).as_ref(), Ok(&sid));
    }
    if let Some(sid) = ApiKeySid::parse(name) {
        check(sid.as_str(), name);
        assert_eq!(ApiKeySid::parse(sid.as_str()).as_ref(), Some(&sid));
        assert_eq!(ApiKeySid::from_stored(sid.as_str().to_string()).as_ref(), Ok(&sid));
    }
});

/// The canonical text of a SID given as `given`: its prefix, then its hex digits in lower case.
fn check(canonical: &str, given: &str) {
    assert_eq!(
        canonical,
        format!("{}{}", &given[..2], given[2..].to_ascii_lowercase())
    );
}
