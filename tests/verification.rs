//! Issue 3: validation requests, the simulated verification call and its signed
//! StatusCallback. Every test runs the real server over a real SQLite file and, where a
//! callback is involved, a real HTTP receiver on port 0.

mod common;

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use common::*;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const VERIFICATION_CALLER: &str = "+14157234000";

// ---- helpers ------------------------------------------------------------------------------

/// An account the tests talk to the Twilio API as.
#[derive(Clone, Debug)]
struct Account {
    sid: String,
    token: String,
}

fn dev() -> Account {
    Account {
        sid: SID.to_string(),
        token: TOKEN.to_string(),
    }
}

/// A second account made through the control API, with a token of our choosing.
async fn new_account(app: &TestApp, token: &str) -> Account {
    let response = app
        .client
        .post(app.url("/_emulator/accounts"))
        .json(&serde_json::json!({ "auth_token": token }))
        .send()
        .await
        .expect("create account");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    Account {
        sid: body["sid"].as_str().expect("sid").to_string(),
        token: body["auth_token"].as_str().expect("token").to_string(),
    }
}

fn api_url(app: &TestApp, account: &Account, rest: &str) -> String {
    format!("{}/2010-04-01/Accounts/{}{rest}", app.base, account.sid)
}

/// `POST …/OutgoingCallerIds.json` as `account`; the status and the JSON body.
async fn request_as(
    app: &TestApp,
    account: &Account,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let response = app
        .client
        .post(api_url(app, account, "/OutgoingCallerIds.json"))
        .basic_auth(&account.sid, Some(&account.token))
        .form(form)
        .send()
        .await
        .expect("send validation request");
    let status = response.status();
    let body = response.json().await.expect("json body");
    (status, body)
}

/// A validation request on the dev account that must be accepted; its JSON.
async fn create(app: &TestApp, form: &[(&str, &str)]) -> Value {
    create_as(app, &dev(), form).await
}

async fn create_as(app: &TestApp, account: &Account, form: &[(&str, &str)]) -> Value {
    let (status, body) = request_as(app, account, form).await;
    assert_eq!(status, StatusCode::OK, "validation request refused: {body}");
    body
}

/// A validation request on the dev account for `phone`, whose callee behaves as `behavior`,
/// with a StatusCallback to `receiver` and a one-second CallDelay; the CallSid.
async fn create_with_callback(
    app: &TestApp,
    phone: &str,
    behavior: &str,
    receiver: &Receiver,
) -> String {
    set_behavior(app, SID, phone, behavior).await;
    let created = create(
        app,
        &[
            ("PhoneNumber", phone),
            ("StatusCallback", &receiver.url),
            ("CallDelay", "1"),
        ],
    )
    .await;
    call_sid(&created)
}

fn call_sid(body: &Value) -> String {
    body["call_sid"].as_str().expect("call_sid").to_string()
}

async fn set_behavior(app: &TestApp, account: &str, phone: &str, behavior: &str) {
    let response = app
        .client
        .put(app.url(&format!(
            "/_emulator/accounts/{account}/phones/{}",
            phone.replace('+', "%2B")
        )))
        .json(&serde_json::json!({ "behavior": behavior }))
        .send()
        .await
        .expect("set behaviour");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["behavior"], behavior);
}

async fn get_behavior(app: &TestApp, account: &str, phone: &str) -> Value {
    let response = app
        .client
        .get(app.url(&format!(
            "/_emulator/accounts/{account}/phones/{}",
            phone.replace('+', "%2B")
        )))
        .send()
        .await
        .expect("get behaviour");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

/// `GET /_emulator/calls/{sid}`.
async fn call_view(app: &TestApp, sid: &str) -> Value {
    let response = app
        .client
        .get(app.url(&format!("/_emulator/calls/{sid}")))
        .send()
        .await
        .expect("call view");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

/// Waits until the call's status is `status`.
async fn wait_status(app: &TestApp, sid: &str, status: &str) -> Value {
    let url = app.url(&format!("/_emulator/calls/{sid}"));
    wait_for(Duration::from_secs(20), || async {
        let v: Value = app.client.get(&url).send().await.ok()?.json().await.ok()?;
        (v["status"] == status).then_some(v)
    })
    .await
    .unwrap_or_else(|| panic!("call {sid} never reached {status}"))
}

async fn post_digits(app: &TestApp, sid: &str, digits: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/_emulator/calls/{sid}/digits")))
        .json(&serde_json::json!({ "digits": digits }))
        .send()
        .await
        .expect("post digits")
}

/// `GET /_emulator/callbacks` with `query`.
async fn callbacks(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app
        .client
        .get(app.url(&format!("/_emulator/callbacks{query}")))
        .send()
        .await
        .expect("callbacks");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    body["callbacks"]
        .as_array()
        .expect("callbacks array")
        .clone()
}

/// Waits until the (only) callback of `call` is in `state`.
async fn wait_callback_state(app: &TestApp, call: &str, state: &str) -> Value {
    let query = format!("?call_sid={call}");
    wait_for(Duration::from_secs(20), || async {
        let list = callbacks(app, &query).await;
        list.first().filter(|cb| cb["state"] == state).cloned()
    })
    .await
    .unwrap_or_else(|| panic!("callback of {call} never became {state}"))
}

/// The account's caller IDs, first page.
async fn caller_ids(app: &TestApp, account: &Account) -> Vec<Value> {
    let response = app
        .client
        .get(api_url(app, account, "/OutgoingCallerIds.json"))
        .basic_auth(&account.sid, Some(&account.token))
        .send()
        .await
        .expect("list");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    body["outgoing_caller_ids"]
        .as_array()
        .expect("outgoing_caller_ids")
        .clone()
}

/// `GET …/Calls/{sid}{suffix}` as `account`.
async fn fetch_call(
    app: &TestApp,
    account: &Account,
    sid: &str,
    suffix: &str,
) -> reqwest::Response {
    app.client
        .get(api_url(app, account, &format!("/Calls/{sid}{suffix}")))
        .basic_auth(&account.sid, Some(&account.token))
        .send()
        .await
        .expect("fetch call")
}

/// Rows in `table`, read straight from the test's SQLite file.
async fn count_rows(app: &TestApp, table: &str) -> i64 {
    let options = SqliteConnectOptions::from_str(&app.db_url)
        .expect("db url")
        .read_only(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("open test db");
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let n: i64 = sqlx::query_scalar(&sql)
        .fetch_one(&pool)
        .await
        .expect("count");
    pool.close().await;
    n
}

/// X-Twilio-Signature computed here, independently of the emulator: Base64(HMAC-SHA1(token,
/// url + each param name and value in sorted order)).
fn expected_signature(token: &str, url: &str, params: &[(String, String)]) -> String {
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
fn assert_signed(received: &Received, receiver: &Receiver, token: &str) {
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

fn params_map(received: &Received) -> std::collections::BTreeMap<String, String> {
    received.params().into_iter().collect()
}

/// The one callback `receiver` got for `call`.
fn callback_for(receiver: &Receiver, call: &str) -> Received {
    let all = receiver.received();
    let mine: Vec<Received> = all
        .into_iter()
        .filter(|r| r.param("CallSid").as_deref() == Some(call))
        .collect();
    assert_eq!(mine.len(), 1, "expected one callback for {call}: {mine:?}");
    mine.into_iter().next().expect("one callback")
}

/// Waits for a callback for `call` to arrive at `receiver`.
async fn wait_callback(receiver: &Receiver, call: &str) -> Received {
    wait_for(Duration::from_secs(20), || async {
        receiver
            .received()
            .into_iter()
            .find(|r| r.param("CallSid").as_deref() == Some(call))
    })
    .await
    .unwrap_or_else(|| panic!("no callback for {call}; got {:?}", receiver.received()))
}

fn timeline_statuses(view: &Value) -> Vec<String> {
    view["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["status"].as_str().expect("status").to_string())
        .collect()
}

// ---- the independent signature check is itself right ----------------------------------------

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

// ---- success ----------------------------------------------------------------------------------

#[tokio::test]
async fn success_creates_the_caller_id_and_posts_a_signed_callback() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let created = create(
        &app,
        &[
            ("PhoneNumber", "+14155550100"),
            ("FriendlyName", "Front desk"),
            ("CallDelay", "5"),
            ("Extension", "ww123#"),
            ("StatusCallback", &receiver.url),
            ("StatusCallbackMethod", "POST"),
        ],
    )
    .await;
    assert_eq!(created["account_sid"], SID);
    assert_eq!(created["phone_number"], "+14155550100");
    assert_eq!(created["friendly_name"], "Front desk");
    let code = created["validation_code"].as_str().expect("code");
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "validation_code {code:?}"
    );
    let sid = call_sid(&created);
    assert!(sid.len() == 34 && sid.starts_with("CA"), "call_sid {sid:?}");

    let got = receiver.wait_for(1).await;
    let cb = &got[0];
    let caller_id = wait_for(Duration::from_secs(5), || async {
        caller_ids(&app, &dev()).await.into_iter().next()
    })
    .await
    .expect("caller ID created");
    assert_eq!(caller_id["phone_number"], "+14155550100");
    assert_eq!(caller_id["friendly_name"], "Front desk");
    let pn = caller_id["sid"].as_str().expect("sid");
    assert!(pn.starts_with("PN"), "caller ID sid {pn}");

    // The request.
    assert_eq!(cb.method, Method::POST);
    assert_eq!(cb.uri.path(), "/status");
    assert_eq!(cb.uri.query(), None);
    assert_eq!(cb.header("User-Agent").as_deref(), Some("TwilioProxy/1.1"));
    let content_type = cb.header("Content-Type").expect("content type");
    assert!(
        content_type.starts_with("application/x-www-form-urlencoded"),
        "{content_type}"
    );
    let token = cb
        .header("I-Twilio-Idempotency-Token")
        .expect("idempotency token");
    assert!(
        uuid::Uuid::parse_str(&token).is_ok(),
        "idempotency token {token:?}"
    );
    assert_signed(cb, &receiver, TOKEN);

    // Its parameters.
    let p = params_map(cb);
    assert_eq!(p["AccountSid"], SID);
    assert_eq!(p["ApiVersion"], "2010-04-01");
    assert_eq!(p["CallSid"], sid);
    assert_eq!(p["CallStatus"], "completed");
    assert_eq!(p["Called"], "+14155550100");
    assert_eq!(p["To"], "+14155550100");
    assert_eq!(p["Caller"], VERIFICATION_CALLER);
    assert_eq!(p["From"], VERIFICATION_CALLER);
    assert_eq!(p["Direction"], "outbound-api");
    assert_eq!(p["VerificationStatus"], "success");
    assert_eq!(p["OutgoingCallerIdSid"], pn);
    let duration: i64 = p["CallDuration"].parse().expect("CallDuration is a number");
    assert!(duration > 0, "an answered call lasts: {duration}");

    // The Call resource agrees with the callback.
    let call: Value = fetch_call(&app, &dev(), &sid, ".json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(call["duration"], p["CallDuration"].as_str());

    // The journal records the same request, delivered once.
    let journal = wait_callback_state(&app, &sid, "delivered").await;
    assert_eq!(journal["idempotency_token"], token.as_str());
    assert_eq!(journal["method"], "POST");
    assert_eq!(journal["url"], receiver.url.as_str());
    assert_eq!(journal["params"]["OutgoingCallerIdSid"], pn);
    let attempts = journal["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status_code"], 200);
    assert!(attempts[0]["error"].is_null());
    assert_eq!(
        attempts[0]["signature"].as_str(),
        cb.header("X-Twilio-Signature").as_deref()
    );

    // The call as the control API shows it.
    let view = call_view(&app, &sid).await;
    assert_eq!(view["verification_status"], "success");
    assert_eq!(view["outgoing_caller_id_sid"], pn);
    assert_eq!(view["extension"], "ww123#");
    assert_eq!(view["call_delay"], 5);
    assert_eq!(view["digits"], code);
    assert_eq!(receiver.received().len(), 1, "exactly one callback");
}

#[tokio::test]
async fn unformatted_us_number_and_xml_response() {
    let app = TestApp::spawn().await;
    let response = app
        .post_form(
            &app.api("/OutgoingCallerIds"),
            &[("PhoneNumber", "(415) 555-0101")],
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        content_type.starts_with("application/xml"),
        "{content_type}"
    );
    let xml = response.text().await.expect("text");
    assert!(xml.contains("<ValidationRequest>"), "{xml}");
    assert!(
        xml.contains("<PhoneNumber>+14155550101</PhoneNumber>"),
        "{xml}"
    );
    assert!(
        xml.contains("<FriendlyName>(415) 555-0101</FriendlyName>"),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("<AccountSid>{SID}</AccountSid>")),
        "{xml}"
    );
    let start = xml.find("<CallSid>").expect("CallSid") + "<CallSid>".len();
    let sid = &xml[start..start + 34];
    assert!(sid.starts_with("CA"), "{xml}");
    let view = app.wait_call_ended(sid).await;
    assert_eq!(view["verification_status"], "success");
    let ids = caller_ids(&app, &dev()).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0]["phone_number"], "+14155550101");
    assert_eq!(ids[0]["friendly_name"], "(415) 555-0101");
}

// ---- the signature, checked independently -----------------------------------------------------

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

// ---- failures ----------------------------------------------------------------------------------

#[tokio::test]
async fn wrong_code_fails_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let phone = "+14155550110";
    set_behavior(&app, SID, phone, "wrong-code").await;
    assert_eq!(
        get_behavior(&app, SID, phone).await["behavior"],
        "wrong-code"
    );
    let created = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let sid = call_sid(&created);
    let cb = wait_callback(&receiver, &sid).await;
    let p = params_map(&cb);
    assert_eq!(p["CallStatus"], "completed");
    assert_eq!(p["VerificationStatus"], "failed");
    assert!(!p.contains_key("OutgoingCallerIdSid"), "{p:?}");
    assert_signed(&cb, &receiver, TOKEN);
    let view = call_view(&app, &sid).await;
    assert_eq!(view["verification_status"], "failed");
    assert_ne!(view["digits"], view["validation_code"]);
    assert!(view["outgoing_caller_id_sid"].is_null());
    assert!(caller_ids(&app, &dev()).await.is_empty());
    assert_eq!(count_rows(&app, "outgoing_caller_ids").await, 0);
}

#[tokio::test]
async fn no_answer_and_busy_fail() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    for (phone, behavior) in [("+14155550111", "no-answer"), ("+14155550112", "busy")] {
        let sid = create_with_callback(&app, phone, behavior, &receiver).await;
        let cb = wait_callback(&receiver, &sid).await;
        let p = params_map(&cb);
        assert_eq!(p["CallStatus"], behavior, "{phone}");
        assert_eq!(p["VerificationStatus"], "failed", "{phone}");
        assert_eq!(p["To"], phone);
        assert!(!p.contains_key("OutgoingCallerIdSid"), "{p:?}");
        assert_signed(&cb, &receiver, TOKEN);
        let call: Value = fetch_call(&app, &dev(), &sid, ".json")
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(call["status"], behavior);
        assert!(call["end_time"].is_string(), "{call}");
    }
    assert!(caller_ids(&app, &dev()).await.is_empty());
}

// ---- manual --------------------------------------------------------------------------------------

#[tokio::test]
async fn manual_call_waits_for_the_right_digits() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let phone = "+14155550120";
    set_behavior(&app, SID, phone, "manual").await;
    let created = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let sid = call_sid(&created);
    let code = created["validation_code"].as_str().expect("code");
    let view = wait_status(&app, &sid, "in-progress").await;
    assert!(
        view["next_action_at"].is_string(),
        "waits for digits: {view}"
    );
    assert!(
        receiver.received().is_empty(),
        "no callback while in progress"
    );

    let response = post_digits(&app, &sid, code).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cb = wait_callback(&receiver, &sid).await;
    let p = params_map(&cb);
    assert_eq!(p["CallStatus"], "completed");
    assert_eq!(p["VerificationStatus"], "success");
    let ids = caller_ids(&app, &dev()).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(
        p["OutgoingCallerIdSid"],
        ids[0]["sid"].as_str().expect("sid")
    );

    let view = call_view(&app, &sid).await;
    assert_eq!(
        timeline_statuses(&view),
        ["queued", "ringing", "in-progress", "digits", "completed"]
    );

    // The call has ended: more digits are refused, in Twilio's error body.
    let response = post_digits(&app, &sid, code).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], 409);
    assert!(body["code"].is_u64(), "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(
        body["more_info"],
        format!(
            "https://www.twilio.com/docs/errors/{}",
            body["code"].as_u64().expect("code")
        )
    );
}

#[tokio::test]
async fn manual_call_with_wrong_digits_fails() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let phone = "+14155550121";
    set_behavior(&app, SID, phone, "manual").await;
    let created = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let sid = call_sid(&created);
    let code = created["validation_code"].as_str().expect("code");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    wait_status(&app, &sid, "in-progress").await;
    assert_eq!(
        post_digits(&app, &sid, wrong).await.status(),
        StatusCode::OK
    );
    let cb = wait_callback(&receiver, &sid).await;
    let p = params_map(&cb);
    assert_eq!(p["CallStatus"], "completed");
    assert_eq!(p["VerificationStatus"], "failed");
    assert!(!p.contains_key("OutgoingCallerIdSid"));
    assert!(caller_ids(&app, &dev()).await.is_empty());
    assert_eq!(call_view(&app, &sid).await["digits"], wrong);
}

#[tokio::test]
async fn manual_call_times_out_without_digits() {
    let app = TestApp::spawn_with(|s| s.manual_digits_timeout = 1).await;
    let receiver = Receiver::start().await;
    let phone = "+14155550122";
    set_behavior(&app, SID, phone, "manual").await;
    let created = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let sid = call_sid(&created);
    let cb = wait_callback(&receiver, &sid).await;
    let p = params_map(&cb);
    assert_eq!(p["VerificationStatus"], "failed");
    assert!(!p.contains_key("OutgoingCallerIdSid"));
    let view = call_view(&app, &sid).await;
    assert!(view["digits"].is_null(), "{view}");
    assert_eq!(
        timeline_statuses(&view),
        ["queued", "ringing", "in-progress", "completed"]
    );
    assert!(caller_ids(&app, &dev()).await.is_empty());
    assert_eq!(
        post_digits(
            &app,
            &sid,
            created["validation_code"].as_str().expect("code")
        )
        .await
        .status(),
        StatusCode::CONFLICT
    );
}

// ---- magic numbers and per-account behaviours ---------------------------------------------------

#[tokio::test]
async fn magic_numbers_need_no_setup() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let cases = [
        ("+15005550001", "correct-code", "completed", "success"),
        ("+15005550002", "wrong-code", "completed", "failed"),
        ("+15005550003", "no-answer", "no-answer", "failed"),
        ("+15005550004", "busy", "busy", "failed"),
        ("+15005550005", "manual", "completed", "success"),
    ];
    for (phone, behavior, call_status, verification) in cases {
        let shown = get_behavior(&app, SID, phone).await;
        assert_eq!(shown["behavior"], behavior, "{phone}");
        assert_eq!(shown["magic"], true, "{phone}");
        let created = create(
            &app,
            &[
                ("PhoneNumber", phone),
                ("StatusCallback", &receiver.url),
                ("CallDelay", "1"),
            ],
        )
        .await;
        let sid = call_sid(&created);
        if behavior == "manual" {
            wait_status(&app, &sid, "in-progress").await;
            let code = created["validation_code"].as_str().expect("code");
            assert_eq!(post_digits(&app, &sid, code).await.status(), StatusCode::OK);
        }
        let cb = wait_callback(&receiver, &sid).await;
        let p = params_map(&cb);
        assert_eq!(p["CallStatus"], call_status, "{phone}");
        assert_eq!(p["VerificationStatus"], verification, "{phone}");
        assert_eq!(call_view(&app, &sid).await["behavior"], behavior, "{phone}");
    }
    let mut verified: Vec<String> = caller_ids(&app, &dev())
        .await
        .iter()
        .map(|c| c["phone_number"].as_str().expect("phone").to_string())
        .collect();
    verified.sort();
    assert_eq!(verified, ["+15005550001", "+15005550005"]);
}

#[tokio::test]
async fn behaviours_are_per_account() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let other = new_account(&app, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb").await;
    let phone = "+14155550130";
    set_behavior(&app, SID, phone, "wrong-code").await;
    assert_eq!(
        get_behavior(&app, &other.sid, phone).await["behavior"],
        "correct-code"
    );

    let a = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let b = create_as(
        &app,
        &other,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    assert_eq!(b["account_sid"], other.sid.as_str());
    let cb_a = wait_callback(&receiver, &call_sid(&a)).await;
    let cb_b = wait_callback(&receiver, &call_sid(&b)).await;
    assert_eq!(cb_a.param("VerificationStatus").as_deref(), Some("failed"));
    assert_eq!(cb_b.param("VerificationStatus").as_deref(), Some("success"));
    assert_eq!(
        cb_b.param("AccountSid").as_deref(),
        Some(other.sid.as_str())
    );
    // Each callback is signed with its own account's token.
    assert_signed(&cb_a, &receiver, TOKEN);
    assert_signed(&cb_b, &receiver, &other.token);

    assert!(caller_ids(&app, &dev()).await.is_empty());
    let ids = caller_ids(&app, &other).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0]["phone_number"], phone);
    assert_eq!(
        cb_b.param("OutgoingCallerIdSid").as_deref(),
        ids[0]["sid"].as_str()
    );
}

// ---- superseded ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_new_request_supersedes_the_pending_call() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let phone = "+14155550140";
    set_behavior(&app, SID, phone, "manual").await;
    let first = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let first_sid = call_sid(&first);
    wait_status(&app, &first_sid, "in-progress").await;

    set_behavior(&app, SID, phone, "correct-code").await;
    let second = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let second_sid = call_sid(&second);
    assert_ne!(first_sid, second_sid);

    let cb1 = wait_callback(&receiver, &first_sid).await;
    let p1 = params_map(&cb1);
    assert_eq!(p1["CallStatus"], "canceled");
    assert_eq!(p1["VerificationStatus"], "failed");
    assert!(!p1.contains_key("OutgoingCallerIdSid"));
    assert_signed(&cb1, &receiver, TOKEN);

    let cb2 = wait_callback(&receiver, &second_sid).await;
    let p2 = params_map(&cb2);
    assert_eq!(p2["CallStatus"], "completed");
    assert_eq!(p2["VerificationStatus"], "success");

    let view1 = call_view(&app, &first_sid).await;
    assert_eq!(view1["status"], "canceled");
    assert_eq!(view1["verification_status"], "failed");
    assert!(view1["next_action_at"].is_null());
    assert_eq!(
        timeline_statuses(&view1).last().map(String::as_str),
        Some("canceled")
    );
    // The first call's code no longer does anything.
    let code1 = first["validation_code"].as_str().expect("code");
    assert_eq!(
        post_digits(&app, &first_sid, code1).await.status(),
        StatusCode::CONFLICT
    );

    let ids = caller_ids(&app, &dev()).await;
    assert_eq!(ids.len(), 1, "exactly one caller ID: {ids:?}");
    assert_eq!(
        p2["OutgoingCallerIdSid"],
        ids[0]["sid"].as_str().expect("sid")
    );
    assert_eq!(
        callback_for(&receiver, &first_sid)
            .param("CallStatus")
            .as_deref(),
        Some("canceled")
    );
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn a_new_request_supersedes_a_call_still_queued() {
    // Real time: CallDelay=60 keeps the first call queued for a minute.
    let app = TestApp::spawn_with(|s| s.time_scale = 1.0).await;
    let receiver = Receiver::start().await;
    let phone = "+14155550141";
    let first = create(
        &app,
        &[
            ("PhoneNumber", phone),
            ("CallDelay", "60"),
            ("StatusCallback", &receiver.url),
        ],
    )
    .await;
    let first_sid = call_sid(&first);
    assert_eq!(call_view(&app, &first_sid).await["status"], "queued");
    let second = create(
        &app,
        &[
            ("PhoneNumber", phone),
            ("CallDelay", "60"),
            ("StatusCallback", &receiver.url),
        ],
    )
    .await;
    let cb1 = wait_callback(&receiver, &first_sid).await;
    assert_eq!(cb1.param("CallStatus").as_deref(), Some("canceled"));
    assert_eq!(cb1.param("VerificationStatus").as_deref(), Some("failed"));
    let view2 = call_view(&app, &call_sid(&second)).await;
    assert_eq!(view2["status"], "queued");
    assert!(caller_ids(&app, &dev()).await.is_empty());
}

// ---- callback delivery failures ------------------------------------------------------------------

#[tokio::test]
async fn receiver_down_is_recorded_as_failed_after_one_attempt() {
    let app = TestApp::spawn().await;
    let url = closed_port_url().await;
    let created = create(
        &app,
        &[("PhoneNumber", "+14155550150"), ("StatusCallback", &url)],
    )
    .await;
    let sid = call_sid(&created);
    // The API keeps answering.
    assert!(caller_ids(&app, &dev()).await.len() <= 1);
    let journal = wait_callback_state(&app, &sid, "failed").await;
    assert_eq!(journal["url"], url.as_str());
    let attempts = journal["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "Twilio makes one attempt: {journal}");
    assert!(attempts[0]["status_code"].is_null());
    assert!(
        attempts[0]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{journal}"
    );
    // Verification itself does not depend on the callback.
    assert_eq!(
        call_view(&app, &sid).await["verification_status"],
        "success"
    );
    assert_eq!(caller_ids(&app, &dev()).await.len(), 1);
}

#[tokio::test]
async fn receiver_down_is_retried_by_policy() {
    let app = TestApp::spawn_with(|s| {
        s.callback_attempts = 3;
        s.callback_retry_delay_ms = 50;
    })
    .await;
    let url = closed_port_url().await;
    let created = create(
        &app,
        &[("PhoneNumber", "+14155550151"), ("StatusCallback", &url)],
    )
    .await;
    let sid = call_sid(&created);
    let journal = wait_callback_state(&app, &sid, "failed").await;
    let attempts = journal["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 3, "{journal}");
    for (i, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt["attempt"], i as u64 + 1);
        assert!(attempt["error"].is_string(), "{attempt}");
        assert!(attempt["status_code"].is_null(), "{attempt}");
    }
}

#[tokio::test]
async fn receiver_answering_500_is_recorded_as_failed() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start_with_status(StatusCode::INTERNAL_SERVER_ERROR).await;
    let created = create(
        &app,
        &[
            ("PhoneNumber", "+14155550152"),
            ("StatusCallback", &receiver.url),
        ],
    )
    .await;
    let sid = call_sid(&created);
    let journal = wait_callback_state(&app, &sid, "failed").await;
    let attempts = journal["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status_code"], 500);
    assert!(attempts[0]["error"].is_string(), "{journal}");
    assert_eq!(receiver.received().len(), 1);
}

/// A receiver that accepts connections and never answers until released; then it drops them.
struct BlackHole {
    url: String,
    accepted: Arc<AtomicUsize>,
    release: Option<oneshot::Sender<()>>,
}

async fn black_hole() -> BlackHole {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let (release, mut released) = oneshot::channel::<()>();
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            tokio::select! {
                conn = listener.accept() => {
                    if let Ok((stream, _)) = conn {
                        counter.fetch_add(1, Ordering::SeqCst);
                        held.push(stream);
                    }
                }
                _ = &mut released => break,
            }
        }
        drop(held);
    });
    BlackHole {
        url: format!("http://{addr}/status"),
        accepted,
        release: Some(release),
    }
}

/// A server with a two-minute callback timeout, and a verification call to `phone` whose
/// StatusCallback attempt is held open by a [`black_hole`]: returns both and the call's sid
/// once the attempt has reached the receiver.
async fn callback_held_by_black_hole(phone: &str) -> (TestApp, BlackHole, String) {
    let app = TestApp::spawn_with(|s| s.callback_timeout_ms = 120_000).await;
    let hole = black_hole().await;
    let created = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &hole.url)],
    )
    .await;
    let sid = call_sid(&created);
    let accepted = hole.accepted.clone();
    wait_for(Duration::from_secs(20), || async {
        (accepted.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await
    .expect("the callback attempt reaches the receiver");
    (app, hole, sid)
}

#[tokio::test]
async fn a_hanging_receiver_does_not_block_the_api() {
    // A callback attempt may take two minutes; the API must not wait for it.
    let (app, mut hole, sid) = callback_held_by_black_hole("+14155550153").await;

    // While that attempt hangs, the API answers (the deadline only stops a hung test).
    tokio::time::timeout(Duration::from_secs(30), async {
        let other = create(&app, &[("PhoneNumber", "+14155550154")]).await;
        app.wait_call_ended(&call_sid(&other)).await;
        assert_eq!(caller_ids(&app, &dev()).await.len(), 2);
        let pending = callbacks(&app, &format!("?call_sid={sid}")).await;
        assert_eq!(pending[0]["state"], "sending");
        assert!(pending[0]["attempts"]
            .as_array()
            .expect("attempts")
            .is_empty());
    })
    .await
    .expect("the API answered while a callback hung");

    // The receiver hangs up: the attempt fails and is recorded.
    if let Some(release) = hole.release.take() {
        let _ = release.send(());
    }
    let journal = wait_callback_state(&app, &sid, "failed").await;
    let attempts = journal["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert!(attempts[0]["error"].is_string(), "{journal}");
}

// ---- 400s and 21450 ------------------------------------------------------------------------------

#[tokio::test]
async fn reverifying_a_verified_number_is_21450() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let phone = "+14155550160";
    let created = create(&app, &[("PhoneNumber", phone)]).await;
    app.wait_call_ended(&call_sid(&created)).await;
    assert_eq!(caller_ids(&app, &dev()).await.len(), 1);
    assert_eq!(count_rows(&app, "calls").await, 1);

    for number in [phone, "(415) 555-0160"] {
        let (status, body) = request_as(
            &app,
            &dev(),
            &[("PhoneNumber", number), ("StatusCallback", &receiver.url)],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["code"], 21450, "{body}");
        assert_eq!(body["status"], 400);
        assert_eq!(
            body["more_info"],
            "https://www.twilio.com/docs/errors/21450"
        );
    }
    // A number seeded through the control API counts as verified too.
    app.seed_caller_id("+14155550161", None).await;
    let (status, body) = request_as(&app, &dev(), &[("PhoneNumber", "+14155550161")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], 21450);

    assert_eq!(count_rows(&app, "calls").await, 1, "no call was stored");
    assert_eq!(count_rows(&app, "callbacks").await, 0);
    assert_eq!(caller_ids(&app, &dev()).await.len(), 2);
    assert!(receiver.received().is_empty());
}

/// What is wrong, the form, and the Twilio error code expected.
type BadRequest<'a> = (&'a str, Vec<(&'a str, &'a str)>, u64);

#[tokio::test]
async fn invalid_requests_are_400_and_store_nothing() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let ok_cb = receiver.url.clone();
    let long_name = "n".repeat(65);
    let long_url = format!("http://127.0.0.1/{}", "a".repeat(1000));
    let long_extension = "1".repeat(33);
    let p = "+14155550170";
    let cases: Vec<BadRequest> = vec![
        ("missing PhoneNumber", vec![("FriendlyName", "x")], 20001),
        ("empty PhoneNumber", vec![("PhoneNumber", "")], 20001),
        ("invalid PhoneNumber", vec![("PhoneNumber", "abc")], 21421),
        ("short PhoneNumber", vec![("PhoneNumber", "33")], 21421),
        (
            "FriendlyName of 65",
            vec![("PhoneNumber", p), ("FriendlyName", &long_name)],
            20001,
        ),
        (
            "CallDelay 61",
            vec![("PhoneNumber", p), ("CallDelay", "61")],
            21454,
        ),
        (
            "CallDelay -1",
            vec![("PhoneNumber", p), ("CallDelay", "-1")],
            21454,
        ),
        (
            "CallDelay abc",
            vec![("PhoneNumber", p), ("CallDelay", "abc")],
            21454,
        ),
        (
            "Extension 12a",
            vec![("PhoneNumber", p), ("Extension", "12a")],
            20001,
        ),
        (
            "Extension of 33",
            vec![("PhoneNumber", p), ("Extension", &long_extension)],
            20001,
        ),
        (
            "relative StatusCallback",
            vec![("PhoneNumber", p), ("StatusCallback", "/status")],
            21456,
        ),
        (
            "ftp StatusCallback",
            vec![
                ("PhoneNumber", p),
                ("StatusCallback", "ftp://127.0.0.1/status"),
            ],
            21456,
        ),
        (
            "StatusCallback over 1000",
            vec![("PhoneNumber", p), ("StatusCallback", &long_url)],
            21456,
        ),
        (
            "StatusCallbackMethod PUT",
            vec![
                ("PhoneNumber", p),
                ("StatusCallback", &ok_cb),
                ("StatusCallbackMethod", "PUT"),
            ],
            20001,
        ),
    ];
    for (what, form, code) in &cases {
        let (status, body) = request_as(&app, &dev(), form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["code"], *code, "{what}: {body}");
        assert_eq!(body["status"], 400, "{what}: {body}");
        assert_eq!(
            body["more_info"],
            format!("https://www.twilio.com/docs/errors/{code}"),
            "{what}"
        );
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
    }
    let (_, body) = request_as(&app, &dev(), &[]).await;
    assert_eq!(
        body["message"],
        "Missing required parameter PhoneNumber in the post body"
    );
    // Also in XML when the path has no suffix.
    let response = app
        .post_form(
            &app.api("/OutgoingCallerIds"),
            &[("PhoneNumber", p), ("CallDelay", "61")],
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let xml = response.text().await.expect("text");
    assert!(xml.contains("<RestException>"), "{xml}");
    assert!(xml.contains("<Code>21454</Code>"), "{xml}");

    assert_eq!(count_rows(&app, "calls").await, 0, "no call stored");
    assert_eq!(count_rows(&app, "callbacks").await, 0);
    assert!(caller_ids(&app, &dev()).await.is_empty());
    assert!(callbacks(&app, "").await.is_empty());
    assert!(receiver.received().is_empty());
    // And the number is still free to verify.
    let created = create(
        &app,
        &[
            ("PhoneNumber", p),
            ("CallDelay", "60"),
            ("Extension", "1w2#*"),
        ],
    )
    .await;
    assert_eq!(
        app.wait_call_ended(&call_sid(&created)).await["verification_status"],
        "success"
    );
}

// ---- the Call resource ---------------------------------------------------------------------------

#[tokio::test]
async fn the_call_resource_follows_the_call() {
    let app = TestApp::spawn().await;
    let phone = "+14155550180";
    let created = create(&app, &[("PhoneNumber", phone)]).await;
    let sid = call_sid(&created);
    app.wait_call_ended(&sid).await;

    let response = fetch_call(&app, &dev(), &sid, ".json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let call: Value = response.json().await.expect("json");
    assert_eq!(call["sid"], sid.as_str());
    assert_eq!(call["account_sid"], SID);
    assert_eq!(call["status"], "completed");
    assert_eq!(call["direction"], "outbound-api");
    assert_eq!(call["from"], VERIFICATION_CALLER);
    assert_eq!(call["to"], phone);
    assert_eq!(call["api_version"], "2010-04-01");
    let start = chrono::DateTime::parse_from_rfc2822(call["start_time"].as_str().expect("start"))
        .expect("start_time is RFC 2822");
    let end = chrono::DateTime::parse_from_rfc2822(call["end_time"].as_str().expect("end"))
        .expect("end_time is RFC 2822");
    assert!(end >= start);
    let duration: i64 = call["duration"]
        .as_str()
        .expect("duration")
        .parse()
        .expect("number");
    assert!(duration > 0);
    assert_eq!(
        call["uri"],
        format!("/2010-04-01/Accounts/{SID}/Calls/{sid}.json")
    );

    for suffix in ["", ".xml"] {
        let response = fetch_call(&app, &dev(), &sid, suffix).await;
        assert_eq!(response.status(), StatusCode::OK);
        let xml = response.text().await.expect("text");
        assert!(xml.contains("<Call>"), "{xml}");
        assert!(xml.contains(&format!("<Sid>{sid}</Sid>")), "{xml}");
        assert!(xml.contains("<Status>completed</Status>"), "{xml}");
        assert!(xml.contains("<Direction>outbound-api</Direction>"), "{xml}");
        assert!(
            xml.contains(&format!("<From>{VERIFICATION_CALLER}</From>")),
            "{xml}"
        );
        assert!(xml.contains(&format!("<To>{phone}</To>")), "{xml}");
        assert!(
            xml.contains(&format!("<Duration>{duration}</Duration>")),
            "{xml}"
        );
    }

    // Another account's call is not found, nor is an unknown one.
    let other = new_account(&app, "cccccccccccccccccccccccccccccccc").await;
    let response = fetch_call(&app, &other, &sid, ".json").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["code"], 20404);
    assert_eq!(body["status"], 404);
    let unknown = "CA00000000000000000000000000000000";
    let response = fetch_call(&app, &dev(), unknown, ".json").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

// ---- simulated time ------------------------------------------------------------------------------

#[tokio::test]
async fn time_scale_zero_makes_a_long_call_delay_instant() {
    let app = TestApp::spawn().await; // time scale 0
    let created = create(
        &app,
        &[("PhoneNumber", "+14155550190"), ("CallDelay", "60")],
    )
    .await;
    let sid = call_sid(&created);
    let url = app.url(&format!("/_emulator/calls/{sid}"));
    let view = wait_for(Duration::from_secs(5), || async {
        let v: Value = app.client.get(&url).send().await.ok()?.json().await.ok()?;
        v["next_action_at"].is_null().then_some(v)
    })
    .await
    .expect("a CallDelay=60 call completes at once with time scale 0");
    assert_eq!(view["status"], "completed");
    assert_eq!(view["verification_status"], "success");
}

#[tokio::test]
async fn time_scale_one_keeps_the_call_queued_for_its_delay() {
    let app = TestApp::spawn_with(|s| s.time_scale = 1.0).await;
    let created = create(
        &app,
        &[("PhoneNumber", "+14155550191"), ("CallDelay", "60")],
    )
    .await;
    let sid = call_sid(&created);
    let call: Value = fetch_call(&app, &dev(), &sid, ".json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(call["status"], "queued");
    assert!(call["start_time"].is_null(), "{call}");
    assert!(call["end_time"].is_null(), "{call}");
    assert!(call["duration"].is_null(), "{call}");
    let view = call_view(&app, &sid).await;
    assert_eq!(view["status"], "queued");
    assert!(view["next_action_at"].is_string());
    assert!(view["verification_status"].is_null());
    assert!(caller_ids(&app, &dev()).await.is_empty());
}

// ---- journals ------------------------------------------------------------------------------------

#[tokio::test]
async fn the_callback_journal_filters_by_account_and_call() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let other = new_account(&app, "dddddddddddddddddddddddddddddddd").await;
    let a1 = call_sid(
        &create(
            &app,
            &[
                ("PhoneNumber", "+14155550200"),
                ("StatusCallback", &receiver.url),
            ],
        )
        .await,
    );
    let a2 = call_sid(
        &create(
            &app,
            &[
                ("PhoneNumber", "+14155550201"),
                ("StatusCallback", &receiver.url),
            ],
        )
        .await,
    );
    let b1 = call_sid(
        &create_as(
            &app,
            &other,
            &[
                ("PhoneNumber", "+14155550200"),
                ("StatusCallback", &receiver.url),
            ],
        )
        .await,
    );
    for sid in [&a1, &a2, &b1] {
        wait_callback_state(&app, sid, "delivered").await;
    }
    let sids = |list: &[Value]| -> Vec<String> {
        let mut v: Vec<String> = list
            .iter()
            .map(|c| c["call_sid"].as_str().expect("call_sid").to_string())
            .collect();
        v.sort();
        v
    };
    let mine = callbacks(&app, &format!("?account_sid={SID}")).await;
    let mut expected = vec![a1.clone(), a2.clone()];
    expected.sort();
    assert_eq!(sids(&mine), expected);
    assert!(mine.iter().all(|c| c["account_sid"] == SID));
    let theirs = callbacks(&app, &format!("?account_sid={}", other.sid)).await;
    assert_eq!(sids(&theirs), vec![b1.clone()]);
    let one = callbacks(&app, &format!("?call_sid={a2}")).await;
    assert_eq!(sids(&one), vec![a2.clone()]);
    let both = callbacks(&app, &format!("?account_sid={}&call_sid={b1}", other.sid)).await;
    assert_eq!(sids(&both), vec![b1.clone()]);
    let none = callbacks(&app, &format!("?account_sid={SID}&call_sid={b1}")).await;
    assert!(none.is_empty());
    assert_eq!(callbacks(&app, "").await.len(), 3);
    assert_eq!(callbacks(&app, "?limit=1").await.len(), 1);
}

#[tokio::test]
async fn the_call_view_lists_the_timeline_in_order() {
    let app = TestApp::spawn().await;
    let created = create(&app, &[("PhoneNumber", "+14155550210")]).await;
    let sid = call_sid(&created);
    let view = app.wait_call_ended(&sid).await;
    assert_eq!(
        timeline_statuses(&view),
        ["queued", "ringing", "in-progress", "completed"]
    );
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = view["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| {
            chrono::DateTime::parse_from_rfc3339(e["at"].as_str().expect("at")).expect("rfc3339")
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(view["validation_code"], created["validation_code"]);
    assert_eq!(view["to"], "+14155550210");
    assert_eq!(view["from"], VERIFICATION_CALLER);
    assert_eq!(view["behavior"], "correct-code");
    assert_eq!(view["status"], "completed");
}

// ---- the signed URL is the URL sent; shutdown and crashes never send a callback twice -----------

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
    let query = callerid_emulator::wire::Params::parse(cb.uri.query().unwrap_or("").as_bytes())
        .expect("query");
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

/// A receiver that records each request on arrival and answers only once released.
struct GatedReceiver {
    url: String,
    arrived: Arc<AtomicUsize>,
    release: Arc<tokio::sync::Semaphore>,
}

async fn gated_receiver() -> GatedReceiver {
    let arrived = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let (count, gate) = (arrived.clone(), release.clone());
    let app = axum::Router::new().fallback(move || {
        let (count, gate) = (count.clone(), gate.clone());
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            if let Ok(permit) = gate.acquire().await {
                permit.forget();
            }
            StatusCode::OK
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    GatedReceiver {
        url: format!("http://{addr}/status"),
        arrived,
        release,
    }
}

/// (state, attempts, next_attempt_at, idempotency_token, attempt rows) of every callback,
/// read straight from the SQLite file.
async fn callback_rows(db_url: &str) -> Vec<(String, i64, Option<i64>, String, i64)> {
    let options = SqliteConnectOptions::from_str(db_url)
        .expect("db url")
        .read_only(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("open test db");
    let rows = sqlx::query_as(
        "SELECT state, attempts, next_attempt_at, idempotency_token,
                (SELECT COUNT(*) FROM callback_attempts a WHERE a.callback_id = c.id)
         FROM callbacks c ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("callbacks");
    pool.close().await;
    rows
}

#[tokio::test]
async fn a_graceful_shutdown_waits_for_the_callback_in_flight_and_records_it() {
    let settings_for = |dir: &tempfile::TempDir| {
        let mut settings = test_settings(dir);
        settings.callback_timeout_ms = 30_000;
        settings
    };
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let app = TestApp::spawn_in(dir.clone(), settings_for(&dir)).await;
    let db_url = app.db_url.clone();
    let addr = app.addr;
    let receiver = gated_receiver().await;
    let created = create(
        &app,
        &[
            ("PhoneNumber", "+14155550294"),
            ("StatusCallback", &receiver.url),
        ],
    )
    .await;
    let sid = call_sid(&created);
    let arrived = receiver.arrived.clone();
    wait_for(Duration::from_secs(20), || async {
        (arrived.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await
    .expect("the callback reaches the receiver");

    // Shut down while the receiver holds the callback; answer once the server has stopped
    // taking requests, i.e. once shutdown is under way.
    let stopping = tokio::spawn(app.stop());
    wait_for(Duration::from_secs(20), || async {
        tokio::net::TcpStream::connect(addr).await.err().map(|_| ())
    })
    .await
    .expect("the server stops listening");
    tokio::time::sleep(Duration::from_millis(200)).await;
    receiver.release.add_permits(1);
    let dir = stopping.await.expect("stop");

    // The attempt was recorded before the database closed: nothing is left to send.
    let rows = callback_rows(&db_url).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (state, attempts, next_attempt_at, _, attempt_rows) = &rows[0];
    assert_eq!(state, "delivered", "{rows:?}");
    assert_eq!((*attempts, *next_attempt_at, *attempt_rows), (1, None, 1));

    // After a restart, the next callback goes out and the first is not sent again.
    let app = TestApp::spawn_in(dir.clone(), settings_for(&dir)).await;
    receiver.release.add_permits(10);
    let other = create(
        &app,
        &[
            ("PhoneNumber", "+14155550295"),
            ("StatusCallback", &receiver.url),
        ],
    )
    .await;
    wait_callback_state(&app, &call_sid(&other), "delivered").await;
    let journal = callbacks(&app, &format!("?call_sid={sid}")).await;
    assert_eq!(journal[0]["state"], "delivered");
    assert_eq!(journal[0]["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(receiver.arrived.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_callback_being_sent_is_not_claimable_and_counts_as_pending() {
    let (app, mut hole, sid) = callback_held_by_black_hole("+14155550296").await;

    // Claimed: `sending`, with no next attempt that could let another pass take it.
    let journal = callbacks(&app, &format!("?call_sid={sid}")).await;
    assert_eq!(journal[0]["state"], "sending", "{journal:?}");
    let rows = callback_rows(&app.db_url).await;
    assert_eq!(rows[0].0, "sending");
    assert_eq!(rows[0].2, None, "no lease to run out: {rows:?}");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.lines().any(|l| l == "callerid_pending_callbacks 1"),
        "{metrics}"
    );

    if let Some(release) = hole.release.take() {
        let _ = release.send(());
    }
    let journal = wait_callback_state(&app, &sid, "failed").await;
    assert_eq!(journal["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(hole.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_callback_cut_short_by_a_crash_is_sent_again_with_the_same_token() {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let app = TestApp::spawn_in(dir.clone(), test_settings(&dir)).await;
    let db_url = app.db_url.clone();
    let receiver = Receiver::start().await;
    let created = create(
        &app,
        &[
            ("PhoneNumber", "+14155550297"),
            ("StatusCallback", &receiver.url),
        ],
    )
    .await;
    let sid = call_sid(&created);
    let first = wait_callback(&receiver, &sid).await;
    wait_callback_state(&app, &sid, "delivered").await;
    let dir = app.stop().await;

    // Put the file in the state a crash mid-delivery leaves: claimed, nothing recorded.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::from_str(&db_url).expect("db url"))
        .await
        .expect("open test db");
    sqlx::query("DELETE FROM callback_attempts")
        .execute(&pool)
        .await
        .expect("delete attempts");
    sqlx::query("UPDATE callbacks SET state = 'sending', attempts = 0, next_attempt_at = NULL")
        .execute(&pool)
        .await
        .expect("mark sending");
    pool.close().await;

    let app = TestApp::spawn_in(dir.clone(), test_settings(&dir)).await;
    let all = receiver.wait_for(2).await;
    let again = all.last().expect("second delivery");
    assert_eq!(again.param("CallSid").as_deref(), Some(sid.as_str()));
    assert_eq!(
        again.header("I-Twilio-Idempotency-Token"),
        first.header("I-Twilio-Idempotency-Token")
    );
    assert_signed(again, &receiver, TOKEN);
    let journal = wait_callback_state(&app, &sid, "delivered").await;
    assert_eq!(journal["attempts"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_deleted_account_made_again_has_none_of_its_old_behaviours() {
    let app = TestApp::spawn().await;
    let account = new_account(&app, "first-token").await;
    set_behavior(&app, &account.sid, "+14155550177", "busy").await;
    let response = app
        .client
        .delete(app.url(&format!("/_emulator/accounts/{}", account.sid)))
        .send()
        .await
        .expect("delete");
    assert!(response.status().is_success());
    let response = app
        .client
        .post(app.url("/_emulator/accounts"))
        .json(&serde_json::json!({"sid": account.sid, "auth_token": "second-token"}))
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), StatusCode::CREATED);
    let behavior = get_behavior(&app, &account.sid, "+14155550177").await;
    assert_eq!(behavior["behavior"], "correct-code", "{behavior}");
}

#[tokio::test]
async fn the_scheduler_moves_many_calls_step_by_step_in_real_time() {
    // 1/100 of real time: each call waits at every step, so the scheduler (not the request)
    // takes the steps, several calls per transaction.
    let app = TestApp::spawn_with(|s| s.time_scale = 0.01).await;
    let receiver = Receiver::start().await;
    let cases = [
        ("+14155550201", "correct-code", "completed", "success"),
        ("+14155550202", "wrong-code", "completed", "failed"),
        ("+14155550203", "busy", "busy", "failed"),
        ("+14155550204", "no-answer", "no-answer", "failed"),
        ("+14155550205", "correct-code", "completed", "success"),
        ("+14155550206", "correct-code", "completed", "success"),
    ];
    let mut sids = Vec::new();
    for (phone, behavior, _, _) in cases {
        let sid = create_with_callback(&app, phone, behavior, &receiver).await;
        assert_eq!(call_view(&app, &sid).await["status"], "queued");
        sids.push(sid);
    }
    for (sid, (_, _, status, verification)) in sids.iter().zip(cases) {
        let view = wait_status(&app, sid, status).await;
        assert_eq!(view["verification_status"], verification, "{view}");
        let timeline = timeline_statuses(&view);
        let expected: &[&str] = match status {
            "completed" => &["queued", "ringing", "in-progress", "completed"],
            other => &["queued", "ringing", other],
        };
        assert_eq!(timeline, expected, "{view}");
        let callback = wait_callback(&receiver, sid).await;
        let params = params_map(&callback);
        assert_eq!(params["CallStatus"], status);
        assert_eq!(params["VerificationStatus"], verification);
    }
    let verified: Vec<String> = caller_ids(&app, &dev())
        .await
        .iter()
        .map(|c| c["phone_number"].as_str().expect("number").to_string())
        .collect();
    assert_eq!(
        verified,
        ["+14155550201", "+14155550205", "+14155550206"],
        "one caller ID per successful call, in creation order"
    );
}

#[tokio::test]
async fn parallel_requests_committed_together_each_get_their_own_answer() {
    // At time scale 0 every call is settled in its request's transaction, and requests that
    // arrive together are committed together: 20 different numbers are all verified, and of
    // 20 requests for one number exactly one verifies it while the rest get 21450.
    let app = TestApp::spawn().await;
    let url = api_url(&app, &dev(), "/OutgoingCallerIds.json");
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..40 {
        let phone = if n % 2 == 0 {
            format!("+1415555{:04}", 3000 + n)
        } else {
            "+14155559999".to_string()
        };
        let request = app
            .client
            .post(&url)
            .basic_auth(SID, Some(TOKEN))
            .form(&[("PhoneNumber", phone.as_str())]);
        requests.spawn(async move {
            let response = request.send().await.expect("send");
            let status = response.status();
            let body: Value = response.json().await.expect("json");
            (phone, status, body)
        });
    }
    let mut same_number = (0, 0);
    while let Some(done) = requests.join_next().await {
        let (phone, status, body) = done.expect("join");
        if phone == "+14155559999" {
            match status {
                StatusCode::OK => same_number.0 += 1,
                _ => {
                    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
                    assert_eq!(body["code"], 21450, "{body}");
                    same_number.1 += 1;
                }
            }
        } else {
            assert_eq!(status, StatusCode::OK, "{phone}: {body}");
            assert_eq!(body["phone_number"], phone.as_str());
        }
    }
    assert_eq!(same_number, (1, 19));
    let verified = caller_ids(&app, &dev()).await;
    assert_eq!(verified.len(), 21, "{verified:?}");
    assert_eq!(count_rows(&app, "calls").await, 21);
}
