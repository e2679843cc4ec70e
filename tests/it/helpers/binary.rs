//! The real `callerid-emulator` binary as a child process: started in a folder with flags and
//! environment, its output collected line by line (and appended to a log file when asked),
//! stopped by SIGTERM or SIGKILL, started again on the same database file.

use std::fs::File;
use std::future::ready;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::accounts::{seed_in, Account};
use super::client::{call, path_of, status_json, Server};
use super::wait::wait_for;

/// The development account the binary documents, spelled out rather than taken from the
/// library.
pub const DEV_SID: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const DEV_TOKEN: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// One run of the binary, its output collected line by line; killed when dropped.
pub struct Emulator {
    child: Option<Child>,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
    pub client: reqwest::Client,
}

/// The binary started but not yet known to listen ([`Emulator::start_unready`]).
pub struct Starting {
    child: Option<Child>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Starting {
    /// Everything the binary has written so far, one line each.
    pub fn output(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }

    /// Waits until the binary listens and its health check answers 200.
    pub async fn ready(mut self) -> Emulator {
        let mut child = self.child.take().expect("child");
        let lines = self.lines.clone();
        let port = wait_for(Duration::from_secs(60), || {
            let found = lines
                .lock()
                .expect("lines")
                .iter()
                .find_map(|l| listening_port(l));
            if found.is_none() {
                if let Some(status) = child.try_wait().expect("try_wait") {
                    panic!(
                        "emulator exited with {status} before listening: {:?}",
                        lines.lock().expect("lines")
                    );
                }
            }
            ready(found)
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "emulator never listened: {:?}",
                lines.lock().expect("lines")
            )
        });
        let emulator = Emulator {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            lines,
            client: reqwest::Client::new(),
        };
        let health = emulator.url("/_emulator/health");
        let v: Value = wait_for(Duration::from_secs(30), || async {
            let response = emulator.client.get(&health).send().await.ok()?;
            if response.status() != 200 {
                return None;
            }
            Some(response.json().await.expect("json"))
        })
        .await
        .unwrap_or_else(|| panic!("health never answered: {}", emulator.logs()));
        assert_eq!(v["status"], "ok");
        emulator
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A log file shared by the threads that read the child's output.
type Log = Arc<Mutex<File>>;

/// Reads `stream` line by line into `lines`, and into `log` if there is one.
fn collect(stream: impl Read + Send + 'static, lines: Arc<Mutex<Vec<String>>>, log: Option<Log>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(Ok(mut file)) = log.as_ref().map(|log| log.lock()) {
                let _ = writeln!(file, "{line}");
            }
            if let Ok(mut lines) = lines.lock() {
                lines.push(line);
            }
        }
    });
}

/// The port in the `listening` log line (text or JSON format).
fn listening_port(line: &str) -> Option<u16> {
    if !line.contains("listening") {
        return None;
    }
    let at = line.find("127.0.0.1:")? + "127.0.0.1:".len();
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl Emulator {
    /// Starts the binary in `dir` with `args` and `envs` and waits until it listens and its
    /// health check answers.
    pub async fn start(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Emulator {
        Emulator::launch(dir, args, envs, None).await
    }

    /// Starts the binary on the database file `db` with `args`, its output appended to
    /// `log`. Starting it again with the same `db` and `log` restarts it on the same file,
    /// one log for every run.
    pub async fn start_on(db: &Path, log: &Path, args: &[&str]) -> Emulator {
        let url = database_url(db);
        let mut all = vec!["--database-url", url.as_str()];
        all.extend_from_slice(args);
        let dir = db.parent().expect("the database's folder");
        Emulator::launch(dir, &all, &[], Some(log)).await
    }

    /// The one way the binary is started: in `dir`, on 127.0.0.1 port 0, at time scale 0
    /// unless `args` set `--time-scale`, with `args`; the test run's `CALLERID_*` and
    /// `RUST_LOG` variables removed and `envs` set.
    async fn launch(
        dir: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
        log: Option<&Path>,
    ) -> Emulator {
        Emulator::spawn(dir, args, envs, log).ready().await
    }

    /// Starts the binary as [`Emulator::start`] does, without waiting for it to listen.
    pub fn start_unready(dir: &Path, args: &[&str]) -> Starting {
        Emulator::spawn(dir, args, &[], None)
    }

    fn spawn(dir: &Path, args: &[&str], envs: &[(&str, &str)], log: Option<&Path>) -> Starting {
        let mut command = Command::new(env!("CARGO_BIN_EXE_callerid-emulator"));
        command.current_dir(dir).args(["--listen", "127.0.0.1:0"]);
        let names_a_database = args.iter().any(|a| a.starts_with("--database-url"))
            || envs
                .iter()
                .any(|(name, _)| *name == "CALLERID_DATABASE_URL");
        if super::pg::backend_is_postgres() && !names_a_database {
            command.args(["--database-url", &super::pg::database_for(dir)]);
        }
        if !args.contains(&"--time-scale") {
            command.args(["--time-scale", "0"]);
        }
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars() {
            if name.starts_with("CALLERID_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        command.envs(envs.iter().copied());
        let mut child = command.spawn().expect("spawn callerid-emulator");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let log = log.map(|path| {
            let file = File::options()
                .create(true)
                .append(true)
                .open(path)
                .expect("log file");
            Arc::new(Mutex::new(file))
        });
        collect(
            child.stdout.take().expect("stdout"),
            lines.clone(),
            log.clone(),
        );
        collect(child.stderr.take().expect("stderr"), lines.clone(), log);
        Starting {
            child: Some(child),
            lines,
        }
    }

    /// Everything the binary has written so far, stdout and stderr, one line each.
    pub fn logs(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }

    /// GET of `account`'s caller-ID list as `user:password`; returns status and body.
    pub async fn list(&self, account: &str, user: &str, password: &str) -> (u16, Value) {
        let who = Account {
            sid: user.to_string(),
            token: password.to_string(),
        };
        let path = path_of(account, "/OutgoingCallerIds.json");
        status_json(call(self, &who, Method::GET, &path)).await
    }

    /// Sends SIGTERM and waits for the process to exit; its exit status and output.
    pub async fn terminate(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("child");
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let exited = wait_for(Duration::from_secs(30), || {
            ready(child.try_wait().expect("try_wait"))
        })
        .await;
        let Some(status) = exited else {
            let _ = child.kill();
            panic!("emulator did not stop on SIGTERM: {}", self.logs());
        };
        // Let the reader threads drain the pipes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (status, self.logs())
    }

    /// SIGKILL: no shutdown, no flushing beyond what SQLite already committed.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("child");
        child.kill().expect("kill");
        child.wait().expect("reap");
    }
}

impl Server for Emulator {
    fn base(&self) -> &str {
        &self.base
    }

    fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The URL of the database file `db`: a SQLite URL, or with `CALLERID_TEST_BACKEND=postgres`
/// the PostgreSQL database standing for that file (the same one on every call).
pub fn database_url(db: &Path) -> String {
    if super::pg::backend_is_postgres() {
        super::pg::database_for(db)
    } else {
        format!("sqlite://{}", db.display())
    }
}

/// The binary on a new database file (`x.db` in the returned folder, at the returned URL)
/// holding one caller ID, and that caller ID's instance path.
pub async fn one_caller_id_on_a_file() -> (tempfile::TempDir, String, Emulator, String) {
    let dir = tempfile::tempdir().expect("dir");
    let url = database_url(&dir.path().join("x.db"));
    let emulator = Emulator::start(dir.path(), &["--database-url", url.as_str()], &[]).await;
    let row = seed_in(&emulator, DEV_SID, "+14158675309", Some("Start")).await;
    let path = format!(
        "/2010-04-01/Accounts/{DEV_SID}/OutgoingCallerIds/{}.json",
        row["sid"].as_str().expect("sid")
    );
    (dir, url, emulator, path)
}
