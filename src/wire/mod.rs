//! What the Twilio wire looks like: representation formats, SIDs, phone numbers, dates, form
//! bodies and the JSON/XML encodings Twilio's 2010 API uses.

pub mod form;
pub mod paging;
pub mod phone;
pub mod sid;

use serde::Serialize;

pub use form::Params;
pub use phone::PhoneNumber;

/// The representation a request asked for. Twilio's 2010 API decides it by the path suffix
/// alone: `.json` gives JSON, `.xml` or no suffix gives XML.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// The format of a whole request path: JSON only when it ends in `.json`.
    pub fn of_path(path: &str) -> Format {
        if path.ends_with(".json") {
            Format::Json
        } else {
            Format::Xml
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Xml => "application/xml",
        }
    }
}

/// The suffix a path segment carried, which is echoed back in generated URIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suffix {
    Json,
    Xml,
    None,
}

impl Suffix {
    pub fn format(self) -> Format {
        match self {
            Suffix::Json => Format::Json,
            Suffix::Xml | Suffix::None => Format::Xml,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Suffix::Json => ".json",
            Suffix::Xml => ".xml",
            Suffix::None => "",
        }
    }

    /// Splits `Name.json` / `Name.xml` / `Name` into the name and its suffix. Any other
    /// suffix (`.csv`, `.html`) is not served.
    pub fn split(segment: &str) -> Option<(&str, Suffix)> {
        if let Some(name) = segment.strip_suffix(".json") {
            Some((name, Suffix::Json))
        } else if let Some(name) = segment.strip_suffix(".xml") {
            Some((name, Suffix::Xml))
        } else if segment.contains('.') {
            None
        } else {
            Some((segment, Suffix::None))
        }
    }
}

/// Seconds since the Unix epoch as Twilio prints dates: RFC 2822 in GMT with a numeric zone,
/// `Fri, 21 Aug 2009 00:11:24 +0000`.
pub fn rfc2822(unix_seconds: i64) -> String {
    use chrono::{Datelike, Timelike};
    // Written byte by byte: chrono's `format` parses its pattern on every call, which was a
    // tenth of the CPU time of a 50-row list, and `write!` half of what remained.
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    fn two_digits(out: &mut String, n: u32) {
        out.push(char::from(b'0' + (n / 10 % 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    }
    let t = chrono::DateTime::from_timestamp(unix_seconds, 0).unwrap_or_default();
    let mut out = String::with_capacity(31);
    out.push_str(DAYS[t.weekday().num_days_from_monday() as usize]);
    out.push_str(", ");
    two_digits(&mut out, t.day());
    out.push(' ');
    out.push_str(MONTHS[t.month0() as usize]);
    out.push(' ');
    match u32::try_from(t.year()) {
        Ok(year) if year <= 9999 => {
            two_digits(&mut out, year / 100);
            two_digits(&mut out, year % 100);
        }
        _ => {
            use std::fmt::Write;
            let _ = write!(out, "{:04}", t.year());
        }
    }
    out.push(' ');
    two_digits(&mut out, t.hour());
    out.push(':');
    two_digits(&mut out, t.minute());
    out.push(':');
    two_digits(&mut out, t.second());
    out.push_str(" +0000");
    out
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// JSON with the separators Twilio's servers write (`", "` and `": "`, one line).
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, TwilioJsonFormatter);
    // Serializing plain data structs into a Vec cannot fail.
    let _ = value.serialize(&mut ser);
    out
}

struct TwilioJsonFormatter;

impl serde_json::ser::Formatter for TwilioJsonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// The XML declaration Twilio writes before every document, with its single quotes.
pub const XML_DECLARATION: &str = "<?xml version='1.0' encoding='UTF-8'?>\n";

/// `<TwilioResponse>` around `value`, unindented, after Twilio's XML declaration. `value` is a
/// struct whose one field is named after the resource element (`OutgoingCallerId`, …).
pub fn to_xml<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = String::with_capacity(512);
    out.push_str(XML_DECLARATION);
    // quick-xml only fails on values that have no XML form (maps with non-string keys, …),
    // which the representation structs never contain.
    let _ = quick_xml::se::to_writer_with_root(&mut out, "TwilioResponse", value);
    out.into_bytes()
}

/// Whether XML 1.0 can carry `c` at all (no escape exists for the others).
pub fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `s` with every character XML cannot carry replaced by U+FFFD.
pub fn xml_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().all(xml_char) {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(
            s.chars()
                .map(|c| if xml_char(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

/// Serializes an absent value as an empty element or attribute (`<DateSent/>`,
/// `nextpageuri=""`), which is how Twilio's XML says null.
pub fn xml_opt<S: serde::Serializer>(value: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value.as_deref().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc2822_gmt() {
        assert_eq!(rfc2822(1_250_813_484), "Fri, 21 Aug 2009 00:11:24 +0000");
        // Every weekday and month, leap days and the turn of a year, as chrono formats them.
        let mut t = 946_684_799; // 1999-12-31 23:59:59
        while t < 1_800_000_000 {
            let chrono_form = chrono::DateTime::from_timestamp(t, 0)
                .unwrap_or_default()
                .format("%a, %d %b %Y %H:%M:%S +0000")
                .to_string();
            assert_eq!(rfc2822(t), chrono_form);
            t += 86_400 * 13 + 3_607;
        }
    }

    #[test]
    fn suffixes() {
        assert_eq!(
            Suffix::split("OutgoingCallerIds.json"),
            Some(("OutgoingCallerIds", Suffix::Json))
        );
        assert_eq!(Suffix::split("X.xml"), Some(("X", Suffix::Xml)));
        assert_eq!(Suffix::split("X"), Some(("X", Suffix::None)));
        assert_eq!(Suffix::split("X.csv"), None);
    }

    #[test]
    fn json_uses_twilio_separators() {
        let v = serde_json::json!({"a": 1, "b": [1, 2], "c": null});
        assert_eq!(
            String::from_utf8(to_json(&v)).unwrap_or_default(),
            r#"{"a": 1, "b": [1, 2], "c": null}"#
        );
    }
}
