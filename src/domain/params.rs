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
        self.0
            .extend(form_urlencoded::byte_serialize(name.as_bytes()));
        self.0.push('=');
        self.0
            .extend(form_urlencoded::byte_serialize(value.as_bytes()));
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
    }
}
