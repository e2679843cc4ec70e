//! Phone numbers: never panics; a parsed number's E.164 text parses again to itself, reads back
//! from storage, and formats.
#![no_main]

use callerid_emulator::domain::PhoneNumber;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(number) = PhoneNumber::parse(text) else {
        return;
    };
    assert_eq!(PhoneNumber::parse(number.as_str()).as_ref(), Some(&number));
    assert_eq!(
        PhoneNumber::from_stored(number.as_str().to_string()).as_ref(),
        Ok(&number)
    );
    let _ = number.formatted();
});
