//! `--tls-listen`: the whole app (Twilio API and control API) over HTTPS, for a container
//! network alias or a hosts-file entry that sends `api.twilio.com` to the emulator.

use axum::Router;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::{drain, marked, serve_io, Via};

/// Accepts TLS connections on `listener` and serves `app` on each until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    acceptor: TlsAcceptor,
    mut stop: watch::Receiver<bool>,
) {
    let app = marked(&app, Via::Https);
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "could not accept a TLS connection");
                continue;
            }
        };
        // As on the plain listener: no Nagle delay behind the previous write.
        let _ = tcp.set_nodelay(true);
        let (acceptor, app, watcher) = (acceptor.clone(), app.clone(), graceful.watcher());
        tokio::spawn(async move {
            match acceptor.accept(tcp).await {
                Ok(tls) => serve_io(tls, app, watcher).await,
                Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
            }
        });
    }
    drain(graceful).await;
}
