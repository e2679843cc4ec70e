//! The in-process server: the real router served on a real port over a real SQLite file (or
//! a PostgreSQL database, see [`super::pg`]).
//! Its waits on verification calls ([`TestApp::wait_call_ended`]) are in [`super::calls`].

use std::net::SocketAddr;
use std::sync::Arc;

use callerid_emulator::settings::Settings;
use callerid_emulator::{AppState, Listeners};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::accounts::{SID, TOKEN};
use super::client::Server;

/// A running emulator.
pub struct TestApp {
    pub addr: SocketAddr,
    /// The TLS listener, when started with [`TestApp::spawn_with_edges`].
    pub tls: Option<SocketAddr>,
    /// The forward proxy, likewise.
    pub proxy: Option<SocketAddr>,
    pub base: String,
    pub client: reqwest::Client,
    pub dir: Arc<tempfile::TempDir>,
    pub db_url: String,
    /// The state the server runs on, for what only the process itself shows (its events).
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Settings for a test: a fresh SQLite file in its own folder (or, with
/// `CALLERID_TEST_BACKEND=postgres`, a fresh PostgreSQL database of its own), time scale 0.
pub fn test_settings(dir: &tempfile::TempDir) -> Settings {
    let mut settings = Settings::for_tests();
    settings.database_url = if super::pg::backend_is_postgres() {
        // The folder a database file would be in keeps the local CA, as it does for SQLite.
        settings.data_dir = Some(dir.path().to_path_buf());
        super::pg::database_for(dir.path())
    } else {
        format!("sqlite://{}", dir.path().join("test.db").display())
    };
    settings
}

impl TestApp {
    /// Starts the emulator with default test settings.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Starts the emulator with test settings changed by `tweak`.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut settings = test_settings(&dir);
        tweak(&mut settings);
        TestApp::spawn_in(dir, settings).await
    }

    /// Starts the emulator on `settings`, keeping `dir` alive with it.
    pub async fn spawn_in(dir: Arc<tempfile::TempDir>, settings: Settings) -> TestApp {
        TestApp::spawn_listening(dir, settings, false).await
    }

    /// Starts the emulator with its TLS listener and its forward proxy too, each on a port of
    /// its own ([`TestApp::tls`], [`TestApp::proxy`]).
    pub async fn spawn_with_edges(dir: Arc<tempfile::TempDir>, settings: Settings) -> TestApp {
        TestApp::spawn_listening(dir, settings, true).await
    }

    async fn spawn_listening(
        dir: Arc<tempfile::TempDir>,
        settings: Settings,
        edges: bool,
    ) -> TestApp {
        let db_url = settings.database_url.clone();
        let state = AppState::new(settings).await.expect("state");
        let served = state.clone();
        let bind = || async { TcpListener::bind("127.0.0.1:0").await.expect("bind") };
        let listener = bind().await;
        let addr = listener.local_addr().expect("addr");
        let (tls, proxy) = if edges {
            (Some(bind().await), Some(bind().await))
        } else {
            (None, None)
        };
        let local = |l: &Option<TcpListener>| l.as_ref().map(|l| l.local_addr().expect("addr"));
        let (tls_addr, proxy_addr) = (local(&tls), local(&proxy));
        let listeners = Listeners {
            http: listener,
            tls,
            proxy,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            callerid_emulator::serve_on(listeners, served, async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
        });
        TestApp {
            addr,
            tls: tls_addr,
            proxy: proxy_addr,
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            dir,
            db_url,
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and waits until it has let go of the database.
    pub async fn stop(mut self) -> Arc<tempfile::TempDir> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.dir.clone()
    }

    /// A GET of `url` as the development account.
    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.client.get(url).basic_auth(SID, Some(TOKEN))
    }

    /// A form POST to `url` as the development account.
    pub fn post_form(&self, url: &str, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.client
            .post(url)
            .basic_auth(SID, Some(TOKEN))
            .form(form)
    }
}

impl Server for TestApp {
    fn base(&self) -> &str {
        &self.base
    }

    fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
