//! Three real emulator binaries on one PostgreSQL database, over real HTTP (issue 10): a write
//! answered by one replica is read on the others right after; the control API answers the same
//! on all of them; fifty validation requests for one number spread over them verify it once;
//! and a replica killed with SIGKILL while calls wait for their next step and callbacks are in
//! flight leaves its work to the others: every call finishes, every callback is delivered (with
//! the same idempotency token when sent again), no call event is recorded twice, and no
//! acknowledged write is lost. Needs `CALLERID_TEST_POSTGRES_URL` (skipped without it outside
//! CI, as the other PostgreSQL tests).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::replicas::{
    control_answers, control_get, fetch_caller_id, listed, phone_path, set_behavior,
    validation_request, write_until, Arrival, Replicas, SlowReceiver,
};
use crate::helpers::{new_account, new_key, own, seed_in, send, status_json, wait_for, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_answered_by_one_replica_is_read_on_every_other() {
    let Some(r) = Replicas::start("the replica read-after-write test", 3, &[]).await else {
        return;
    };
    let (a, b, c) = (r.at(0), r.at(1), r.at(2));

    // An account made on one replica authenticates on the others at once; so does a key.
    let account = new_account(a).await;
    assert_eq!(
        b.list(&account.sid, &account.sid, &account.token).await.0,
        200
    );
    let key = new_key(b, &account.sid, Some("ci")).await;
    assert_eq!(c.list(&account.sid, &key.sid, &key.token).await.0, 200);
    assert_eq!(a.list(&account.sid, &key.sid, &key.token).await.0, 200);

    // A caller ID made through the control API, renamed and deleted through the Twilio API,
    // each step on another replica and read on the other two right after its answer.
    let seeded = seed_in(c, &account.sid, "+14155550101", Some("Seeded")).await;
    let sid = seeded["sid"].as_str().expect("sid").to_string();
    for server in [a, b] {
        let (status, body) = fetch_caller_id(server, &account, &sid).await;
        assert_eq!(
            (status, body["friendly_name"].as_str()),
            (200, Some("Seeded"))
        );
    }
    let path = format!("/OutgoingCallerIds/{sid}.json");
    let renamed =
        send(own(a, &account, Method::POST, &path).form(&[("FriendlyName", "Renamed")])).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    for server in [b, c] {
        let (status, body) = fetch_caller_id(server, &account, &sid).await;
        assert_eq!(
            (status, body["friendly_name"].as_str()),
            (200, Some("Renamed"))
        );
    }

    // A behaviour set on one replica is the one the others report and use.
    set_behavior(b, &account.sid, "+14155550100", "busy").await;
    for server in [a, c] {
        let body = control_get(server, &phone_path(&account.sid, "+14155550100")).await;
        assert_eq!(body["behavior"], "busy", "{body}");
    }

    // A validation request at time scale 0 is settled when its POST answers: its call and the
    // new caller ID are read on the others at once.
    let (status, body) = validation_request(c, &account, &[("PhoneNumber", "+14155550102")]).await;
    assert_eq!(status, 200, "{body}");
    let call = body["call_sid"].as_str().expect("call_sid").to_string();
    for server in [a, b] {
        let view = control_get(server, &format!("/_emulator/calls/{call}")).await;
        assert_eq!(view["verification_status"], "success", "{view}");
        assert_eq!(listed(server, &account.sid).await.len(), 2);
    }

    // Every replica gives the same answers about the account.
    let first = control_answers(a, &account.sid).await;
    assert_eq!(control_answers(b, &account.sid).await, first);
    assert_eq!(control_answers(c, &account.sid).await, first);

    let deleted = send(own(b, &account, Method::DELETE, &path)).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    for server in [a, c] {
        assert_eq!(fetch_caller_id(server, &account, &sid).await.0, 404);
    }

    // Deleting the account on one replica takes its credentials away on every replica.
    let gone = send(
        c.client
            .delete(c.url(&format!("/_emulator/accounts/{}", account.sid))),
    )
    .await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    for server in [a, b] {
        assert_eq!(server.list(&account.sid, &key.sid, &key.token).await.0, 401);
        assert_eq!(
            server
                .list(&account.sid, &account.sid, &account.token)
                .await
                .0,
            401
        );
    }

    // A reset on one replica resets what every replica shows.
    let other = new_account(a).await;
    seed_in(a, &other.sid, "+14155550103", None).await;
    let reset = send(b.client.post(b.url("/_emulator/reset"))).await;
    assert!(reset.status.is_success(), "{}", reset.body);
    for server in [a, c] {
        let accounts = control_get(server, "/_emulator/accounts").await;
        let sids: Vec<&str> = accounts["accounts"]
            .as_array()
            .expect("accounts")
            .iter()
            .filter_map(|x| x["sid"].as_str())
            .collect();
        assert!(!sids.contains(&other.sid.as_str()), "{accounts}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_validation_requests_for_one_number_over_three_replicas_verify_it_once() {
    let Some(r) = Replicas::start("the replica 50-parallel test", 3, &[]).await else {
        return;
    };
    let account = new_account(r.at(0)).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..50 {
        let server = r.at(n % r.len());
        let request = own(server, &account, Method::POST, "/OutgoingCallerIds.json")
            .form(&[("PhoneNumber", "+14155550199")]);
        tasks.spawn(status_json(request));
    }
    let mut statuses = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (status, body) = joined.expect("task");
        if status != 200 && status != 400 {
            let logs: Vec<String> = r.alive().iter().map(|e| e.logs()).collect();
            panic!("{status}: {body}; the replicas' logs: {logs:#?}");
        }
        *statuses.entry(status).or_insert(0) += 1;
    }
    assert!(statuses.get(&200).is_some_and(|&n| n >= 1), "{statuses:?}");

    for server in r.alive() {
        assert_eq!(listed(server, &account.sid).await.len(), 1);
        let calls = control_get(
            server,
            &format!("/_emulator/calls?account_sid={}", account.sid),
        )
        .await;
        let calls = calls["calls"].as_array().expect("calls");
        let verified = calls
            .iter()
            .filter(|c| c["verification_status"] == "success")
            .count();
        assert_eq!(verified, 1, "{calls:?}");
        assert_eq!(calls.len(), statuses[&200], "one call per accepted request");
    }
    let rows = r
        .query_i64("SELECT count(*) FROM outgoing_caller_ids WHERE phone_number = '+14155550199'")
        .await;
    assert_eq!(rows, 1);
}

/// How long the survivors may take to finish a killed replica's work: its in-flight callbacks
/// are claimable only once their lease (60 s in the PostgreSQL store, no setting; shorter
/// leases are issue-10b's part of issue 10) has run out.
const AFTER_KILL: Duration = Duration::from_secs(150);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_mid_call_and_mid_callback_leaves_its_work_to_the_others() {
    let args = ["--time-scale", "0.05", "--manual-digits-timeout", "600"];
    let Some(mut r) = Replicas::start("the replica kill -9 test", 3, &args).await else {
        return;
    };
    let receiver = SlowReceiver::start(Duration::from_secs(5)).await;
    let account = new_account(r.at(0)).await;
    let bases: Vec<String> = r.alive().iter().map(|e| e.base().to_string()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_until(bases, account.sid.clone(), stop.clone()));

    // Calls that wait for digits, and calls that ring and key the code at 1/20 of real time,
    // each requested on another replica; every one with a StatusCallback.
    let mut calls = Vec::new();
    let mut manual = Vec::new();
    for n in 0..12 {
        let server = r.at(n % 3);
        let phone = format!("+141555502{n:02}");
        if n < 3 {
            set_behavior(server, &account.sid, &phone, "manual").await;
        }
        let delay = (10 + 5 * (n % 4)).to_string();
        let form = [
            ("PhoneNumber", phone.as_str()),
            ("StatusCallback", receiver.url.as_str()),
            ("CallDelay", delay.as_str()),
        ];
        let (status, body) = validation_request(server, &account, &form).await;
        assert_eq!(status, 200, "{body}");
        let call = body["call_sid"].as_str().expect("call_sid").to_string();
        if n < 3 {
            let code = body["validation_code"].as_str().expect("code").to_string();
            manual.push((call.clone(), code));
        }
        calls.push(call);
    }

    // Kill a replica that is delivering callbacks, while the manual calls wait: one whose
    // every `sending` callback has reached the receiver (which answers only after 5 s).
    let (holder, sent) = wait_for(Duration::from_secs(60), || async {
        let rows = r
            .query_texts(
                "SELECT claimed_by || ' ' || call_sid FROM callbacks \
                 WHERE state = 'sending' AND claimed_by IS NOT NULL",
            )
            .await;
        let arrived = receiver.arrived_calls();
        let mut held: BTreeMap<i32, Vec<String>> = BTreeMap::new();
        for row in rows {
            let (by, call) = row.split_once(' ').expect("claimed_by call_sid");
            held.entry(by.parse().expect("replica id"))
                .or_default()
                .push(call.to_string());
        }
        held.into_iter()
            .find(|(_, calls)| calls.iter().all(|c| arrived.contains(c)))
    })
    .await
    .expect("a replica whose callbacks in flight have all reached the receiver");
    let victim = r.index_of(holder).expect("a replica of this test");
    let waiting = r
        .query_i64("SELECT count(*) FROM calls WHERE next_action_at IS NOT NULL")
        .await;
    assert!(waiting >= 3, "the manual calls wait for digits");
    let before_kill = receiver.arrivals();
    r.kill(victim);
    let held =
        format!("SELECT call_sid FROM callbacks WHERE state = 'sending' AND claimed_by = {holder}");
    let orphaned = r.query_texts(&held).await;
    assert!(
        orphaned.iter().any(|c| sent.contains(c)),
        "the killed replica was delivering callbacks: {sent:?} then {orphaned:?}"
    );

    // The survivors take the digits and finish every call.
    for (i, (call, code)) in manual.iter().enumerate() {
        let survivors = r.alive();
        let server = survivors[i % survivors.len()];
        let posted = send(
            server
                .client
                .post(server.url(&format!("/_emulator/calls/{call}/digits")))
                .json(&json!({ "digits": code })),
        )
        .await;
        assert_eq!(posted.status, 200, "{}", posted.body);
    }
    stop.store(true, Ordering::SeqCst);
    let acknowledged = writer.await.expect("writer");
    assert!(!acknowledged.is_empty());

    let survivor = r.alive()[0];
    let settled = wait_for(AFTER_KILL, || async {
        let mut all = Vec::new();
        for call in &calls {
            let view = control_get(survivor, &format!("/_emulator/calls/{call}")).await;
            let list =
                control_get(survivor, &format!("/_emulator/callbacks?call_sid={call}")).await;
            let delivered = list["callbacks"]
                .as_array()
                .is_some_and(|l| l.len() == 1 && l[0]["state"] == "delivered");
            if !view["next_action_at"].is_null() || !delivered {
                return None;
            }
            all.push(view);
        }
        Some(all)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "not every call ended with its callback delivered; arrivals: {:?}",
            receiver.arrivals()
        )
    });

    for view in &settled {
        assert_eq!(view["verification_status"], "success", "{view}");
        let statuses: Vec<&str> = view["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .filter_map(|e| e["status"].as_str())
            .collect();
        let distinct: BTreeSet<&&str> = statuses.iter().collect();
        assert_eq!(distinct.len(), statuses.len(), "an event twice: {view}");
    }
    let twice = r
        .query_i64(
            "SELECT count(*) FROM (SELECT call_sid, status, note FROM call_events \
             GROUP BY call_sid, status, note HAVING count(*) > 1) AS d",
        )
        .await;
    assert_eq!(twice, 0, "no call event recorded twice");

    // Every callback arrived, and a resend carried the token of the first attempt.
    let arrivals = receiver.arrivals();
    for call in &calls {
        let tokens: BTreeSet<&str> = arrivals
            .iter()
            .filter(|a| &a.call_sid == call)
            .map(|a| a.token.as_str())
            .collect();
        assert_eq!(tokens.len(), 1, "one token for {call}: {arrivals:?}");
    }
    // Those left `sending` by the kill are sent again: each one arrives once more than it had
    // before the kill (a callback the killed replica claimed last may not have left it yet).
    for call in &orphaned {
        let count = |seen: &[Arrival]| seen.iter().filter(|a| &a.call_sid == call).count();
        assert!(
            count(&arrivals) > count(&before_kill),
            "{call}, in flight at the kill, is sent again: {arrivals:?}"
        );
    }

    // No acknowledged write is lost.
    for server in r.alive() {
        let now = listed(server, &account.sid).await;
        let missing: Vec<&String> = acknowledged.iter().filter(|s| !now.contains(*s)).collect();
        assert!(missing.is_empty(), "lost acknowledged writes: {missing:?}");
    }
}
