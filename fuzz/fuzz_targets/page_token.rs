//! `PageSize`, `Page` and `PageToken` from a query string: never panics; a token that is
//! accepted is echoed back as the same text, but for its SID's hex digits, in lower case.
#![no_main]

use callerid_emulator::http::form::{encode, Params};
use callerid_emulator::http::paging::{token_of, PageRequest, MAX_PAGE_SIZE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The bytes as a whole query string ...
    if let Ok(query) = Params::parse(data) {
        if let Ok(request) = PageRequest::parse(&query) {
            assert!((1..=MAX_PAGE_SIZE).contains(&request.page_size));
        }
    }
    // ... and as the value of PageToken alone.
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let query = Params::parse(format!("Page=1&PageToken={}", encode(token)).as_bytes())
        .expect("an encoded query parses");
    if let Ok(request) = PageRequest::parse(&query) {
        let canonical = format!("{}{}", &token[..4], token[4..].to_ascii_lowercase());
        assert_eq!(token_of(&request.cursor), Some(canonical));
    }
});
