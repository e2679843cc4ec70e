//! callerid-emulator: a local, stateful emulator of Twilio's REST API for Outgoing Caller IDs
//! and their validation requests.
//!
//! [`app`] builds the router over an [`AppState`]; [`serve`] runs it on a listener with the
//! verification engine beside it until a shutdown future resolves; [`run`] is the binary.

pub mod api;
pub mod auth;
pub mod control;
pub mod error;
pub mod metrics;
pub mod observe;
pub mod settings;
pub mod store;
pub mod verification;
pub mod wire;

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::Uri;
use axum::response::IntoResponse;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::observe::Journal;
use crate::settings::{LogFormat, Settings};
use crate::store::Store;
use crate::verification::{CallbackPolicy, Engine, Timing};
use crate::wire::sid::AccountSid;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything the handlers and workers share.
pub struct Shared {
    pub settings: Settings,
    pub store: Store,
    pub journal: Journal,
    pub metrics: Arc<Metrics>,
    pub engine: Arc<Engine>,
}

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Opens the database, runs the migrations and installs the configured accounts.
    pub async fn new(settings: Settings) -> Result<AppState, BoxError> {
        settings.validate()?;
        let store = Store::connect(&settings.database_url, settings.read_connections).await?;
        let accounts: Vec<(AccountSid, String, String)> = settings
            .parsed_accounts()?
            .into_iter()
            .map(|(sid, token)| (sid, token, "Configured account".to_string()))
            .collect();
        store
            .sync_configured_accounts(&accounts, wire::now_millis() / 1000)
            .await?;
        // Callbacks left `sending` were cut short by a crash: send them again.
        let resumed = store
            .resume_interrupted_callbacks(wire::now_millis())
            .await?;
        if resumed > 0 {
            tracing::info!(callbacks = resumed, "resuming interrupted status callbacks");
        }
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
        let engine = Engine::new(timing, policy)?;
        Ok(AppState(Arc::new(Shared {
            journal: Journal::new(settings.request_journal_size),
            settings,
            store,
            metrics: Arc::new(Metrics::default()),
            engine: Arc::new(engine),
        })))
    }
}

async fn not_found(uri: Uri) -> impl IntoResponse {
    ApiError::not_found(uri.path())
}

async fn method_not_allowed() -> impl IntoResponse {
    ApiError::method_not_allowed()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    ApiError::internal("a request handler panicked").into_response()
}

/// The whole HTTP surface: the Twilio namespace, the control API (unless turned off), health
/// and metrics, with Twilio's error bodies and headers on every response.
pub fn app(state: AppState) -> Router {
    let mut router = api::router().merge(control::open_router());
    if state.settings.control_api {
        router = router.merge(control::router(&state));
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // One layer of three, outermost first, so each route is wrapped and boxed once.
        .layer((
            axum::middleware::from_fn_with_state(state.clone(), observe::observe),
            DefaultBodyLimit::disable(),
            tower_http::catch_panic::CatchPanicLayer::custom(panic_response),
        ))
        .with_state(state)
}

/// Serves `state` on `listener`, with the call scheduler and the callback sender running,
/// until `shutdown` resolves; then drains requests, stops the workers (the sender waits for
/// the callbacks in flight to be recorded) and closes the database.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::task::spawn_blocking(wire::PhoneNumber::warm_up);
    let (stop, stopped) = watch::channel(false);
    let calls = tokio::spawn(state.engine.clone().run_calls(
        state.store.clone(),
        state.metrics.clone(),
        stopped.clone(),
    ));
    let callbacks = tokio::spawn(verification::sender::run(
        state.engine.clone(),
        state.store.clone(),
        state.metrics.clone(),
        stopped.clone(),
    ));
    let checkpoints = tokio::spawn(state.store.clone().run_checkpoints(stopped));
    let result = axum::serve(listener, app(state.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop.send(true);
    let _ = calls.await;
    let _ = callbacks.await;
    let _ = checkpoints.await;
    state.store.close().await;
    result
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

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The binary: settings in, server up until SIGINT/SIGTERM.
pub async fn run(settings: Settings) -> Result<(), BoxError> {
    init_tracing(settings.log_format);
    tracing::info!(settings = ?settings, "starting");
    let state = AppState::new(settings).await?;
    let listener = TcpListener::bind(state.settings.listen).await?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    serve(listener, state, shutdown_signal()).await?;
    Ok(())
}
