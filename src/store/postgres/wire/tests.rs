//! The NOTIFY payloads read back as they were written.

use super::*;
use crate::domain::sid::AccountSid;

fn deleted(i: usize) -> Event {
    Event::AccountDeleted {
        sid: AccountSid::parse(&format!("AC{i:032x}")).expect("sid"),
    }
}

#[test]
fn a_batch_is_split_under_the_limit_in_order_and_read_back_by_another_replica_only() {
    let batch: Vec<Announcement> = (0..200)
        .map(|i| Announcement {
            events: vec![deleted(i)],
            calls_due: i == 7,
            callbacks_due: false,
        })
        .collect();
    let payloads = encode(3, &batch, 1_000);
    assert!(payloads.len() > 1);
    assert!(payloads.iter().all(|p| p.len() <= 1_000));
    assert!(payloads.iter().all(|p| decode(3, p).is_none()));
    let read: Vec<Announcement> = payloads
        .iter()
        .filter_map(|p| decode(4, p))
        .map(|r| r.announcement)
        .collect();
    assert!(read[0].calls_due && !read[0].callbacks_due);
    let sids: Vec<String> = read
        .iter()
        .flat_map(|a| &a.events)
        .filter_map(|e| e.account_sid().map(ToString::to_string))
        .collect();
    let expected: Vec<String> = (0..200).map(|i| format!("AC{i:032x}")).collect();
    assert_eq!(sids, expected);
}

#[test]
fn a_wake_up_alone_is_one_payload_and_nothing_is_none() {
    let wake = Announcement {
        events: Vec::new(),
        calls_due: false,
        callbacks_due: true,
    };
    let payloads = encode(1, &[wake], 7_900);
    assert_eq!(payloads.len(), 1);
    let read = decode(2, &payloads[0]).expect("read").announcement;
    assert!(read.callbacks_due && read.events.is_empty());
    assert!(encode(1, &[Announcement::default()], 7_900).is_empty());
    assert!(decode(2, "not json").is_none());
}

#[test]
fn a_journalled_request_keeps_its_error_code_and_one_without_it_reads_as_none() {
    let event = |error_code| Event::RequestJournalled {
        account_sid: None,
        request_id: RequestSid::next(),
        method: "GET".to_string(),
        path: "/2010-04-01/Accounts".to_string(),
        status: 404,
        error_code,
    };
    let codes = |text: &str| -> Vec<Option<u32>> {
        let payload: Payload = serde_json::from_str(text).expect("payload");
        payload
            .e
            .into_iter()
            .map(|w| match w.parse().expect("event") {
                Event::RequestJournalled { error_code, .. } => error_code,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let payload = Payload {
        r: 1,
        c: false,
        b: false,
        e: vec![Wire::of(&event(Some(20404))), Wire::of(&event(None))],
        l: None,
        a: Vec::new(),
    };
    let text = serde_json::to_string(&payload).expect("text");
    assert_eq!(codes(&text), [Some(20404), None]);
    // What a replica without error codes sends.
    let older = r#"{"r":2,"e":[{"t":"request_journalled","account_sid":null,
        "request_id":"RQ00000000000000000000000000000001","method":"GET","path":"/","status":200}]}"#;
    assert_eq!(codes(older), [None]);
}

#[test]
fn news_of_readers_and_acknowledgements_read_back() {
    let text = listening(5, Some(true), Vec::new());
    let read = decode(6, &text).expect("read");
    assert_eq!((read.from, read.listening), (5, Some(true)));
    assert!(read.acks.is_empty() && read.announcement.events.is_empty());
    let ack = decode(5, &listening(6, None, vec![5, 9])).expect("read");
    assert_eq!((ack.from, ack.listening, ack.acks), (6, None, vec![5, 9]));
    assert!(!ack.announcement.calls_due && !ack.announcement.callbacks_due);
}
