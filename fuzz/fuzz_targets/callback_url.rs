//! The StatusCallback URL normaliser: never panics; what it keeps is an http(s) URL without a
//! fragment that the normaliser keeps unchanged (so the signed URL is stable).
#![no_main]

use callerid_emulator::http::twilio::validation_requests::check_callback_url;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(url) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(normal) = check_callback_url(url) else {
        return;
    };
    assert!(normal.starts_with("http://") || normal.starts_with("https://"));
    assert!(!normal.contains('#'), "fragment kept: {normal:?}");
    assert_eq!(
        check_callback_url(&normal).as_deref().ok(),
        Some(normal.as_str()),
        "not stable: {url:?} -> {normal:?}"
    );
});
