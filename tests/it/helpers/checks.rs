//! Checks of the Twilio API's JSON: sids, dates, caller IDs and error bodies.

use std::collections::BTreeSet;

use serde_json::Value;

use super::client::Reply;

/// The `detail` of Twilio's 401 body.
pub const AUTH_DETAIL: &str = "Your AccountSid or AuthToken was incorrect.";

pub fn sid_of(v: &Value) -> String {
    v["sid"].as_str().expect("sid").to_string()
}

/// A 34-character sid: `prefix` and 32 lower-case hex digits.
pub fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34
        && s.starts_with(prefix)
        && s[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

pub fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Checks an RFC 2822 GMT date (`Fri, 21 Aug 2009 00:11:24 +0000`) and returns its Unix time.
pub fn rfc2822(s: &str) -> i64 {
    let parsed = chrono::DateTime::parse_from_rfc2822(s)
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 2822: {e}"));
    assert_eq!(
        parsed.format("%a, %d %b %Y %H:%M:%S +0000").to_string(),
        s,
        "date must be GMT with a numeric zone"
    );
    let now = chrono::Utc::now().timestamp();
    assert!(
        (now - parsed.timestamp()).abs() < 3600,
        "{s} is not about now"
    );
    parsed.timestamp()
}

/// Checks a caller ID in its JSON form.
pub fn assert_caller_id_json(v: &Value, account: &str, phone: &str, name: &str) {
    assert_eq!(
        keys(v),
        set(&[
            "sid",
            "account_sid",
            "friendly_name",
            "phone_number",
            "date_created",
            "date_updated",
            "uri"
        ])
    );
    let sid = v["sid"].as_str().expect("sid");
    assert!(is_sid(sid, "PN"), "{sid}");
    assert_eq!(v["account_sid"], account);
    assert_eq!(v["phone_number"], phone);
    assert_eq!(v["friendly_name"], name);
    rfc2822(v["date_created"].as_str().expect("date_created"));
    rfc2822(v["date_updated"].as_str().expect("date_updated"));
    assert_eq!(
        v["uri"],
        format!("/2010-04-01/Accounts/{account}/OutgoingCallerIds/{sid}.json")
    );
}

/// Twilio's JSON error body: checks its shape, status and code; returns the message.
pub fn json_error(reply: &Reply, status: u16, code: u64) -> String {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/json", "{}", reply.body);
    let v = reply.json();
    let k = keys(&v);
    assert!(
        k == set(&["code", "message", "more_info", "status"])
            || k == set(&["code", "detail", "message", "more_info", "status"]),
        "error keys {k:?}"
    );
    assert_eq!(v["code"], code, "{}", reply.body);
    assert_eq!(v["status"], status);
    assert_eq!(
        v["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}")
    );
    v["message"].as_str().expect("message").to_string()
}
