//! The process's log: `tracing` lines on standard output, written by a thread of their own
//! in batches. Every API request logs a line, and writing each as it came cost a system call
//! and the standard-output lock (taken in turn by the runtime's workers) on the request's
//! path: a tenth of a fetch's CPU samples. A request now appends its line to a buffer; the
//! writer thread wakes at the first line after a quiet spell and then writes what gathered at
//! most every [`LINGER`], so a line reaches the output within about a millisecond. While the
//! output does not take lines (a pipe nobody reads), at most [`MAX_WAITING`] bytes wait; the
//! lines past that are dropped and counted in a line of their own, instead of holding up the
//! requests that log them. [`Flush`] writes what waits when the server stops.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

use crate::settings::LogFormat;

/// How long the writer lets lines gather after a write.
const LINGER: Duration = Duration::from_millis(1);
/// The most bytes that wait for the output.
const MAX_WAITING: usize = 8 << 20;

#[derive(Default)]
struct Waiting {
    bytes: Vec<u8>,
    /// Lines dropped since the last write, the output being behind by [`MAX_WAITING`].
    dropped: u64,
    /// Whether the writer sleeps until a line comes.
    idle: bool,
}

#[derive(Default)]
struct Shared {
    waiting: Mutex<Waiting>,
    wake: Condvar,
    /// Held while a batch is written, so that [`Flush`] writes after it.
    writing: Mutex<()>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes what waits, with the count of dropped lines first.
    fn write_waiting(&self) {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let (bytes, dropped) = {
            let mut waiting = self.lock();
            let dropped = std::mem::take(&mut waiting.dropped);
            (std::mem::take(&mut waiting.bytes), dropped)
        };
        let mut out = std::io::stdout().lock();
        if dropped > 0 {
            let _ = writeln!(
                out,
                "callerid-emulator: {dropped} log lines dropped: the output was {MAX_WAITING} bytes behind"
            );
        }
        let _ = out.write_all(&bytes);
        let _ = out.flush();
    }

    fn run(&self) {
        loop {
            {
                let mut waiting = self.lock();
                while waiting.bytes.is_empty() && waiting.dropped == 0 {
                    waiting.idle = true;
                    waiting = self.wake.wait(waiting).unwrap_or_else(|e| e.into_inner());
                }
                waiting.idle = false;
            }
            self.write_waiting();
            std::thread::sleep(LINGER);
        }
    }
}

/// What `tracing` writes each line to.
#[derive(Clone)]
struct Batched(Arc<Shared>);

impl Write for Batched {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut waiting = self.0.lock();
        if waiting.bytes.len() + line.len() > MAX_WAITING {
            waiting.dropped += 1;
        } else {
            waiting.bytes.extend_from_slice(line);
        }
        if waiting.idle {
            waiting.idle = false;
            self.0.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = Batched;

    fn make_writer(&'a self) -> Batched {
        self.clone()
    }
}

/// Writes the lines that wait when dropped: the server holds it while it runs.
pub struct Flush(Option<Arc<Shared>>);

impl Drop for Flush {
    fn drop(&mut self) {
        if let Some(shared) = &self.0 {
            shared.write_waiting();
        }
    }
}

/// Starts the log (`RUST_LOG` sets the level, `info` by default) in `format`. A second call
/// leaves the first one's log in place.
pub fn init(format: LogFormat) -> Flush {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let shared = Arc::new(Shared::default());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(Batched(shared.clone()));
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if installed.is_err() {
        return Flush(None);
    }
    let writer = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("log-writer".to_string())
        .spawn(move || writer.run());
    if spawned.is_err() {
        // No thread: the lines wait until the server stops, bounded as above.
        eprintln!("callerid-emulator: could not start the log writer thread");
    }
    Flush(Some(shared))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_past_the_bound_are_dropped_and_counted() {
        let shared = Arc::new(Shared::default());
        let mut writer = Batched(shared.clone());
        let line = vec![b'x'; 1 << 20];
        for _ in 0..10 {
            assert_eq!(writer.write(&line).expect("write"), line.len());
        }
        let waiting = shared.lock();
        assert_eq!(waiting.bytes.len(), MAX_WAITING);
        assert_eq!(waiting.dropped, 2);
    }

    #[test]
    fn a_line_wakes_an_idle_writer_once() {
        let shared = Arc::new(Shared::default());
        shared.lock().idle = true;
        let mut writer = Batched(shared.clone());
        writer.write_all(b"one\n").expect("write");
        assert!(!shared.lock().idle, "woken");
        writer.write_all(b"two\n").expect("write");
        assert_eq!(shared.lock().bytes, b"one\ntwo\n");
    }
}
