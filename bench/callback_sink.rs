//! The StatusCallback receiver of the flow benchmark: answers every request with an empty 200,
//! at once or, with `--delay-ms`, after that long (the slow receiver), and counts what it got.
//! `GET /_sink/count` answers the count.
//!
//! cargo run --release --example callback_sink -- --listen 127.0.0.1:4919 [--delay-ms 2000]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::Uri;
use axum::routing::any;
use axum::Router;

#[derive(Clone)]
struct Sink {
    received: Arc<AtomicU64>,
    delay: Duration,
}

async fn receive(State(sink): State<Sink>, uri: Uri) -> String {
    if uri.path() == "/_sink/count" {
        return sink.received.load(Ordering::Relaxed).to_string();
    }
    sink.received.fetch_add(1, Ordering::Relaxed);
    if !sink.delay.is_zero() {
        tokio::time::sleep(sink.delay).await;
    }
    String::new()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = "127.0.0.1:4919".to_string();
    let mut delay_ms = 0u64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = value,
            "--delay-ms" => delay_ms = value.parse()?,
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    let sink = Sink {
        received: Arc::default(),
        delay: Duration::from_millis(delay_ms),
    };
    let app = Router::new().fallback(any(receive)).with_state(sink);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
