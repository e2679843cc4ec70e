//! The Twilio API's errors (Issue 2), in JSON and XML: unknown routes and sids (404), other
//! methods (405), bad input (400) and bodies over the limit (413).

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};

use crate::helpers::*;

#[tokio::test]
async fn unknown_routes_and_sids_are_404() {
    let app = TestApp::spawn().await;
    let sid = sid_of(&seed_in(&app, SID, "+14158675309", None).await);
    let cases = [
        path_of(SID, "/Nope.json"),
        path_of(SID, "/IncomingPhoneNumbers.json"),
        path_of(SID, &format!("/OutgoingCallerIds/{sid}/Extra.json")),
        "/2010-04-01/Nope.json".to_string(),
        // Bad sid formats.
        path_of(SID, "/OutgoingCallerIds/PNxyz.json"),
        path_of(
            SID,
            "/OutgoingCallerIds/PN0123456789abcdef0123456789abcdeg.json",
        ),
        path_of(
            SID,
            "/OutgoingCallerIds/CA0123456789abcdef0123456789abcdef.json",
        ),
        path_of(SID, "/OutgoingCallerIds/+14158675309.json"),
        // Well formed, but nobody's.
        path_of(
            SID,
            "/OutgoingCallerIds/PN0123456789abcdef0123456789abcdef.json",
        ),
    ];
    for path in &cases {
        let reply = send(call(&app, &dev(), Method::GET, path)).await;
        let message = json_error(&reply, 404, 20404);
        assert_eq!(
            message,
            format!("The requested resource {path} was not found")
        );
    }
    // Without a suffix the error is XML.
    for path in [
        path_of(SID, "/Nope"),
        path_of(SID, "/OutgoingCallerIds/PNxyz"),
        path_of(SID, "/OutgoingCallerIds/PN0123456789abcdef0123456789abcdef"),
        path_of(
            SID,
            "/OutgoingCallerIds/PN0123456789abcdef0123456789abcdef.xml",
        ),
        // Only .json, .xml and .csv are served; anything else is not JSON, so the error is XML.
        path_of(SID, "/OutgoingCallerIds.html"),
        path_of(SID, &format!("/OutgoingCallerIds/{sid}.html")),
    ] {
        let reply = send(call(&app, &dev(), Method::GET, &path)).await;
        assert_eq!(
            xml_error(&reply, 404, 20404),
            format!("The requested resource {path} was not found")
        );
    }
    // Update and delete of an unknown sid are 404 as well.
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let reply = send(
            own(
                &app,
                &dev(),
                method,
                "/OutgoingCallerIds/PN0123456789abcdef0123456789abcdef.json",
            )
            .form(&[("FriendlyName", "x")]),
        )
        .await;
        json_error(&reply, 404, 20404);
    }
}

#[tokio::test]
async fn other_methods_are_405() {
    let app = TestApp::spawn().await;
    let sid = sid_of(&seed_in(&app, SID, "+14158675309", None).await);
    let patch = Method::from_bytes(b"PATCH").expect("method");
    let cases = [
        (Method::PUT, "/OutgoingCallerIds".to_string()),
        (Method::DELETE, "/OutgoingCallerIds".to_string()),
        (patch.clone(), "/OutgoingCallerIds".to_string()),
        (patch, format!("/OutgoingCallerIds/{sid}")),
    ];
    for (method, rest) in &cases {
        let reply = send(own(&app, &dev(), method.clone(), &format!("{rest}.json"))).await;
        assert_eq!(
            json_error(&reply, 405, 20004),
            "Method not allowed",
            "{method} {rest}"
        );
        let reply = send(own(&app, &dev(), method.clone(), rest)).await;
        assert_eq!(
            xml_error(&reply, 405, 20004),
            "Method not allowed",
            "{method} {rest}"
        );
        let reply = send(own(&app, &dev(), method.clone(), &format!("{rest}.xml"))).await;
        xml_error(&reply, 405, 20004);
    }
    // The caller ID survived the DELETE on the list.
    let list = list_page(&app, &dev(), &path_of(SID, "/OutgoingCallerIds.json")).await;
    assert_eq!(sids(&list), vec![sid]);
}

#[tokio::test]
async fn update_rejects_bad_friendly_names() {
    let app = TestApp::spawn().await;
    let seeded = seed_in(&app, SID, "+14158675309", Some("Before")).await;
    let sid = sid_of(&seeded);
    let path = format!("/OutgoingCallerIds/{sid}.json");
    let name65 = "x".repeat(65);
    for name in ["", name65.as_str()] {
        let reply =
            send(own(&app, &dev(), Method::POST, &path).form(&[("FriendlyName", name)])).await;
        let message = json_error(&reply, 400, 20001);
        assert!(message.contains("FriendlyName"), "{message}");
        let reply = send(
            own(
                &app,
                &dev(),
                Method::PUT,
                &format!("/OutgoingCallerIds/{sid}"),
            )
            .form(&[("FriendlyName", name)]),
        )
        .await;
        xml_error(&reply, 400, 20001);
    }
    // Repeated parameters and bad UTF-8 are refused, not guessed at.
    let reply = send(raw_form(
        own(&app, &dev(), Method::POST, &path),
        "FriendlyName=A&FriendlyName=B",
    ))
    .await;
    let message = json_error(&reply, 400, 20001);
    assert!(message.contains("FriendlyName"), "{message}");
    let reply = send(raw_form(
        own(&app, &dev(), Method::POST, &path),
        "FriendlyName=%FF",
    ))
    .await;
    let message = json_error(&reply, 400, 20001);
    assert!(message.contains("UTF-8"), "{message}");
    let reply = send(raw_form(
        own(
            &app,
            &dev(),
            Method::POST,
            &format!("/OutgoingCallerIds/{sid}"),
        ),
        "FriendlyName=%FF%FE",
    ))
    .await;
    xml_error(&reply, 400, 20001);
    // Raw (not percent-encoded) invalid UTF-8 in the body.
    let reply = send(
        own(&app, &dev(), Method::POST, &path)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(vec![
                b'F', b'r', b'i', b'e', b'n', b'd', b'l', b'y', b'N', b'a', b'm', b'e', b'=', 0xff,
                0xfe,
            ]),
    )
    .await;
    json_error(&reply, 400, 20001);
    // A body that is not a form.
    let reply = send(
        own(&app, &dev(), Method::POST, &path)
            .header(CONTENT_TYPE, "application/json")
            .body(r#"{"FriendlyName": "JSON"}"#),
    )
    .await;
    json_error(&reply, 400, 20001);

    let now = send(own(&app, &dev(), Method::GET, &path)).await.json();
    assert_eq!(now, seeded, "refused updates change nothing");
}

#[tokio::test]
async fn list_rejects_bad_paging_parameters() {
    let app = TestApp::spawn().await;
    let _ = seed_in(&app, SID, "+14158675309", None).await;
    let base = path_of(SID, "/OutgoingCallerIds.json");
    for query in [
        "PageSize=0",
        "PageSize=-5",
        "PageSize=abc",
        "PageSize=1.5",
        "Page=abc",
        "Page=-1",
        "PageSize=1&PageSize=2",
        "FriendlyName=a&FriendlyName=b",
        "FriendlyName=%FF",
    ] {
        let reply = send(call(&app, &dev(), Method::GET, &format!("{base}?{query}"))).await;
        json_error(&reply, 400, 20001);
    }
    let reply = send(call(&app, &dev(), Method::GET, &format!("{base}?Page=2"))).await;
    assert_eq!(
        json_error(&reply, 400, 20001),
        "PageToken is required for paging."
    );
    for token in [
        "garbage",
        "PA",
        "PAPNxyz",
        "PXPN0123456789abcdef0123456789abcdef",
        "PACA0123456789abcdef0123456789abcdef",
    ] {
        let reply = send(call(
            &app,
            &dev(),
            Method::GET,
            &format!("{base}?Page=1&PageToken={token}"),
        ))
        .await;
        json_error(&reply, 400, 21481);
    }
    // The same in XML without a suffix.
    let xml = path_of(SID, "/OutgoingCallerIds");
    let reply = send(call(
        &app,
        &dev(),
        Method::GET,
        &format!("{xml}?PageSize=0"),
    ))
    .await;
    xml_error(&reply, 400, 20001);
    let reply = send(call(
        &app,
        &dev(),
        Method::GET,
        &format!("{xml}?PageToken=bad"),
    ))
    .await;
    xml_error(&reply, 400, 21481);
    // Page=0 without a token is just the first page.
    let page = list_page(&app, &dev(), &format!("{base}?Page=0&PageSize=10")).await;
    assert_eq!(page["page"], 0);
}

#[tokio::test]
async fn huge_bodies_are_413_with_a_twilio_body() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 1024).await;
    let sid = sid_of(&seed_in(&app, SID, "+14158675309", Some("Before")).await);
    let big = format!("FriendlyName={}", "x".repeat(4096));
    for (suffix, xml) in [(".json", false), ("", true), (".xml", true)] {
        let reply = send(
            own(
                &app,
                &dev(),
                Method::POST,
                &format!("/OutgoingCallerIds/{sid}{suffix}"),
            )
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(big.clone()),
        )
        .await;
        if xml {
            xml_error(&reply, 413, 20001);
        } else {
            let message = json_error(&reply, 413, 20001);
            assert!(message.contains("1024"), "{message}");
        }
    }
    // Under the limit is fine.
    let reply = send(
        own(
            &app,
            &dev(),
            Method::POST,
            &format!("/OutgoingCallerIds/{sid}.json"),
        )
        .form(&[("FriendlyName", "After")]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["friendly_name"], "After");
    // The server is still healthy.
    let reply = send(app.client.get(app.url("/_emulator/health"))).await;
    assert_eq!(reply.status, StatusCode::OK);
}
