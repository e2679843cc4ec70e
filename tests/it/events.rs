//! The typed change events the service publishes once each change is committed, and the one
//! race the store reports rather than decides: a number verified while its call was under way.

use std::time::Duration;

use callerid_emulator::domain::call::{CallStatus, EventKind, VerificationStatus};
use callerid_emulator::domain::event::Event;
use reqwest::StatusCode;

use crate::helpers::*;

/// Every event published until `until` says stop (at most 10 s).
async fn collect(
    events: &mut callerid_emulator::service::events::Subscription,
    until: impl Fn(&Event) -> bool,
) -> Vec<Event> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(Ok(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        let done = until(&event);
        seen.push(event);
        if done {
            break;
        }
    }
    seen
}

fn steps(events: &[Event]) -> Vec<(String, &'static str)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CallStep(step) => Some((step.call_sid.to_string(), step.kind.as_str())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_verification_publishes_its_steps_its_caller_id_and_its_callback() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let mut events = app.state.service.events().subscribe();
    let created = create(
        &app,
        &[
            ("PhoneNumber", "+14155550170"),
            ("StatusCallback", &receiver.url),
        ],
    )
    .await;
    let call = call_sid(&created);
    let seen = collect(&mut events, |e| {
        matches!(e, Event::CallbackAttempted { .. })
    })
    .await;
    let kinds: Vec<&str> = steps(&seen)
        .into_iter()
        .filter(|(sid, _)| *sid == call)
        .map(|(_, kind)| kind)
        .collect();
    assert_eq!(kinds, ["queued", "ringing", "in-progress", "completed"]);
    let created_id = seen.iter().find_map(|e| match e {
        Event::CallerIdCreated(row) => Some(row.clone()),
        _ => None,
    });
    let row = created_id.expect("a CallerIdCreated event");
    assert_eq!(row.phone_number.as_str(), "+14155550170");
    assert_eq!(row.account_sid.as_str(), SID);
    let last_step = seen.iter().rev().find_map(|e| match e {
        Event::CallStep(step) => Some(step.clone()),
        _ => None,
    });
    let last_step = last_step.expect("a step");
    assert_eq!(last_step.status, CallStatus::Completed);
    assert_eq!(
        last_step.verification_status,
        Some(VerificationStatus::Success)
    );
    match seen.last() {
        Some(Event::CallbackAttempted {
            call_sid, state, ..
        }) => {
            assert_eq!(call_sid.as_str(), call);
            assert_eq!(state.as_str(), "delivered");
        }
        other => panic!("the last event should be the callback attempt, not {other:?}"),
    }
    // The request itself: an event on a shared store (it must reach the other replicas);
    // otherwise the stream reads it from this process's request journal
    // (tests/it/event_stream.rs), and it is not an event of its own.
    let journalled = seen.iter().any(
        |e| matches!(e, Event::RequestJournalled { method, status: 200, .. } if method == "POST"),
    );
    assert_eq!(journalled, !app.state.journal.feeds_events());
}

#[tokio::test]
async fn renames_deletes_and_digits_are_published() {
    let app = TestApp::spawn().await;
    let seeded = seed_in(&app, SID, "+14155550171", Some("before")).await;
    let sid = sid_of(&seeded);
    let mut events = app.state.service.events().subscribe();
    let url = format!("/OutgoingCallerIds/{sid}.json");
    let renamed =
        send(own(&app, &dev(), reqwest::Method::POST, &url).form(&[("FriendlyName", "after")]))
            .await;
    assert_eq!(renamed.status, StatusCode::OK);
    let deleted = send(own(&app, &dev(), reqwest::Method::DELETE, &url)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let seen = collect(&mut events, |e| matches!(e, Event::CallerIdDeleted { .. })).await;
    let renamed_to = seen.iter().find_map(|e| match e {
        Event::CallerIdRenamed(row) => Some(row.friendly_name.to_string()),
        _ => None,
    });
    assert_eq!(renamed_to.as_deref(), Some("after"));
    assert!(matches!(
        seen.last(),
        Some(Event::CallerIdDeleted { sid: gone, .. }) if gone.as_str() == sid
    ));

    set_behavior(&app, SID, "+14155550172", "manual").await;
    let call = call_sid(&create(&app, &[("PhoneNumber", "+14155550172")]).await);
    wait_status(&app, &call, "in-progress").await;
    let keyed = post_digits(&app, &call, "000000").await;
    assert_eq!(keyed.status(), StatusCode::OK);
    let seen = collect(
        &mut events,
        |e| matches!(e, Event::CallStep(s) if s.kind == EventKind::Status(CallStatus::Completed)),
    )
    .await;
    let kinds: Vec<&str> = steps(&seen)
        .into_iter()
        .filter(|(sid, _)| *sid == call)
        .map(|(_, kind)| kind)
        .collect();
    assert!(
        kinds.ends_with(&["digits", "completed"]),
        "digits then the end of the call: {kinds:?}"
    );
}

#[tokio::test]
async fn a_number_verified_while_its_call_waits_for_digits_ends_as_a_failed_verification() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let phone = "+14155550173";
    set_behavior(&app, SID, phone, "manual").await;
    let created = create(
        &app,
        &[("PhoneNumber", phone), ("StatusCallback", &receiver.url)],
    )
    .await;
    let call = call_sid(&created);
    let code = created["validation_code"]
        .as_str()
        .expect("code")
        .to_string();
    wait_status(&app, &call, "in-progress").await;
    // Meanwhile the number is verified through the control API.
    let fixture = seed_in(&app, SID, phone, Some("fixture")).await;
    assert_eq!(
        post_digits(&app, &call, &code).await.status(),
        StatusCode::OK
    );
    let view = app.wait_call_ended(&call).await;
    assert_eq!(view["status"], "completed");
    assert_eq!(view["verification_status"], "failed");
    assert!(view["outgoing_caller_id_sid"].is_null(), "{view}");
    let last = view["timeline"]
        .as_array()
        .and_then(|t| t.last())
        .expect("timeline")
        .clone();
    assert!(
        last["note"]
            .as_str()
            .is_some_and(|n| n.contains("already verified on this account")),
        "{last}"
    );
    // The fixture is the number's only caller ID, and the callback says the verification failed.
    let listed = caller_ids(&app, &dev()).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["sid"], fixture["sid"]);
    let callback = receiver.wait_for(1).await;
    assert_eq!(
        callback[0].param("VerificationStatus").as_deref(),
        Some("failed")
    );
    assert_eq!(callback[0].param("OutgoingCallerIdSid"), None);
}
