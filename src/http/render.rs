//! How representations are written: Twilio's JSON separators, its XML envelope, its dates.

use serde::Serialize;

use crate::domain::caller_id::xml_char;

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

/// Milliseconds since the Unix epoch as the control API writes times: RFC 3339 in UTC with
/// milliseconds, `2009-08-21T00:11:24.007Z`.
pub fn rfc3339_millis(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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

/// `", "` before every array value and object key but the first.
fn separator<W: ?Sized + std::io::Write>(writer: &mut W, first: bool) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        writer.write_all(b", ")
    }
}

impl serde_json::ser::Formatter for TwilioJsonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        separator(writer, first)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        separator(writer, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// Declares a representation twice from one field list: `$json` with the fields' own
/// snake_case names, as Twilio's JSON has them, and `$xml` with PascalCase names, as its XML
/// has them, with `From<$json> for $xml`.
macro_rules! json_and_xml {
    ($(#[$meta:meta])* $json:ident, $xml:ident <$lt:lifetime> {
        $($(#[$field_meta:meta])* $field:ident: $ty:ty,)*
    }) => {
        $(#[$meta])*
        #[derive(serde::Serialize)]
        pub struct $json<$lt> {
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        $(#[$meta])*
        #[derive(serde::Serialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $xml<$lt> {
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl<$lt> From<$json<$lt>> for $xml<$lt> {
            fn from(json: $json<$lt>) -> $xml<$lt> {
                $xml { $($field: json.$field,)* }
            }
        }
    };
}

pub(crate) use json_and_xml;

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
    fn rfc3339_has_milliseconds_and_z() {
        assert_eq!(
            rfc3339_millis(1_250_813_484_007),
            "2009-08-21T00:11:24.007Z"
        );
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
