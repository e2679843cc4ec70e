//! `--max-concurrent-requests` (Issue 13): an account's requests in flight past the limit get
//! Twilio's 429 with code 20429 and `Retry-After`, and are not processed; other accounts are
//! not affected; a request counts until its answer is sent, a delayed one (a fault rule's
//! `delay_ms` holds the requests in flight here) included.

use std::time::Duration;

use callerid_emulator::settings::Settings;
use clap::Parser;
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

const LIST: &str = "/OutgoingCallerIds.json";

/// Sends `n` list requests of `who` that a delay rule holds in flight, and waits until the
/// rule has caught all of them.
async fn hold_in_flight(app: &TestApp, who: &Account, n: u32) -> Vec<tokio::task::JoinHandle<u16>> {
    let rule = add_fault(
        app,
        json!({"account_sid": who.sid, "times": n, "action": {"delay_ms": 3000}}),
    )
    .await;
    let id = rule["id"].as_str().expect("id").to_string();
    let held: Vec<_> = (0..n)
        .map(|_| {
            let request = own(app, who, Method::GET, LIST);
            tokio::spawn(async move { request.send().await.expect("send").status().as_u16() })
        })
        .collect();
    let caught = wait_for(Duration::from_secs(10), || async {
        (hits_of(app, &id).await == u64::from(n)).then_some(())
    })
    .await;
    assert!(caught.is_some(), "the delayed requests arrived");
    held
}

#[tokio::test]
async fn past_the_limit_is_429_and_not_processed() {
    let app = TestApp::spawn_with(|s| s.max_concurrent_requests = Some(2)).await;
    let other = new_account(&app).await;
    let held = hold_in_flight(&app, &dev(), 2).await;

    let reply = send(own(&app, &dev(), Method::GET, LIST)).await;
    assert_eq!(json_error(&reply, 429, 20429), "Too Many Requests");
    assert_eq!(reply.header("retry-after"), "1");
    let create = own(&app, &dev(), Method::POST, LIST).form(&[("PhoneNumber", "+14155550100")]);
    json_error(&send(create).await, 429, 20429);
    // Another account has its own count.
    assert_eq!(send(own(&app, &other, Method::GET, LIST)).await.status, 200);

    for request in held {
        assert_eq!(request.await.expect("join"), 200);
    }
    // Released once answered: the refused POST made no call, and a new one goes through.
    let calls = send(
        app.client
            .get(app.url(&format!("/_emulator/calls?account_sid={SID}"))),
    )
    .await;
    assert_eq!(calls.json()["calls"], json!([]));
    let create = own(&app, &dev(), Method::POST, LIST).form(&[("PhoneNumber", "+14155550100")]);
    assert_eq!(send(create).await.status, 200);
    let statuses: Vec<_> = journal_of(&app, SID)
        .await
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [json!(429), json!(429), json!(200), json!(200), json!(200)]
    );
}

#[tokio::test]
async fn off_by_default() {
    let app = TestApp::spawn().await;
    let held = hold_in_flight(&app, &dev(), 5).await;
    assert_eq!(send(own(&app, &dev(), Method::GET, LIST)).await.status, 200);
    for request in held {
        assert_eq!(request.await.expect("join"), 200);
    }
}

#[test]
fn the_setting_is_a_positive_number() {
    let parse = |args: &[&str]| Settings::try_parse_from([&["callerid-emulator"], args].concat());
    assert_eq!(parse(&[]).expect("default").max_concurrent_requests, None);
    let set = parse(&["--max-concurrent-requests", "3"]).expect("3");
    assert_eq!(set.max_concurrent_requests, Some(3));
    assert!(parse(&["--max-concurrent-requests", "0"]).is_err());
    assert!(parse(&["--max-concurrent-requests", "x"]).is_err());
}
