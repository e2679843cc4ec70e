//! X-Twilio-Signature, computed here independently of the emulator.

use axum::http::Method;
use base64::Engine as _;
use hmac::{Hmac, Mac};

use super::receiver::{Received, Receiver};

/// Base64(HMAC-SHA1(token, url + each param name and value in sorted order)).
pub fn expected_signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut message = url.to_string();
    for (name, value) in &sorted {
        message.push_str(name);
        message.push_str(value);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).expect("hmac key");
    mac.update(message.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Asserts a received callback carries a valid signature for `token`: for POST over the URL
/// plus the form parameters, for GET over the full URL with its query string only.
pub fn assert_signed(received: &Received, receiver: &Receiver, token: &str) {
    let url = format!("http://{}{}", receiver.addr, received.uri);
    let signed_params = if received.method == Method::GET {
        Vec::new()
    } else {
        received.params()
    };
    let expected = expected_signature(token, &url, &signed_params);
    assert_eq!(
        received.header("X-Twilio-Signature").as_deref(),
        Some(expected.as_str()),
        "signature over {url} with {signed_params:?}"
    );
}
