//! The HTTP client StatusCallbacks are sent with. Neither path follows redirects (Twilio does
//! not) and each attempt has the policy's timeout.
//!
//! - Plain-HTTP receivers get the emulator's own HTTP/1.1 client ([`super::plain`]):
//!   connections kept alive per receiver, the request written as one buffer and the answer
//!   read on the delivery's task.
//! - HTTPS receivers get reqwest (rustls with the Web PKI roots), and so does every receiver
//!   when a proxy is set in the environment (`HTTP_PROXY`, `ALL_PROXY`, lower-case too), so
//!   that reqwest applies it as it always has.

use std::time::Duration;

use hyper::Method;
use reqwest::Url;

use super::plain::Plain;

/// The environment variables that make reqwest send plain-HTTP requests through a proxy.
const PROXY_VARIABLES: [&str; 4] = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

pub struct CallbackClient {
    /// `None` when a proxy is set in the environment.
    plain: Option<Plain>,
    other: reqwest::Client,
    timeout: Duration,
}

/// One request of an attempt: `headers` are sent as given (besides `Host`, and
/// `Content-Length` for a POST), `body` is a POST's.
pub struct Callout<'a> {
    pub method: Method,
    pub url: &'a Url,
    pub headers: &'a [(&'static str, &'a str)],
    pub body: Option<&'a str>,
}

/// How an attempt ended.
#[derive(Debug)]
pub enum Outcome {
    /// The receiver answered with this status (its body was read and dropped).
    Answered(u16),
    /// No answer. `refused`: no connection could be made (refused, or the name did not
    /// resolve), as opposed to a timeout or a failure once connected.
    Failed { refused: bool, error: String },
}

impl CallbackClient {
    /// Fails only if reqwest's TLS set-up cannot be built.
    pub fn new(timeout: Duration) -> Result<CallbackClient, reqwest::Error> {
        let other = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()?;
        let proxied = PROXY_VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        Ok(CallbackClient {
            plain: (!proxied).then(Plain::default),
            other,
            timeout,
        })
    }

    /// Makes the request of `callout`.
    pub async fn send(&self, callout: Callout<'_>) -> Outcome {
        match &self.plain {
            Some(plain) if callout.url.scheme() == "http" => {
                plain.send(&callout, self.timeout).await
            }
            _ => self.send_other(callout).await,
        }
    }

    async fn send_other(&self, callout: Callout<'_>) -> Outcome {
        let mut request = self.other.request(callout.method, callout.url.clone());
        for (name, value) in callout.headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = callout.body {
            request = request.body(body.to_owned());
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let _ = response.bytes().await;
                Outcome::Answered(status)
            }
            Err(e) if e.is_timeout() => timed_out(self.timeout),
            Err(e) if e.is_connect() => Outcome::Failed {
                refused: true,
                error: format!("could not connect: {}", chain(&e)),
            },
            Err(e) => Outcome::Failed {
                refused: false,
                error: format!("request failed: {}", chain(&e)),
            },
        }
    }
}

/// The outcome of an attempt that got no answer within `timeout`.
pub(super) fn timed_out(timeout: Duration) -> Outcome {
    Outcome::Failed {
        refused: false,
        error: format!("timed out after {} ms", timeout.as_millis()),
    }
}

/// An error and its sources, as one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}
