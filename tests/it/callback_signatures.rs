//! Issue 3: the StatusCallback request and its X-Twilio-Signature, checked independently of
//! the emulator: POST and GET, callback URLs with a query, without a path, with spaces,
//! unicode, a fragment or credentials. The signature is valid over the URL the receiver saw.

use axum::http::Method;

use crate::helpers::*;

// ---- the independent signature check is itself right --------------------------------------

#[test]
fn independent_signature_matches_the_sdk_vector() {
    let params: Vec<(String, String)> = [
        ("To", "+18005551212"),
        ("CallSid", "CA1234567890ABCDE"),
        ("From", "+14158675309"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(
        expected_signature(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            &params
        ),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
}

// ---- the signature, checked independently -------------------------------------------------

#[tokio::test]
async fn post_signature_covers_the_url_with_its_query_and_sorted_params() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let url = format!("{}?foo=1&bar=2", receiver.url);
    let created = create(
        &app,
        &[("PhoneNumber", "+14155550102"), ("StatusCallback", &url)],
    )
    .await;
    let sid = call_sid(&created);
    let cb = wait_callback(&receiver, &sid).await;
    assert_eq!(cb.method, Method::POST);
    assert_eq!(cb.uri.query(), Some("foo=1&bar=2"));
    assert_signed(&cb, &receiver, TOKEN);
    // The signature must cover the parameters: over the URL alone it differs.
    assert_ne!(
        cb.header("X-Twilio-Signature"),
        Some(expected_signature(TOKEN, &url, &[]))
    );
}

#[tokio::test]
async fn get_callback_carries_params_in_the_query_and_is_signed_over_the_full_url() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let created = create(
        &app,
        &[
            ("PhoneNumber", "+14155550103"),
            ("StatusCallback", &receiver.url),
            ("StatusCallbackMethod", "GET"),
        ],
    )
    .await;
    let sid = call_sid(&created);
    let cb = wait_callback(&receiver, &sid).await;
    assert_eq!(cb.method, Method::GET);
    assert!(cb.body.is_empty(), "a GET callback has no body");
    assert_eq!(cb.uri.path(), "/status");
    let p = params_map(&cb);
    assert_eq!(p["CallStatus"], "completed");
    assert_eq!(p["VerificationStatus"], "success");
    assert_eq!(p["To"], "+14155550103");
    assert_eq!(p["From"], VERIFICATION_CALLER);
    assert!(p["OutgoingCallerIdSid"].starts_with("PN"));
    assert_eq!(cb.header("User-Agent").as_deref(), Some("TwilioProxy/1.1"));
    assert!(cb.header("I-Twilio-Idempotency-Token").is_some());
    assert_signed(&cb, &receiver, TOKEN);
    let journal = wait_callback_state(&app, &sid, "delivered").await;
    assert_eq!(journal["method"], "GET");
}

#[tokio::test]
async fn get_callback_to_a_url_with_a_query_keeps_it_and_appends_params() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let url = format!("{}?tenant=acme", receiver.url);
    let created = create(
        &app,
        &[
            ("PhoneNumber", "+14155550104"),
            ("StatusCallback", &url),
            ("StatusCallbackMethod", "get"),
        ],
    )
    .await;
    let sid = call_sid(&created);
    let cb = wait_callback(&receiver, &sid).await;
    assert_eq!(cb.method, Method::GET);
    let query = cb.uri.query().expect("query");
    assert!(query.starts_with("tenant=acme&"), "{query}");
    let p = params_map(&cb);
    assert_eq!(p["tenant"], "acme");
    assert_eq!(p["CallSid"], sid);
    assert_signed(&cb, &receiver, TOKEN);
}

// ---- the signed URL is the URL sent -------------------------------------------------------

/// The signature must be valid over the URL the receiver saw (`http://` + Host + the request
/// target as received), which is how SDK validators rebuild it. `http://host:port` is
/// requested as `POST /`: the slash is part of the signed URL.
#[tokio::test]
async fn a_callback_url_without_a_path_is_signed_with_the_slash_it_is_requested_with() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let url = format!("http://{}", receiver.addr);
    let created = create(
        &app,
        &[("PhoneNumber", "+14155550290"), ("StatusCallback", &url)],
    )
    .await;
    let sid = call_sid(&created);
    let cb = wait_callback(&receiver, &sid).await;
    assert_eq!(cb.method, Method::POST);
    assert_eq!(cb.uri.to_string(), "/");
    assert_signed(&cb, &receiver, TOKEN);
    assert_ne!(
        cb.header("X-Twilio-Signature"),
        Some(expected_signature(TOKEN, &url, &cb.params())),
        "signed over the URL as sent, not as given"
    );
    let journal = wait_callback_state(&app, &sid, "delivered").await;
    assert_eq!(journal["url"], format!("{url}/"));
    assert_eq!(journal["attempts"][0]["url"], format!("{url}/"));
}

#[tokio::test]
async fn a_callback_url_with_a_space_and_unicode_in_its_query_is_signed_as_sent() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let url = format!("{}?x=a b&name=Zoë", receiver.url);
    let created = create(
        &app,
        &[("PhoneNumber", "+14155550291"), ("StatusCallback", &url)],
    )
    .await;
    let sid = call_sid(&created);
    let cb = wait_callback(&receiver, &sid).await;
    assert_eq!(cb.method, Method::POST);
    assert_eq!(cb.uri.query(), Some("x=a%20b&name=Zo%C3%AB"));
    let query = Params::parse(cb.uri.query().unwrap_or("").as_bytes()).expect("query");
    assert_eq!(
        query.pairs(),
        [
            ("x".to_string(), "a b".to_string()),
            ("name".to_string(), "Zoë".to_string())
        ]
    );
    assert_eq!(cb.param("CallSid").as_deref(), Some(sid.as_str()));
    assert_signed(&cb, &receiver, TOKEN);
    assert_ne!(
        cb.header("X-Twilio-Signature"),
        Some(expected_signature(TOKEN, &url, &cb.params())),
        "signed over the URL as sent, not as given"
    );
}

#[tokio::test]
async fn a_get_callback_with_a_fragment_gets_its_params_and_a_valid_signature() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let url = format!("{}?tenant=a b#section", receiver.url);
    let created = create(
        &app,
        &[
            ("PhoneNumber", "+14155550292"),
            ("StatusCallback", &url),
            ("StatusCallbackMethod", "GET"),
        ],
    )
    .await;
    let sid = call_sid(&created);
    let cb = wait_callback(&receiver, &sid).await;
    assert_eq!(cb.method, Method::GET);
    assert_eq!(cb.uri.path(), "/status");
    let query = cb.uri.query().expect("query");
    assert!(query.starts_with("tenant=a%20b&"), "{query}");
    let p = params_map(&cb);
    assert_eq!(p["tenant"], "a b");
    assert_eq!(p["CallSid"], sid);
    assert_eq!(p["VerificationStatus"], "success");
    assert_eq!(p["To"], "+14155550292");
    assert!(!query.contains("section"), "{query}");
    assert_signed(&cb, &receiver, TOKEN);
    let journal = wait_callback_state(&app, &sid, "delivered").await;
    assert_eq!(
        journal["url"],
        format!("{}?tenant=a%20b", receiver.url),
        "stored normalized, without the fragment"
    );
}

#[tokio::test]
async fn credentials_in_a_callback_url_are_never_sent() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let url = format!("http://user:secret@{}/status", receiver.addr);
    let created = create(
        &app,
        &[("PhoneNumber", "+14155550293"), ("StatusCallback", &url)],
    )
    .await;
    let sid = call_sid(&created);
    let cb = wait_callback(&receiver, &sid).await;
    assert_eq!(cb.header("Authorization"), None);
    assert_eq!(cb.uri.path(), "/status");
    assert_signed(&cb, &receiver, TOKEN);
    let journal = wait_callback_state(&app, &sid, "delivered").await;
    let sent = journal["attempts"][0]["url"].as_str().expect("attempt url");
    assert_eq!(sent, receiver.url);
}
