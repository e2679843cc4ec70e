//! The control API's JSON bodies: every body type reads any bytes without panicking.
#![no_main]

use callerid_emulator::http::control::{parse_body, BodyKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for kind in BodyKind::ALL {
        let _ = parse_body(kind, data);
    }
});
