//! The journal's bound, and the request.journalled events a batch takes from it.

use super::*;

#[test]
fn journal_is_bounded() {
    let j = Journal::new(2, false);
    let events = Events::new(16);
    let mut ids = Vec::new();
    for _ in 0..5 {
        let request_id = RequestSid::next();
        ids.push(request_id.to_string());
        j.push(
            Recorded {
                request_id,
                at_ms: 0,
                method: axum::http::Method::GET,
                target: Target::of("/", Some("A=1")),
                body: None,
                status: 200,
                error_code: None,
                duration_ms: 0.0,
                host: None,
                via: Via::Http,
                fault: None,
            },
            &events,
        );
    }
    let recent = j.recent(None, 10);
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].request_id, ids[4]);
    assert_eq!(recent[0].query.get("A").map(String::as_str), Some("1"));
}

fn recorded(account: &str, n: usize) -> Recorded {
    Recorded {
        request_id: RequestSid::next(),
        at_ms: 0,
        method: axum::http::Method::GET,
        target: Target::of(
            &format!("/2010-04-01/Accounts/{account}/OutgoingCallerIds/{n}.json"),
            None,
        ),
        body: None,
        status: 404,
        error_code: Some(20404),
        duration_ms: 0.0,
        host: None,
        via: Via::Http,
        fault: None,
    }
}

#[tokio::test]
async fn a_batch_takes_its_requests_from_the_journal_newest_twenty_and_a_count() {
    let a = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let b = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let j = Journal::new(50, false);
    let events = Events::new(16);
    // Journalled before anyone listens: not news to the first listener.
    j.push(recorded(a, 0), &events);
    let mut subscription = events.subscribe();
    for n in 1..=100 {
        j.push(recorded(if n % 2 == 0 { a } else { b }, n), &events);
    }
    let batch = subscription.recv_batch().await.expect("a batch");
    assert_eq!(batch.journal, 1..101);
    assert!(batch.events.is_empty(), "no event was built per request");
    let text = |(skipped, sse): (u64, Vec<(u64, Vec<u8>)>)| {
        let all: Vec<u8> = sse.into_iter().flat_map(|(_, t)| t).collect();
        (skipped, String::from_utf8(all).expect("utf-8"))
    };
    // 100 journalled, the journal holds the newest 50: the newest 20 shown, 80 counted.
    let (skipped, all) = text(j.journalled_sse(&batch.journal, None, 20));
    assert_eq!(skipped, 80);
    assert_eq!(all.matches("event: request.journalled").count(), 20);
    assert!(all.contains("/81.json") && all.contains("/100.json") && !all.contains("/80.json"));
    assert!(all.find("/81.json") < all.find("/100.json"), "oldest first");
    assert!(all.contains(r#""error_code":20404"#));
    // One account's: of the 25 of its requests the journal holds, the newest 20.
    let (skipped, mine) = text(j.journalled_sse(&batch.journal, Some(a), 20));
    assert_eq!(skipped, 5);
    assert_eq!(mine.matches("event: request.journalled").count(), 20);
    assert!(!mine.contains(b));
    // The next batch starts after this one.
    j.push(recorded(a, 101), &events);
    let next = subscription.recv_batch().await.expect("a batch");
    assert_eq!(next.journal, 101..102);
    let (skipped, one) = text(j.journalled_sse(&next.journal, None, 20));
    assert_eq!((skipped, one.matches("event: ").count()), (0, 1));
}
