//! callerid-emulator: a local, stateful emulator of Twilio's REST API for Outgoing Caller IDs
//! and their validation requests.
//!
//! Layers, each importing only the ones below it: [`http`] (routes, extractors, handlers,
//! representations, middleware) → [`service`] (what each request and worker does, the
//! verification call, change events) → [`store`] (the store interface and its SQLite
//! backend) → [`domain`] (typed values and pure rules, importing none of them). [`metrics`]
//! and [`settings`] are leaves. [`AppState::new`] wires them; [`serve`] runs the router with
//! the workers beside it until a shutdown future resolves; [`run`] is the binary.

pub mod ca;
pub mod domain;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod service;
pub mod settings;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use http::{app, AppState};

use crate::ca::LocalCa;
use crate::domain::machine::Timing;
use crate::http::middleware::concurrency::AccountLimiter;
use crate::http::middleware::journal::Journal;
use crate::metrics::Metrics;
use crate::service::{CallbackPolicy, Service};
use crate::settings::Settings;
use crate::store::Store;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl AppState {
    /// Opens the database, runs the migrations and installs the configured accounts.
    pub async fn new(settings: Settings) -> Result<AppState, BoxError> {
        settings.validate()?;
        let store = connect_store(&settings).await?;
        let timing = Timing {
            time_scale: settings.time_scale,
            manual_timeout_ms: (settings.manual_digits_timeout as i64).saturating_mul(1000),
            ..Timing::default()
        };
        let policy = CallbackPolicy {
            timeout: Duration::from_millis(settings.callback_timeout_ms),
            attempts: settings.callback_attempts,
            retry_delay: Duration::from_millis(settings.callback_retry_delay_ms),
        };
        let metrics = Arc::new(Metrics::default());
        let backlog = settings.event_backlog as usize;
        let service = Service::new(store, metrics.clone(), timing, policy, backlog)?;
        service.start_up(settings.parsed_accounts()?).await?;
        let ca = LocalCa::load_or_create(&settings.data_dir())
            .map_err(|e| format!("the local certificate authority: {e}"))?;
        tracing::info!(path = %ca.path.display(), "certificate authority");
        Ok(AppState(Arc::new(http::Shared {
            journal: Journal::new(settings.request_journal_size, service.is_shared()),
            faults: Default::default(),
            limiter: AccountLimiter::new(settings.max_concurrent_requests),
            settings,
            service: Arc::new(service),
            metrics,
            ca: Arc::new(ca),
            closing: watch::channel(false).0,
        })))
    }
}

/// Connects to the database, trying again while it is unreachable (refused, timing out,
/// starting up): 0.25 s after the first try, doubling up to 5 s, for up to
/// `--database-retry-secs` (for ever when 0), with a log line per try.
async fn connect_store(settings: &Settings) -> Result<Store, BoxError> {
    const FIRST_WAIT: Duration = Duration::from_millis(250);
    const LONGEST_WAIT: Duration = Duration::from_secs(5);
    let url = &settings.database_url;
    let limit = settings.database_retry_secs;
    let started = std::time::Instant::now();
    let mut wait = FIRST_WAIT;
    let mut tries = 1_u32;
    loop {
        match Store::connect(url, settings.read_connections).await {
            Ok(store) => return Ok(store),
            Err(e) if e.is_unreachable() => {
                let waited = started.elapsed();
                if limit != 0 && waited + wait > Duration::from_secs(limit) {
                    return Err(format!(
                        "the database is unreachable after {tries} tries in {} s \
                         (--database-retry-secs {limit}): {e}",
                        waited.as_secs()
                    )
                    .into());
                }
                tracing::warn!(
                    tries,
                    retry_in = ?wait,
                    error = %e,
                    "the database is unreachable; trying again"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(LONGEST_WAIT);
                tries += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Where the app is served: the plain listener, and optionally the TLS listener and the
/// forward proxy.
pub struct Listeners {
    pub http: TcpListener,
    pub tls: Option<TcpListener>,
    pub proxy: Option<TcpListener>,
}

/// Serves `state` on `listener` alone (see [`serve_on`]).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listeners = Listeners {
        http: listener,
        tls: None,
        proxy: None,
    };
    serve_on(listeners, state, shutdown).await
}

/// Serves `state` on `listeners`, with the call scheduler, the callback sender and the store's
/// upkeep running, until `shutdown` resolves; then drains requests, stops the workers (the
/// sender waits for the callbacks in flight to be recorded) and closes the database.
pub async fn serve_on(
    listeners: Listeners,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::task::spawn_blocking(domain::PhoneNumber::warm_up);
    let (stop, stopped) = watch::channel(false);
    let router = app(state.clone());
    let mut edges = Vec::new();
    if listeners.tls.is_some() || listeners.proxy.is_some() {
        let config = state
            .ca
            .server_config(&state.settings.tls_names)
            .map_err(std::io::Error::other)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        if let Some(listener) = listeners.tls {
            let serve =
                http::edge::tls::serve(listener, router.clone(), acceptor.clone(), stopped.clone());
            edges.push(tokio::spawn(serve));
        }
        if let Some(listener) = listeners.proxy {
            let serve =
                http::edge::proxy::serve(listener, router.clone(), acceptor, stopped.clone());
            edges.push(tokio::spawn(serve));
        }
    }
    let journal = {
        let (state, stopped) = (state.clone(), stopped.clone());
        tokio::spawn(async move { state.journal.run(&state.service, stopped).await })
    };
    let workers = tokio::spawn(state.service.clone().run_workers(stopped));
    let closing = state.clone();
    let shutdown = async move {
        shutdown.await;
        closing.closing.send_replace(true);
    };
    // No Nagle delay: an event-stream write (or a response) goes out at once rather than
    // waiting up to the client's delayed ACK (~40 ms) behind the previous one.
    let http = listeners.http.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let result = axum::serve(http, router)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop.send(true);
    for edge in edges {
        let _ = edge.await;
    }
    let _ = journal.await;
    let _ = workers.await;
    state.service.close().await;
    result
}

/// Binds `address` for the listener its `flag` sets, with a message that names both.
async fn bind(address: std::net::SocketAddr, flag: &str) -> Result<TcpListener, BoxError> {
    TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address} ({flag}): {e}").into())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

/// The binary: settings in, server up until SIGINT/SIGTERM.
pub async fn run(settings: Settings) -> Result<(), BoxError> {
    let _flush = logging::init(settings.log_format);
    tracing::info!(settings = ?settings, "starting");
    let state = AppState::new(settings).await?;
    let settings = &state.settings;
    let http = bind(settings.listen, "--listen").await?;
    tracing::info!(address = %http.local_addr()?, "listening");
    let tls = match settings.tls_listen {
        Some(address) => Some(bind(address, "--tls-listen").await?),
        None => None,
    };
    if let Some(listener) = &tls {
        tracing::info!(address = %listener.local_addr()?, "listening for TLS");
    }
    let proxy = match settings.proxy_listen {
        Some(address) => Some(bind(address, "--proxy-listen").await?),
        None => None,
    };
    if let Some(listener) = &proxy {
        tracing::info!(address = %listener.local_addr()?, "proxy listening");
    }
    let listeners = Listeners { http, tls, proxy };
    serve_on(listeners, state, shutdown_signal()).await?;
    Ok(())
}
