//! The form body / query string parser: never panics; every pair it reads, written back with
//! `form::encode`, reads again as the same pair.
#![no_main]

use callerid_emulator::http::form::{encode, Params};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(params) = Params::parse(data) else {
        return;
    };
    for (name, value) in params.pairs() {
        let _ = params.get(name);
        let again = Params::parse(format!("{}={}", encode(name), encode(value)).as_bytes())
            .expect("an encoded pair parses");
        assert_eq!(again.pairs(), &[(name.clone(), value.clone())][..]);
    }
});
