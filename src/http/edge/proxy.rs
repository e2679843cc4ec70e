//! `--proxy-listen`: an HTTP forward proxy that is the emulator. `CONNECT api.twilio.com:443`
//! (or another Twilio API host) is answered `200 Connection established`, and the emulator
//! itself ends the tunnel's TLS with the local CA's certificate and serves what comes through
//! it; an absolute-form request for such a host (`GET https://api.twilio.com/…` sent in plain
//! HTTP) is served directly. Every other host is refused with 403: this proxy never dials out.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, Response, StatusCode, Uri};
use axum::Router;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::{drain, marked, serve_io, Via};

/// Whether `host` is one of Twilio's API hosts: `api.twilio.com`, or `api.` followed by an
/// edge and region (`api.dublin.ie1.twilio.com`, `api.ie1.twilio.com`).
pub fn is_twilio_api_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "api.twilio.com"
        || (host.starts_with("api.")
            && host.ends_with(".twilio.com")
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
}

/// A refusal in plain text, one line.
fn refuse(status: StatusCode, reason: String) -> Response<Body> {
    let mut response = Response::new(Body::from(format!("callerid-emulator proxy: {reason}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn not_twilio(host: &str) -> Response<Body> {
    refuse(
        StatusCode::FORBIDDEN,
        format!(
            "{host} is not a Twilio API host; this proxy serves only those and connects nowhere"
        ),
    )
}

/// One proxy connection. Its watcher goes to the tunnel a CONNECT opens (a connection is
/// tunnelled at most once: after CONNECT it is the tunnel).
#[derive(Clone)]
struct Proxy {
    app: Router,
    acceptor: TlsAcceptor,
    watcher: Arc<Mutex<Option<Watcher>>>,
}

impl Proxy {
    async fn handle(self, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        if request.method() == Method::CONNECT {
            return Ok(self.connect(request));
        }
        let Some(authority) = request.uri().authority().cloned() else {
            return Ok(refuse(
                StatusCode::BAD_REQUEST,
                "this is a forward proxy: send CONNECT or an absolute-form request".into(),
            ));
        };
        if !is_twilio_api_host(authority.host())
            || !matches!(authority.port_u16(), None | Some(80) | Some(443))
        {
            return Ok(not_twilio(authority.as_str()));
        }
        // Served as the same request sent to the host itself: origin-form, with its Host.
        let (mut parts, body) = request.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        parts.uri = path.parse::<Uri>().unwrap_or_default();
        if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
            parts.headers.insert(header::HOST, host);
        }
        let service = TowerToHyperService::new(self.app.clone());
        service.call(Request::from_parts(parts, body)).await
    }

    /// Answers a CONNECT: a tunnel to a Twilio API host on 443 is ended here, over TLS.
    fn connect(self, request: Request<Incoming>) -> Response<Body> {
        let Some(authority) = request.uri().authority().cloned() else {
            return refuse(StatusCode::BAD_REQUEST, "CONNECT needs host:port".into());
        };
        if !is_twilio_api_host(authority.host()) || authority.port_u16() != Some(443) {
            return not_twilio(authority.as_str());
        }
        let Some(watcher) = self.watcher.lock().ok().and_then(|mut w| w.take()) else {
            return refuse(StatusCode::BAD_REQUEST, "one CONNECT per connection".into());
        };
        tokio::spawn(async move {
            let upgraded = match hyper::upgrade::on(request).await {
                Ok(upgraded) => upgraded,
                Err(e) => {
                    tracing::debug!(error = %e, "CONNECT tunnel was not opened");
                    return;
                }
            };
            match self.acceptor.accept(TokioIo::new(upgraded)).await {
                Ok(tls) => serve_io(tls, self.app, watcher).await,
                Err(e) => tracing::debug!(error = %e, "TLS handshake in a CONNECT tunnel failed"),
            }
        });
        Response::new(Body::empty())
    }
}

/// Accepts proxy connections on `listener` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    acceptor: TlsAcceptor,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let app = marked(&app, Via::Proxy);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                tracing::warn!(error = %e, "could not accept a proxy connection");
                continue;
            }
        };
        let proxy = Proxy {
            app: app.clone(),
            acceptor: acceptor.clone(),
            watcher: Arc::new(Mutex::new(Some(graceful.watcher()))),
        };
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| proxy.clone().handle(request));
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "proxy connection ended with an error");
            }
        });
    }
    drain(graceful).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_twilio_api_hosts_are_served() {
        for host in [
            "api.twilio.com",
            "API.Twilio.com",
            "api.dublin.ie1.twilio.com",
            "api.ie1.twilio.com",
            "api.twilio.com.",
        ] {
            assert!(is_twilio_api_host(host), "{host}");
        }
        for host in [
            "example.com",
            "twilio.com",
            "www.twilio.com",
            "api.twilio.com.evil.test",
            "api.evil-twilio.com",
            "127.0.0.1",
            "api.x/y.twilio.com",
        ] {
            assert!(!is_twilio_api_host(host), "{host}");
        }
    }
}
