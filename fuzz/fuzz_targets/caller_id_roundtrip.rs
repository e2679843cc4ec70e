//! A caller ID with an arbitrary FriendlyName (any the parser accepts): its JSON reads back
//! with the same friendly_name; its XML is well-formed and its FriendlyName element reads back
//! as the same text.
#![no_main]

use callerid_emulator::domain::caller_id::{CallerId, FriendlyName};
use callerid_emulator::domain::sid::{AccountSid, CallerIdSid};
use callerid_emulator::domain::PhoneNumber;
use callerid_emulator::http::format::Format;
use callerid_emulator::http::twilio::caller_id_repr::body;
use libfuzzer_sys::fuzz_target;
use quick_xml::events::Event;
use quick_xml::Reader;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(name) = FriendlyName::parse(text) else {
        return;
    };
    let row = CallerId {
        sid: CallerIdSid::parse("PN0123456789abcdef0123456789abcdef").expect("sid"),
        account_sid: AccountSid::parse("AC0123456789abcdef0123456789abcdef").expect("sid"),
        phone_number: PhoneNumber::parse("+14158675309").expect("number"),
        friendly_name: name,
        date_created: 1_700_000_000,
        date_updated: 1_700_000_100,
        json: Default::default(),
    };

    let json: serde_json::Value = serde_json::from_slice(&body(&row, Format::Json)).expect("JSON");
    assert_eq!(json["friendly_name"].as_str(), Some(text));

    let xml = body(&row, Format::Xml);
    let xml = std::str::from_utf8(&xml).expect("UTF-8 XML");
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<String> = Vec::new();
    let mut friendly: Option<String> = None;
    let mut roots = 0;
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("XML not well-formed: {e}: {xml}")) {
            Event::Start(start) => {
                if stack.is_empty() {
                    roots += 1;
                }
                let tag = String::from_utf8(start.name().as_ref().to_vec()).expect("tag");
                if tag == "FriendlyName" {
                    friendly = Some(String::new());
                }
                stack.push(tag);
            }
            Event::End(_) => {
                stack.pop().expect("an end tag closes an open one");
            }
            Event::Empty(empty) => {
                if stack.is_empty() {
                    roots += 1;
                }
                if empty.name().as_ref() == b"FriendlyName" {
                    friendly = Some(String::new());
                }
            }
            Event::Text(t) => {
                assert!(!stack.is_empty() || t.iter().all(u8::is_ascii_whitespace), "text outside the root: {xml}");
                if stack.last().map(String::as_str) == Some("FriendlyName") {
                    let decoded = t.decode().expect("text decodes");
                    let unescaped = quick_xml::escape::unescape(&decoded).expect("text unescapes");
                    friendly.get_or_insert_default().push_str(&unescaped);
                }
            }
            Event::GeneralRef(r) => {
                let name = r.decode().expect("reference decodes");
                let resolved = match name.as_ref() {
                    "lt" => "<".to_string(),
                    "gt" => ">".to_string(),
                    "amp" => "&".to_string(),
                    "apos" => "'".to_string(),
                    "quot" => "\"".to_string(),
                    _ => {
                        let c = r
                            .resolve_char_ref()
                            .expect("a valid character reference")
                            .unwrap_or_else(|| panic!("unknown entity &{name}; in {xml}"));
                        c.to_string()
                    }
                };
                if stack.last().map(String::as_str) == Some("FriendlyName") {
                    friendly.get_or_insert_default().push_str(&resolved);
                }
            }
            Event::CData(c) => {
                if stack.last().map(String::as_str) == Some("FriendlyName") {
                    friendly.get_or_insert_default().push_str(std::str::from_utf8(&c).expect("CDATA"));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?}: {xml}");
    assert_eq!(roots, 1, "one root element: {xml}");
    assert_eq!(friendly.as_deref(), Some(text), "FriendlyName read back: {xml}");
});
