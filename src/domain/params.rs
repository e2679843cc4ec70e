//! A StatusCallback's parameters, kept as the form body that sends them.

use std::borrow::Cow;

/// Name/value pairs as an `application/x-www-form-urlencoded` body, in the order they were
/// added (encoded as the `url` crate encodes a query: letters, digits and `*-._` as they are,
/// spaces as `+`, every other byte as `%XX`). One text, built once: it is stored as it is,
/// sent as the body of a POST, and decoded only to sign it or to show it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbackParams(String);

impl CallbackParams {
    pub fn with_capacity(bytes: usize) -> Self {
        CallbackParams(String::with_capacity(bytes))
    }

    /// The pairs, in order.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut params = CallbackParams::default();
        for (name, value) in pairs {
            params.push(name, value);
        }
        params
    }

    /// A body as [`CallbackParams::body`] gave it.
    pub fn from_body(body: String) -> Self {
        CallbackParams(body)
    }

    pub fn push(&mut self, name: &str, value: &str) {
        if !self.0.is_empty() {
            self.0.push('&');
        }
        encode_into(&mut self.0, name);
        self.0.push('=');
        encode_into(&mut self.0, value);
    }

    /// The form body.
    pub fn body(&self) -> &str {
        &self.0
    }

    /// The pairs, decoded, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
        form_urlencoded::parse(self.0.as_bytes())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.pairs().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Appends `raw` form-decoded: `+` is a space, `%XX` the byte it names, and a `%` without two
/// hex digits after it stays as it is (as `form_urlencoded` and `percent_encoding` decode).
pub fn decode_form_into(out: &mut Vec<u8>, raw: &[u8]) {
    if !raw.iter().any(|&b| b == b'+' || b == b'%') {
        out.extend_from_slice(raw);
        return;
    }
    out.reserve(raw.len());
    let hex = |digit: u8| (digit as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                raw.get(i + 1).and_then(|h| hex(*h)),
                raw.get(i + 2).and_then(|l| hex(*l)),
            ) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
}

/// Appends `text` encoded as the module says: each run of bytes kept as they are in one copy,
/// every other byte (those of characters beyond ASCII one by one) as `+` or `%XX`.
fn encode_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let kept = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_');
    out.reserve(text.len());
    // Where the current run of kept bytes starts. A run that is not empty starts and ends at
    // kept (ASCII) bytes, so on character boundaries; `run` alone may point inside a character
    // beyond ASCII, whose other bytes are never kept.
    let mut run = 0;
    for (i, byte) in text.bytes().enumerate() {
        if kept(byte) {
            continue;
        }
        if run < i {
            out.push_str(&text[run..i]);
        }
        if byte == b' ' {
            out.push('+');
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 15)]));
        }
        run = i + 1;
    }
    if run < text.len() {
        out.push_str(&text[run..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_encoded_as_the_url_crate_encodes_a_query_and_decodes_back() {
        let pairs = [("To", "+1 415"), ("x*-._~", "é&=/%"), ("", "")];
        let params = CallbackParams::from_pairs(pairs);
        let mut url = reqwest::Url::parse("http://form/").expect("url");
        url.query_pairs_mut().extend_pairs(pairs);
        assert_eq!(params.body(), url.query().unwrap_or(""));
        let decoded: Vec<(String, String)> = params
            .pairs()
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        let expected: Vec<(String, String)> = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(decoded, expected);
        assert_eq!(params.get("To").as_deref(), Some("+1 415"));
        assert_eq!(params.get("From"), None);
        // Every byte value, and characters of every UTF-8 width, as `form_urlencoded` writes.
        let every: String = (0..128u8).map(char::from).chain("é€😀 ~".chars()).collect();
        let mut encoded = String::new();
        encode_into(&mut encoded, &every);
        let expected: String = form_urlencoded::byte_serialize(every.as_bytes()).collect();
        assert_eq!(encoded, expected);
    }

    /// Form decoding as `+` to a space and then `percent_encoding` would give.
    #[test]
    fn form_decoding_matches_plus_then_percent_decoding() {
        for raw in [
            "",
            "plain",
            "a+b",
            "%2B1+415",
            "%zz%4",
            "%",
            "%%41",
            "%+1",
            "%e2%82%ac%C3%A9",
            "100%",
            "x%2",
            "+%2b+",
            "%ff%fe",
        ] {
            let mut ours = Vec::new();
            decode_form_into(&mut ours, raw.as_bytes());
            let plus = raw.replace('+', " ");
            let theirs: Vec<u8> = percent_encoding::percent_decode(plus.as_bytes()).collect();
            assert_eq!(ours, theirs, "{raw}");
        }
    }
}
