//! CSV representations, for reads whose path ends in `.csv`: a header row naming the columns,
//! then one row per record, as RFC 4180 writes them (CRLF after every row; a field holding a
//! comma, a double quote, CR or LF is quoted, its quotes doubled). A resource gets CSV by
//! implementing [`CsvRecord`] and answering its `.csv` reads with [`respond`].

use std::borrow::Cow;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

/// The content type of every CSV answer.
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// A record with a CSV form: its columns, and its values in the same order.
pub trait CsvRecord {
    /// The header row: the column names, in order.
    const COLUMNS: &'static [&'static str];

    /// One value per column, in the order of [`CsvRecord::COLUMNS`]; an absent value is "".
    fn values(&self) -> Vec<Cow<'_, str>>;
}

/// The header row and one row per record.
pub fn to_csv<'a, T: CsvRecord + 'a>(records: impl IntoIterator<Item = &'a T>) -> Vec<u8> {
    let mut out = String::with_capacity(1024);
    push_row(&mut out, T::COLUMNS.iter().copied());
    for record in records {
        let values = record.values();
        push_row(&mut out, values.iter().map(|v| v.as_ref()));
    }
    out.into_bytes()
}

fn push_row<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, field);
    }
    out.push_str("\r\n");
}

fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// 200 with `records` in CSV.
pub fn respond<'a, T: CsvRecord + 'a>(records: impl IntoIterator<Item = &'a T>) -> Response {
    let mut response = Response::new(Body::from(to_csv(records)));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pair(&'static str, &'static str);

    impl CsvRecord for Pair {
        const COLUMNS: &'static [&'static str] = &["name", "note"];
        fn values(&self) -> Vec<Cow<'_, str>> {
            vec![self.0.into(), self.1.into()]
        }
    }

    #[test]
    fn rfc_4180_quoting() {
        let rows = [
            Pair("plain", ""),
            Pair("a,b", "say \"hi\""),
            Pair("two\r\nlines", "lf\nonly"),
            Pair(" spaced ", "cr\r"),
        ];
        let text = String::from_utf8(to_csv(&rows)).expect("utf-8");
        assert_eq!(
            text,
            "name,note\r\nplain,\r\n\"a,b\",\"say \"\"hi\"\"\"\r\n\"two\r\nlines\",\"lf\nonly\"\r\n spaced ,\"cr\r\"\r\n"
        );
        let empty: [Pair; 0] = [];
        assert_eq!(to_csv(&empty), b"name,note\r\n");
    }
}
