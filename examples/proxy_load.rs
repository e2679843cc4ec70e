//! A load generator for the emulator's forward proxy, which wrk cannot use: `--connections`
//! clients, each holding one keep-alive connection (one CONNECT tunnel through `--proxy`,
//! trusting `--ca`), fetch random seeded caller IDs from `https://api.twilio.com` for
//! `--seconds`; without `--proxy`, the same load straight to `--base` (the like-for-like
//! plain-HTTP figure). Prints `RESULT {json}` as bench/wrk/workload.lua does.
//!
//! cargo run --release --example proxy_load -- --proxy http://127.0.0.1:4016 --ca CA.pem \
//!     --account AC… --token … --seeded 10000 --connections 32 --seconds 10

use std::time::{Duration, Instant};

struct Args {
    proxy: Option<String>,
    base: String,
    ca: Option<String>,
    account: String,
    token: String,
    seeded: u64,
    connections: usize,
    seconds: u64,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        proxy: None,
        base: "https://api.twilio.com".into(),
        ca: None,
        account: String::new(),
        token: String::new(),
        seeded: 10_000,
        connections: 32,
        seconds: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--proxy" => args.proxy = Some(value),
            "--base" => args.base = value,
            "--ca" => args.ca = Some(value),
            "--account" => args.account = value,
            "--token" => args.token = value,
            "--seeded" => args.seeded = value.parse().map_err(|e| format!("{flag}: {e}"))?,
            "--connections" => {
                args.connections = value.parse().map_err(|e| format!("{flag}: {e}"))?
            }
            "--seconds" => args.seconds = value.parse().map_err(|e| format!("{flag}: {e}"))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

fn client(args: &Args) -> Result<reqwest::Client, Box<dyn std::error::Error>> {
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(5));
    if let Some(proxy) = &args.proxy {
        builder = builder.proxy(reqwest::Proxy::all(proxy)?);
    }
    if let Some(ca) = &args.ca {
        let pem = std::fs::read(ca)?;
        builder = builder
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
    }
    Ok(builder.build()?)
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    non2xx: u64,
    errors: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse()?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..args.connections {
        let client = client(&args)?;
        let (base, account, token, seeded) = (
            args.base.clone(),
            args.account.clone(),
            args.token.clone(),
            args.seeded.max(1),
        );
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ (n as u64 + 1).wrapping_mul(0x2545_f491);
            while Instant::now() < deadline {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let row = state % seeded + 1;
                let url = format!(
                    "{base}/2010-04-01/Accounts/{account}/OutgoingCallerIds/PN{row:032}.json"
                );
                let sent = Instant::now();
                match client
                    .get(&url)
                    .basic_auth(&account, Some(&token))
                    .send()
                    .await
                {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        let _ = response.bytes().await;
                        tally.latencies_us.push(sent.elapsed().as_micros() as u32);
                        if !ok {
                            tally.non2xx += 1;
                        }
                    }
                    Err(_) => tally.errors += 1,
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await?;
        all.latencies_us.extend(tally.latencies_us);
        all.non2xx += tally.non2xx;
        all.errors += tally.errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    let at = |q: f64| -> f64 {
        let i = ((all.latencies_us.len() as f64 - 1.0) * q).round() as usize;
        f64::from(all.latencies_us.get(i).copied().unwrap_or(0)) / 1000.0
    };
    let requests = all.latencies_us.len();
    println!(
        "RESULT {{\"requests\":{requests},\"rps\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"non2xx\":{},\"socket_errors\":{}}}",
        requests as f64 / elapsed,
        at(0.50),
        at(0.99),
        all.non2xx,
        all.errors
    );
    Ok(())
}
