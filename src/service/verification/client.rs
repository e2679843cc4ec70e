//! The HTTP client StatusCallbacks are sent with. Neither path follows redirects (Twilio does
//! not) and each attempt has the policy's timeout.
//!
//! - Plain-HTTP receivers get a hyper client of the emulator's own: connections kept alive per
//!   receiver, and the request handed to hyper as it is built (reqwest would parse the URL
//!   twice more and run its redirect and retry layers for every callback).
//! - HTTPS receivers get reqwest (rustls with the Web PKI roots), and so does every receiver
//!   when a proxy is set in the environment (`HTTP_PROXY`, `ALL_PROXY`, lower-case too), so
//!   that reqwest applies it as it always has.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderMap;
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::Url;

/// The environment variables that make reqwest send plain-HTTP requests through a proxy.
const PROXY_VARIABLES: [&str; 4] = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

/// How long a kept-alive connection to a receiver may stay idle before it is closed.
const IDLE: Duration = Duration::from_secs(90);

/// Idle connections kept per receiver at most.
const MAX_IDLE: usize = 64;

pub struct CallbackClient {
    /// `None` when a proxy is set in the environment.
    plain: Option<Client<HttpConnector, Full<Bytes>>>,
    other: reqwest::Client,
    timeout: Duration,
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
        let plain = (!proxied).then(|| {
            let mut connector = HttpConnector::new();
            connector.set_nodelay(true);
            Client::builder(TokioExecutor::new())
                .pool_timer(TokioTimer::new())
                .pool_idle_timeout(IDLE)
                .pool_max_idle_per_host(MAX_IDLE)
                .build(connector)
        });
        Ok(CallbackClient {
            plain,
            other,
            timeout,
        })
    }

    /// Requests `url` with `method`, `headers` and, for a POST, `body`.
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Option<String>,
    ) -> Outcome {
        match &self.plain {
            Some(plain) if url.scheme() == "http" => {
                self.send_plain(plain, method, url, headers, body).await
            }
            _ => self.send_other(method, url, headers, body).await,
        }
    }

    async fn send_plain(
        &self,
        plain: &Client<HttpConnector, Full<Bytes>>,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Option<String>,
    ) -> Outcome {
        let Ok(uri) = Uri::try_from(url.as_str()) else {
            return Outcome::Failed {
                refused: false,
                error: "request failed: the URL is not a valid request target".to_string(),
            };
        };
        let mut request = Request::new(Full::new(body.map(Bytes::from).unwrap_or_default()));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        let answered = async {
            plain.request(request).await.map_err(|e| {
                let refused = e.is_connect();
                (refused, chain(&e))
            })
        };
        let started = tokio::time::Instant::now();
        let response = match tokio::time::timeout(self.timeout, answered).await {
            Ok(Ok(response)) => response,
            Ok(Err((true, error))) => {
                return Outcome::Failed {
                    refused: true,
                    error: format!("could not connect: {error}"),
                }
            }
            Ok(Err((false, error))) => {
                return Outcome::Failed {
                    refused: false,
                    error: format!("request failed: {error}"),
                }
            }
            Err(_) => return self.timed_out(),
        };
        let status = response.status().as_u16();
        // The receiver has answered: that is the attempt's outcome. Its body is read and
        // dropped, frame by frame, within what is left of the timeout, so that the connection
        // can be reused; a body that fails or stalls only costs the connection.
        let mut body = response.into_body();
        let _ = tokio::time::timeout_at(started + self.timeout, async {
            while let Some(Ok(_)) = body.frame().await {}
        })
        .await;
        Outcome::Answered(status)
    }

    async fn send_other(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Option<String>,
    ) -> Outcome {
        let mut request = self.other.request(method, url.clone()).headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let _ = response.bytes().await;
                Outcome::Answered(status)
            }
            Err(e) if e.is_timeout() => self.timed_out(),
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

    fn timed_out(&self) -> Outcome {
        Outcome::Failed {
            refused: false,
            error: format!("timed out after {} ms", self.timeout.as_millis()),
        }
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
