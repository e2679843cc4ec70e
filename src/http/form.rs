//! `application/x-www-form-urlencoded` bodies and query strings, parsed strictly: bad
//! percent-encoding that decodes to invalid UTF-8 and repeated parameters are client errors,
//! where a lenient parser would silently change what the client sent.

use super::error::ApiError;
use crate::domain::params::decode_form_into;

/// Decoded name/value pairs in the order they arrived.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a query string or form body.
    pub fn parse(raw: &[u8]) -> Result<Params, ApiError> {
        let mut pairs = Vec::new();
        for part in raw.split(|&b| b == b'&') {
            if part.is_empty() {
                continue;
            }
            let (name, value) = match part.iter().position(|&b| b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &b""[..]),
            };
            let name = decode(name)?;
            let value = decode(value)?;
            pairs.push((name, value));
        }
        Ok(Params(pairs))
    }

    /// The single value of `name`; a parameter given more than once is refused rather than
    /// guessed at.
    pub fn get(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut found = None;
        for (k, v) in &self.0 {
            if k == name {
                if found.is_some() {
                    return Err(ApiError::invalid_parameter(format!(
                        "Parameter {name} was given more than once"
                    )));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found)
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn decode(raw: &[u8]) -> Result<String, ApiError> {
    let mut bytes = Vec::with_capacity(raw.len());
    decode_form_into(&mut bytes, raw);
    String::from_utf8(bytes)
        .map_err(|_| ApiError::invalid_parameter("The request contains invalid UTF-8".to_string()))
}

/// Percent-encodes a query or form value the way Twilio writes its paging URIs
/// (`%2B14158675309`, spaces as `+`).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent() {
        let p = Params::parse(b"PhoneNumber=%2B14155551212&FriendlyName=My+Phone&Empty=")
            .expect("valid form");
        assert_eq!(p.get("PhoneNumber").ok().flatten(), Some("+14155551212"));
        assert_eq!(p.get("FriendlyName").ok().flatten(), Some("My Phone"));
        assert_eq!(p.get("Empty").ok().flatten(), Some(""));
        assert_eq!(p.get("Missing").ok().flatten(), None);
    }

    #[test]
    fn rejects_bad_utf8_and_repeats() {
        assert!(Params::parse(b"FriendlyName=%FF%FE").is_err());
        let p = Params::parse(b"A=1&A=2").expect("parses");
        assert!(p.get("A").is_err());
    }

    #[test]
    fn encode_roundtrip() {
        let s = "+1 (415) & é";
        let encoded = encode(s);
        let p = Params::parse(format!("X={encoded}").as_bytes()).expect("valid");
        assert_eq!(p.get("X").ok().flatten(), Some(s));
    }
}
