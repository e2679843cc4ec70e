//! The ways in besides plain HTTP: the whole app over TLS on a listener of its own ([`tls`]),
//! and a forward proxy that ends CONNECT tunnels to Twilio's API hosts itself ([`proxy`]), so
//! that a client that only knows `https://api.twilio.com` reaches the emulator with no code
//! change. Both serve the same router, with the local CA's certificate, and never dial out.

pub mod proxy;
pub mod tls;

use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};

/// How a request reached the app, as the request journal shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// The plain listener.
    Http,
    /// The TLS listener.
    Https,
    /// The forward proxy: a CONNECT tunnel or an absolute-form request.
    Proxy,
}

/// The router with every request marked as arriving `via`.
pub fn marked(app: &Router, via: Via) -> Router {
    app.clone().layer(axum::Extension(via))
}

/// How long open connections get to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `app` over HTTP/1.1 on `io` (keep-alive included) until the client closes it or a
/// shutdown asks it to finish.
pub(super) async fn serve_io<I>(io: I, app: Router, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Asks every watched connection to finish, waiting at most [`DRAIN`].
pub(super) async fn drain(graceful: GracefulShutdown) {
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open at shutdown were closed");
    }
}
