//! The OutgoingCallerIds resource (Issue 2), one caller ID at a time: the smoke test of a
//! validation request, fetch, update and delete in JSON and XML, and the Twilio headers on
//! every response.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn smoke_validation_request_creates_caller_id() {
    let app = TestApp::spawn().await;
    let response = app
        .post_form(
            &app.api("/OutgoingCallerIds.json"),
            &[("PhoneNumber", "+14158675309")],
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    let call = app
        .wait_call_ended(body["call_sid"].as_str().expect("call_sid"))
        .await;
    assert_eq!(call["verification_status"], "success");
    let list: serde_json::Value = app
        .get(&app.api("/OutgoingCallerIds.json"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        list["outgoing_caller_ids"][0]["phone_number"],
        "+14158675309"
    );
    assert_eq!(
        list["outgoing_caller_ids"][0]["friendly_name"],
        "(415) 867-5309"
    );
}

// ---- fetch / update / delete --------------------------------------------------------------

#[tokio::test]
async fn fetch_json_has_twilio_fields() {
    let app = TestApp::spawn().await;
    let seeded = seed_in(&app, SID, "+14158675309", None).await;
    assert_caller_id_json(&seeded, SID, "+14158675309", "(415) 867-5309");
    assert_eq!(seeded["date_created"], seeded["date_updated"]);
    let sid = sid_of(&seeded);

    let reply = send(own(
        &app,
        &dev(),
        Method::GET,
        &format!("/OutgoingCallerIds/{sid}.json"),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/json");
    let v = reply.json();
    assert_caller_id_json(&v, SID, "+14158675309", "(415) 867-5309");
    assert_eq!(v, seeded);
    // Twilio's wire separators.
    assert!(reply.body.contains("\", \""), "{}", reply.body);
    assert!(reply.body.contains("\": \""), "{}", reply.body);
}

#[tokio::test]
async fn fetch_xml_without_suffix_and_with_xml_suffix() {
    let app = TestApp::spawn().await;
    let seeded = seed_in(&app, SID, "+14155551212", Some("Home & <Office>")).await;
    let sid = sid_of(&seeded);
    for suffix in ["", ".xml"] {
        let reply = send(own(
            &app,
            &dev(),
            Method::GET,
            &format!("/OutgoingCallerIds/{sid}{suffix}"),
        ))
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.content_type(), "application/xml");
        let expected =
            caller_id_xml(&seeded).replace("Home & <Office>", "Home &amp; &lt;Office&gt;");
        assert_eq!(reply.body, expected);
        let doc: XmlCallerIdDoc = quick_xml::de::from_str(&reply.body).expect("xml");
        assert_eq!(doc.item.friendly_name, "Home & <Office>");
        assert_eq!(doc.item.sid, sid);
        assert_eq!(doc.item.account_sid, SID);
        assert_eq!(doc.item.phone_number, "+14155551212");
        rfc2822(&doc.item.date_created);
        rfc2822(&doc.item.date_updated);
        assert_eq!(
            doc.item.uri,
            format!("/2010-04-01/Accounts/{SID}/OutgoingCallerIds/{sid}")
        );
    }
    // The suffix decides, not the Accept header.
    let reply = send(
        own(
            &app,
            &dev(),
            Method::GET,
            &format!("/OutgoingCallerIds/{sid}"),
        )
        .header("accept", "application/json"),
    )
    .await;
    assert_eq!(reply.content_type(), "application/xml");
}

#[tokio::test]
async fn update_by_post_and_put_moves_date_updated() {
    let app = TestApp::spawn().await;
    let seeded = seed_in(&app, SID, "+14158675309", None).await;
    let sid = sid_of(&seeded);
    let created = rfc2822(seeded["date_created"].as_str().expect("date"));
    // Dates have a resolution of one second.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let reply = send(
        own(
            &app,
            &dev(),
            Method::POST,
            &format!("/OutgoingCallerIds/{sid}.json"),
        )
        .form(&[("FriendlyName", "Work phone"), ("UnknownParam", "ignored")]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/json");
    let updated = reply.json();
    assert_caller_id_json(&updated, SID, "+14158675309", "Work phone");
    assert_eq!(updated["sid"], sid.as_str());
    assert_eq!(updated["date_created"], seeded["date_created"]);
    let moved = rfc2822(updated["date_updated"].as_str().expect("date"));
    assert!(moved > created, "date_updated must move on update");

    // PUT works like POST, and answers in XML without a suffix.
    let reply = send(
        own(
            &app,
            &dev(),
            Method::PUT,
            &format!("/OutgoingCallerIds/{sid}"),
        )
        .form(&[("FriendlyName", "Cell – ☎")]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/xml");
    let doc: XmlCallerIdDoc = quick_xml::de::from_str(&reply.body).expect("xml");
    assert_eq!(doc.item.friendly_name, "Cell – ☎");
    assert!(!doc.item.uri.ends_with(".json"));

    // PUT with .xml too.
    let reply = send(
        own(
            &app,
            &dev(),
            Method::PUT,
            &format!("/OutgoingCallerIds/{sid}.xml"),
        )
        .form(&[("FriendlyName", "Desk")]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.contains("<FriendlyName>Desk</FriendlyName>"));

    // The change is stored.
    let fetched = send(own(
        &app,
        &dev(),
        Method::GET,
        &format!("/OutgoingCallerIds/{sid}.json"),
    ))
    .await
    .json();
    assert_eq!(fetched["friendly_name"], "Desk");
    assert!(rfc2822(fetched["date_updated"].as_str().expect("date")) >= moved);

    // 64 characters (not bytes) is the limit.
    let name64: String = "é".repeat(64);
    let reply = send(
        own(
            &app,
            &dev(),
            Method::POST,
            &format!("/OutgoingCallerIds/{sid}.json"),
        )
        .form(&[("FriendlyName", name64.as_str())]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["friendly_name"], name64.as_str());
}

#[tokio::test]
async fn delete_is_204_with_empty_body_in_both_formats() {
    let app = TestApp::spawn().await;
    for (i, suffix) in ["", ".json", ".xml"].into_iter().enumerate() {
        let seeded = seed_in(&app, SID, &phone(i), None).await;
        let sid = sid_of(&seeded);
        let path = format!("/OutgoingCallerIds/{sid}{suffix}");
        let reply = send(own(&app, &dev(), Method::DELETE, &path)).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
        assert_eq!(reply.body, "");
        // Gone: fetch, update and a second delete are 404.
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let reply = send(own(&app, &dev(), method.clone(), &path)).await;
            let full = path_of(SID, &path);
            let message = if suffix == ".json" {
                json_error(&reply, 404, 20404)
            } else {
                xml_error(&reply, 404, 20404)
            };
            assert_eq!(
                message,
                format!("The requested resource {full} was not found"),
                "{method}"
            );
        }
    }
    let list = list_page(&app, &dev(), &path_of(SID, "/OutgoingCallerIds.json")).await;
    assert_eq!(list["outgoing_caller_ids"], json!([]));
}

// ---- response headers ---------------------------------------------------------------------

#[tokio::test]
async fn twilio_response_headers_on_every_response() {
    let app = TestApp::spawn().await;
    let sid = sid_of(&seed_in(&app, SID, "+14158675309", None).await);
    let replies = [
        send(own(&app, &dev(), Method::GET, "/OutgoingCallerIds.json")).await,
        send(own(&app, &dev(), Method::GET, "/OutgoingCallerIds")).await,
        send(own(
            &app,
            &dev(),
            Method::GET,
            &format!("/OutgoingCallerIds/{sid}.xml"),
        ))
        .await,
        send(
            app.client
                .get(app.url(&path_of(SID, "/OutgoingCallerIds.json"))),
        )
        .await,
        send(own(&app, &dev(), Method::GET, "/Nope")).await,
        send(own(
            &app,
            &dev(),
            Method::DELETE,
            &format!("/OutgoingCallerIds/{sid}.json"),
        ))
        .await,
    ];
    let expected_types = [
        "application/json",
        "application/xml",
        "application/xml",
        "application/json",
        "application/xml",
        "",
    ];
    let mut ids = BTreeSet::new();
    for (reply, content_type) in replies.iter().zip(expected_types) {
        let id = reply.header("twilio-request-id");
        assert!(is_sid(&id, "RQ"), "Twilio-Request-Id {id:?}");
        ids.insert(id);
        let duration = reply.header("twilio-request-duration");
        let (secs, millis) = duration.split_once('.').expect("seconds.millis");
        assert!(
            !secs.is_empty() && secs.bytes().all(|b| b.is_ascii_digit()),
            "{duration}"
        );
        assert!(
            millis.len() == 3 && millis.bytes().all(|b| b.is_ascii_digit()),
            "{duration}"
        );
        assert_eq!(reply.header("access-control-allow-origin"), "*");
        assert_eq!(reply.content_type(), content_type, "{}", reply.body);
    }
    assert_eq!(ids.len(), replies.len(), "request ids are unique");
}
