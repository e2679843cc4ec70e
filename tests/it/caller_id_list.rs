//! The OutgoingCallerIds list (Issue 2): its JSON and XML envelopes, the PhoneNumber and
//! FriendlyName filters, and the PageSize limit.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn list_json_envelope() {
    let app = TestApp::spawn().await;
    let base = path_of(SID, "/OutgoingCallerIds.json");

    let empty = list_page(&app, &dev(), &base).await;
    assert_eq!(
        empty,
        json!({
            "end": 0,
            "first_page_uri": format!("{base}?PageSize=50&Page=0"),
            "next_page_uri": null,
            "outgoing_caller_ids": [],
            "page": 0,
            "page_size": 50,
            "previous_page_uri": null,
            "start": 0,
            "uri": format!("{base}?PageSize=50&Page=0"),
        })
    );

    let a = seed_in(&app, SID, "+14158675309", None).await;
    let b = seed_in(&app, SID, "+442071838750", Some("London")).await;
    let list = list_page(&app, &dev(), &base).await;
    assert_eq!(list["outgoing_caller_ids"], json!([a, b]));
    assert_eq!(list["start"], 0);
    assert_eq!(list["end"], 1);
    assert_eq!(list["page"], 0);
    assert_eq!(list["page_size"], 50);
    assert_eq!(list["next_page_uri"], Value::Null);
    assert_eq!(list["previous_page_uri"], Value::Null);
    assert_eq!(list["uri"], format!("{base}?PageSize=50&Page=0"));
    for item in list["outgoing_caller_ids"].as_array().expect("items") {
        let name = item["friendly_name"].as_str().expect("name");
        let phone = item["phone_number"].as_str().expect("phone");
        assert_caller_id_json(item, SID, phone, name);
    }
    // Default names: formatted for +1, E.164 elsewhere.
    let non_us = seed_in(&app, SID, "+33142685300", None).await;
    assert_eq!(non_us["friendly_name"], "+33142685300");

    // Unknown parameters are ignored, and not echoed into the paging URIs.
    let list = list_page(&app, &dev(), &format!("{base}?Foo=bar&PageSize=2")).await;
    assert_eq!(list["uri"], format!("{base}?PageSize=2&Page=0"));
    assert_eq!(sids(&list).len(), 2);
}

#[tokio::test]
async fn list_xml_envelope() {
    let app = TestApp::spawn().await;
    let a = seed_in(&app, SID, "+14158675309", None).await;
    let b = seed_in(&app, SID, "+14155551212", Some("Office")).await;
    for suffix in ["", ".xml"] {
        let path = path_of(SID, &format!("/OutgoingCallerIds{suffix}"));
        let reply = send(call(&app, &dev(), Method::GET, &path)).await;
        let list = xml_list(&reply);
        assert_eq!(list.page, 0);
        assert_eq!(list.page_size, 50);
        assert_eq!(list.uri, format!("{path}?PageSize=50&Page=0"));
        assert_eq!(list.first_page_uri, format!("{path}?PageSize=50&Page=0"));
        assert_eq!(list.next_page_uri, "");
        assert_eq!(list.previous_page_uri, "");
        // Null links are empty attributes, not absent ones; paging attributes are lower-case.
        assert!(reply.body.contains(" nextpageuri=\"\""), "{}", reply.body);
        assert!(
            reply.body.contains(" previouspageuri=\"\""),
            "{}",
            reply.body
        );
        assert!(
            reply.body.contains("&amp;Page=0"),
            "& must be escaped: {}",
            reply.body
        );
        assert!(!reply.body.contains(".json"), "{}", reply.body);
        assert_eq!(list.items.len(), 2);
        for (item, seeded) in list.items.iter().zip([&a, &b]) {
            assert_eq!(item.sid, sid_of(seeded));
            assert_eq!(item.account_sid, SID);
            assert_eq!(
                item.friendly_name,
                seeded["friendly_name"].as_str().expect("n")
            );
            assert_eq!(
                item.phone_number,
                seeded["phone_number"].as_str().expect("p")
            );
            assert_eq!(
                item.date_created,
                seeded["date_created"].as_str().expect("d")
            );
            assert_eq!(
                item.date_updated,
                seeded["date_updated"].as_str().expect("d")
            );
            assert_eq!(
                item.uri,
                format!("/2010-04-01/Accounts/{SID}/OutgoingCallerIds/{}", item.sid)
            );
        }
    }
    // An empty XML list still carries its attributes.
    let other = new_account(&app).await;
    let reply = send(own(&app, &other, Method::GET, "/OutgoingCallerIds")).await;
    let list = xml_list(&reply);
    assert!(list.items.is_empty());
    assert_eq!(list.next_page_uri, "");
}

#[tokio::test]
async fn list_filters_phone_number_and_friendly_name() {
    let app = TestApp::spawn().await;
    let target = seed_in(&app, SID, "+14158675309", Some("Office")).await;
    let _ = seed_in(&app, SID, "+14155551212", Some("office")).await;
    let _ = seed_in(&app, SID, "+14155551213", Some("Office 2")).await;
    let other = seed_in(&app, SID, "+14155551214", Some("Office")).await;
    let base = path_of(SID, "/OutgoingCallerIds.json");
    let target_sid = sid_of(&target);

    // E.164, echoed (encoded) into the paging URIs.
    let page = list_page(&app, &dev(), &format!("{base}?PhoneNumber=%2B14158675309")).await;
    assert_eq!(sids(&page), vec![target_sid.clone()]);
    assert_eq!(
        page["uri"],
        format!("{base}?PhoneNumber=%2B14158675309&PageSize=50&Page=0")
    );
    assert_eq!(page["first_page_uri"], page["uri"]);

    // Unformatted forms match their E.164 number.
    for raw in [
        "(415) 867-5309",
        "415-867-5309",
        "4158675309",
        "+1 415 867 5309",
    ] {
        let url =
            reqwest::Url::parse_with_params(&app.url(&base), &[("PhoneNumber", raw)]).expect("url");
        let reply = send(app.client.get(url).basic_auth(SID, Some(TOKEN))).await;
        assert_eq!(reply.status, StatusCode::OK, "{raw}: {}", reply.body);
        assert_eq!(sids(&reply.json()), vec![target_sid.clone()], "{raw}");
    }
    // A number nobody has, or no number at all, matches nothing.
    for raw in ["%2B14155559999", "not-a-number"] {
        let page = list_page(&app, &dev(), &format!("{base}?PhoneNumber={raw}")).await;
        assert!(sids(&page).is_empty(), "{raw}");
        assert_eq!(page["next_page_uri"], Value::Null);
    }

    // FriendlyName: exact and case-sensitive.
    let page = list_page(&app, &dev(), &format!("{base}?FriendlyName=Office")).await;
    assert_eq!(sids(&page), vec![target_sid.clone(), sid_of(&other)]);
    for miss in ["OFFICE", "Offic", "Office+", "Office%20"] {
        let page = list_page(&app, &dev(), &format!("{base}?FriendlyName={miss}")).await;
        let names: Vec<Value> = page["outgoing_caller_ids"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["friendly_name"].clone())
            .collect();
        assert!(names.is_empty(), "{miss}: {names:?}");
    }
    let page = list_page(&app, &dev(), &format!("{base}?FriendlyName=office")).await;
    assert_eq!(page["outgoing_caller_ids"][0]["friendly_name"], "office");
    assert_eq!(sids(&page).len(), 1);
    let page = list_page(&app, &dev(), &format!("{base}?FriendlyName=Office+2")).await;
    assert_eq!(page["outgoing_caller_ids"][0]["friendly_name"], "Office 2");
    assert_eq!(
        page["uri"],
        format!("{base}?FriendlyName=Office+2&PageSize=50&Page=0")
    );

    // Both filters together.
    let page = list_page(
        &app,
        &dev(),
        &format!("{base}?FriendlyName=Office&PhoneNumber=%2B14155551214"),
    )
    .await;
    assert_eq!(sids(&page), vec![sid_of(&other)]);
    assert_eq!(
        page["uri"],
        format!("{base}?FriendlyName=Office&PhoneNumber=%2B14155551214&PageSize=50&Page=0")
    );
    let page = list_page(
        &app,
        &dev(),
        &format!("{base}?FriendlyName=office&PhoneNumber=%2B14155551214"),
    )
    .await;
    assert!(sids(&page).is_empty());
}

#[tokio::test]
async fn page_size_over_1000_is_served_as_1000() {
    let app = TestApp::spawn().await;
    let _ = seed_in(&app, SID, "+14158675309", None).await;
    let base = path_of(SID, "/OutgoingCallerIds.json");
    let page = list_page(&app, &dev(), &format!("{base}?PageSize=5000")).await;
    assert_eq!(page["page_size"], 1000);
    assert_eq!(page["uri"], format!("{base}?PageSize=1000&Page=0"));
    assert_eq!(sids(&page).len(), 1);
    let page = list_page(&app, &dev(), &format!("{base}?PageSize=1000")).await;
    assert_eq!(page["page_size"], 1000);
    let page = list_page(&app, &dev(), &format!("{base}?PageSize=1")).await;
    assert_eq!(page["page_size"], 1);
}
