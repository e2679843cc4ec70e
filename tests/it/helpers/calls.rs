//! Verification calls from the test side: validation requests, callee behaviours, the
//! Call resource, the control API's call and callback views, and waits on them.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::accounts::{dev, Account, SID};
use super::app::TestApp;
use super::client::{own, send, status_json, Server};
use super::receiver::Receiver;
use super::wait::wait_for;

/// The number verification calls come from.
pub const VERIFICATION_CALLER: &str = "+14157234000";

/// `POST …/OutgoingCallerIds.json` as `account`; the status and the JSON body.
pub async fn request_as(
    app: &TestApp,
    account: &Account,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let reply = send(own(app, account, Method::POST, "/OutgoingCallerIds.json").form(form)).await;
    (reply.status, reply.json())
}

/// A validation request on the dev account that must be accepted; its JSON.
pub async fn create(app: &TestApp, form: &[(&str, &str)]) -> Value {
    create_as(app, &dev(), form).await
}

/// A validation request on `account` that must be accepted; its JSON.
pub async fn create_as(app: &TestApp, account: &Account, form: &[(&str, &str)]) -> Value {
    let (status, body) = request_as(app, account, form).await;
    assert_eq!(status, StatusCode::OK, "validation request refused: {body}");
    body
}

/// A validation request on the dev account for `phone`, whose callee behaves as `behavior`,
/// with a StatusCallback to `receiver` and a one-second CallDelay; the CallSid.
pub async fn create_with_callback(
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

pub fn call_sid(body: &Value) -> String {
    body["call_sid"].as_str().expect("call_sid").to_string()
}

/// `/_emulator/accounts/{account}/phones/{phone}`, as a full URL.
fn phone_url(app: &TestApp, account: &str, phone: &str) -> String {
    app.url(&format!(
        "/_emulator/accounts/{account}/phones/{}",
        phone.replace('+', "%2B")
    ))
}

/// Sets how the callee `phone` of `account` behaves.
pub async fn set_behavior(app: &TestApp, account: &str, phone: &str, behavior: &str) {
    let request = app
        .client
        .put(phone_url(app, account, phone))
        .json(&json!({ "behavior": behavior }));
    let body = control_json(request).await;
    assert_eq!(body["behavior"], behavior);
}

/// How the callee `phone` of `account` behaves.
pub async fn get_behavior(app: &TestApp, account: &str, phone: &str) -> Value {
    control_json(app.client.get(phone_url(app, account, phone))).await
}

/// A control-API request that must answer 200; its JSON.
async fn control_json(request: reqwest::RequestBuilder) -> Value {
    let (status, body) = status_json(request).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// `GET /_emulator/calls/{sid}`.
pub async fn call_view(app: &TestApp, sid: &str) -> Value {
    control_json(app.client.get(app.url(&format!("/_emulator/calls/{sid}")))).await
}

/// `GET /_emulator/callbacks` with `query`.
pub async fn callbacks(app: &TestApp, query: &str) -> Vec<Value> {
    let url = app.url(&format!("/_emulator/callbacks{query}"));
    let body = control_json(app.client.get(url)).await;
    body["callbacks"]
        .as_array()
        .expect("callbacks array")
        .clone()
}

/// Polls the call view of `sid` until `done` holds for it.
async fn wait_call(app: &TestApp, sid: &str, done: impl Fn(&Value) -> bool) -> Option<Value> {
    let url = app.url(&format!("/_emulator/calls/{sid}"));
    wait_for(Duration::from_secs(20), || async {
        let v: Value = app.client.get(&url).send().await.ok()?.json().await.ok()?;
        done(&v).then_some(v)
    })
    .await
}

impl TestApp {
    /// Polls `GET /_emulator/calls/{sid}` until the call has ended; returns its view.
    pub async fn wait_call_ended(&self, call_sid: &str) -> Value {
        wait_call(self, call_sid, |v| v["next_action_at"].is_null())
            .await
            .expect("call should end")
    }
}

/// Waits until the call's status is `status`.
pub async fn wait_status(app: &TestApp, sid: &str, status: &str) -> Value {
    wait_call(app, sid, |v| v["status"] == status)
        .await
        .unwrap_or_else(|| panic!("call {sid} never reached {status}"))
}

/// `POST /_emulator/calls/{sid}/digits`.
pub async fn post_digits(app: &TestApp, sid: &str, digits: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/_emulator/calls/{sid}/digits")))
        .json(&json!({ "digits": digits }))
        .send()
        .await
        .expect("post digits")
}

/// Waits until the (only) callback of `call` is in `state`.
pub async fn wait_callback_state(app: &TestApp, call: &str, state: &str) -> Value {
    let query = format!("?call_sid={call}");
    wait_for(Duration::from_secs(20), || async {
        let list = callbacks(app, &query).await;
        list.first().filter(|cb| cb["state"] == state).cloned()
    })
    .await
    .unwrap_or_else(|| panic!("callback of {call} never became {state}"))
}

/// The account's caller IDs, first page.
pub async fn caller_ids(server: &impl Server, account: &Account) -> Vec<Value> {
    let (status, body) =
        status_json(own(server, account, Method::GET, "/OutgoingCallerIds.json")).await;
    assert_eq!(status, 200, "{body}");
    body["outgoing_caller_ids"]
        .as_array()
        .expect("outgoing_caller_ids")
        .clone()
}

/// `GET …/Calls/{sid}{suffix}` as `account`.
pub async fn fetch_call(
    app: &TestApp,
    account: &Account,
    sid: &str,
    suffix: &str,
) -> reqwest::Response {
    own(app, account, Method::GET, &format!("/Calls/{sid}{suffix}"))
        .send()
        .await
        .expect("fetch call")
}

/// The statuses of a call view's timeline, in order.
pub fn timeline_statuses(view: &Value) -> Vec<String> {
    view["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["status"].as_str().expect("status").to_string())
        .collect()
}
