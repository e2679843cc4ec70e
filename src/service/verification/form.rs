//! Form bodies (`application/x-www-form-urlencoded`) of POST callbacks, encoded as the `url`
//! crate encodes a query, without parsing a URL to do it.

use std::fmt::Write as _;

/// Appends `s` form-encoded (`application/x-www-form-urlencoded`: letters, digits and `*-._`
/// as they are, spaces as `+`, every other byte as `%XX`).
fn push_form_encoded(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// A form body.
pub(super) fn form_encode(params: &[(String, String)]) -> String {
    let mut out = String::with_capacity(params.iter().map(|(k, v)| k.len() + v.len() + 8).sum());
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        push_form_encoded(&mut out, name);
        out.push('=');
        push_form_encoded(&mut out, value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::signature::tests::p;
    use super::*;

    #[test]
    fn a_form_body_is_encoded_as_the_url_crate_encodes_a_query() {
        let params = p(&[("To", "+1 415"), ("x*-._~", "é&=/%"), ("", "")]);
        let mut url = reqwest::Url::parse("http://form/").expect("url");
        url.query_pairs_mut().extend_pairs(&params);
        assert_eq!(form_encode(&params), url.query().unwrap_or(""));
    }
}
