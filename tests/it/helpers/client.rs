//! The HTTP client side: the [`Server`] a test talks to (in process or the binary), requests
//! authenticated as an [`Account`], and [`Reply`], a response read in full.

use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use super::accounts::{Account, SID};

/// A running emulator: the in-process [`super::TestApp`] or the binary [`super::Emulator`].
pub trait Server {
    /// `http://127.0.0.1:{port}`.
    fn base(&self) -> &str;

    fn client(&self) -> &reqwest::Client;

    /// `base` + `path`.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// `/2010-04-01/Accounts/{SID}` + `rest`, as a full URL.
    fn api(&self, rest: &str) -> String {
        self.url(&path_of(SID, rest))
    }
}

/// A response read in full.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header").to_string())
            .unwrap_or_default()
    }

    pub fn content_type(&self) -> String {
        self.header("content-type")
    }
}

/// Sends `request` and reads the whole response.
pub async fn send(request: RequestBuilder) -> Reply {
    let response = request.send().await.expect("send");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    Reply {
        status,
        headers,
        body,
    }
}

/// Sends `request`; the status and the JSON body.
pub async fn status_json(request: RequestBuilder) -> (u16, Value) {
    let reply = send(request).await;
    (reply.status.as_u16(), reply.json())
}

/// The JSON body of a response already sent.
pub async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("json body")
}

/// `/2010-04-01/Accounts/{sid}` + `rest`.
pub fn path_of(sid: &str, rest: &str) -> String {
    format!("/2010-04-01/Accounts/{sid}{rest}")
}

/// A request on the Twilio API, authenticated as `who`, to `{base}{path}`.
pub fn call(server: &impl Server, who: &Account, method: Method, path: &str) -> RequestBuilder {
    server
        .client()
        .request(method, server.url(path))
        .basic_auth(&who.sid, Some(&who.token))
}

/// A request on `who`'s own part of the Twilio API.
pub fn own(server: &impl Server, who: &Account, method: Method, rest: &str) -> RequestBuilder {
    call(server, who, method, &path_of(&who.sid, rest))
}

/// `body` as a form body, sent exactly as written.
pub fn raw_form(request: RequestBuilder, body: &'static str) -> RequestBuilder {
    request
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
}
