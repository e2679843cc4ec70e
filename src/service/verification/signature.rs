//! `X-Twilio-Signature`: Base64(HMAC-SHA1(auth token, URL + sorted POST parameters)).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::domain::params::decode_form_into;

/// Signs a request to `url` (the full URL as requested, query string included). For POST,
/// `params` are the form parameters: each name in code-point order, followed by each of its
/// distinct values in order, appended without delimiters. For GET, pass no parameters: they
/// are already in the URL. The message is fed to the MAC piece by piece, never built.
pub fn sign<K: AsRef<str>, V: AsRef<str>>(
    auth_token: &str,
    url: &str,
    params: &[(K, V)],
) -> String {
    // Byte order of UTF-8 is code-point order; equal pairs count once.
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(name, value)| (name.as_ref(), value.as_ref()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    signed(
        auth_token,
        url,
        sorted
            .into_iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes())),
    )
}

/// [`sign`] for a POST whose parameters are `body`, an `application/x-www-form-urlencoded`
/// text as [`crate::domain::params::CallbackParams`] builds it: the pairs are decoded into one
/// buffer and sorted there, without a string per name or value.
pub fn sign_form(auth_token: &str, url: &str, body: &str) -> String {
    let mut decoded = Vec::with_capacity(body.len());
    // Each pair as the ends of its name and of its value in `decoded`.
    let mut pairs: Vec<(usize, usize, usize)> = Vec::with_capacity(16);
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let start = decoded.len();
        decode_form_into(&mut decoded, name.as_bytes());
        let name_end = decoded.len();
        decode_form_into(&mut decoded, value.as_bytes());
        pairs.push((start, name_end, decoded.len()));
    }
    let text = |(start, name_end, end): (usize, usize, usize)| {
        (&decoded[start..name_end], &decoded[name_end..end])
    };
    pairs.sort_unstable_by(|a, b| text(*a).cmp(&text(*b)));
    pairs.dedup_by(|a, b| text(*a) == text(*b));
    signed(auth_token, url, pairs.into_iter().map(text))
}

/// The signature of `url` followed by `sorted`, the pairs already in order and distinct.
fn signed<'a>(
    auth_token: &str,
    url: &str,
    sorted: impl Iterator<Item = (&'a [u8], &'a [u8])>,
) -> String {
    // HMAC takes keys of any length.
    let mut mac = match Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name);
        mac.update(value);
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Owned name/value pairs.
    pub(in crate::service::verification) fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// The vector from twilio-python's tests/unit/test_request_validator.py.
    #[test]
    fn matches_the_sdk_test_vector() {
        let params = p(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(
            sign(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
    }

    /// A form body signs as its decoded pairs do, whatever it encodes.
    #[test]
    fn a_form_body_signs_as_its_pairs() {
        use crate::domain::params::CallbackParams;
        let cases: &[&[(&str, &str)]] = &[
            &[],
            &[
                ("CallSid", "CA1"),
                ("To", "+1 415 555"),
                ("From", "+14155550100"),
            ],
            &[
                ("Digits", "5678"),
                ("Digits", "1234"),
                ("Digits", "1234"),
                ("A", ""),
            ],
            &[
                ("é&=/%", "x+y z"),
                ("", ""),
                ("Url", "http://h/p?q=1&r=%2"),
                ("Z", "ü€😀"),
            ],
            &[("B", "b"), ("A", "b"), ("A", "a"), ("AB", ""), ("A", "")],
        ];
        for pairs in cases {
            let body = CallbackParams::from_pairs(pairs.iter().copied());
            let url = "https://example.com/cb?x=1";
            assert_eq!(
                sign_form("token", url, body.body()),
                sign("token", url, &p(pairs)),
                "{pairs:?}"
            );
        }
        // What the encoder never writes decodes as `form_urlencoded` decodes it.
        for body in ["a=%zz&b=%4", "a&b=&=c", "&&a=1&&", "%41%42=%c3%a9"] {
            let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
            assert_eq!(sign_form("t", "u", body), sign("t", "u", &pairs), "{body}");
        }
    }

    #[test]
    fn repeated_values_are_deduplicated_and_sorted() {
        let params = p(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            sign(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }
}
