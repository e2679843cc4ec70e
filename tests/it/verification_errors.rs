//! Issue 3: validation requests that are refused: a number already verified (21450), invalid
//! parameters (400), and many requests for one number at once, of which one wins. Refused
//! requests store nothing, which these tests check in the SQLite file itself.

use axum::http::StatusCode;
use serde_json::Value;

use crate::helpers::db::count_rows;
use crate::helpers::*;

#[tokio::test]
async fn reverifying_a_verified_number_is_21450() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let phone = "+14155550160";
    let created = create(&app, &[("PhoneNumber", phone)]).await;
    app.wait_call_ended(&call_sid(&created)).await;
    assert_eq!(caller_ids(&app, &dev()).await.len(), 1);
    assert_eq!(count_rows(&app, "calls").await, 1);

    for number in [phone, "(415) 555-0160"] {
        let (status, body) = request_as(
            &app,
            &dev(),
            &[("PhoneNumber", number), ("StatusCallback", &receiver.url)],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["code"], 21450, "{body}");
        assert_eq!(body["status"], 400);
        assert_eq!(
            body["more_info"],
            "https://www.twilio.com/docs/errors/21450"
        );
    }
    // A number seeded through the control API counts as verified too.
    seed_in(&app, SID, "+14155550161", None).await;
    let (status, body) = request_as(&app, &dev(), &[("PhoneNumber", "+14155550161")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], 21450);

    assert_eq!(count_rows(&app, "calls").await, 1, "no call was stored");
    assert_eq!(count_rows(&app, "callbacks").await, 0);
    assert_eq!(caller_ids(&app, &dev()).await.len(), 2);
    assert!(receiver.received().is_empty());
}

/// What is wrong, the form, and the Twilio error code expected.
type BadRequest<'a> = (&'a str, Vec<(&'a str, &'a str)>, u64);

#[tokio::test]
async fn invalid_requests_are_400_and_store_nothing() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let ok_cb = receiver.url.clone();
    let long_name = "n".repeat(65);
    let long_url = format!("http://127.0.0.1/{}", "a".repeat(1000));
    let long_extension = "1".repeat(33);
    let p = "+14155550170";
    let cases: Vec<BadRequest> = vec![
        ("missing PhoneNumber", vec![("FriendlyName", "x")], 20001),
        ("empty PhoneNumber", vec![("PhoneNumber", "")], 20001),
        ("invalid PhoneNumber", vec![("PhoneNumber", "abc")], 21421),
        ("short PhoneNumber", vec![("PhoneNumber", "33")], 21421),
        (
            "FriendlyName of 65",
            vec![("PhoneNumber", p), ("FriendlyName", &long_name)],
            20001,
        ),
        (
            "CallDelay 61",
            vec![("PhoneNumber", p), ("CallDelay", "61")],
            21454,
        ),
        (
            "CallDelay -1",
            vec![("PhoneNumber", p), ("CallDelay", "-1")],
            21454,
        ),
        (
            "CallDelay abc",
            vec![("PhoneNumber", p), ("CallDelay", "abc")],
            21454,
        ),
        (
            "Extension 12a",
            vec![("PhoneNumber", p), ("Extension", "12a")],
            20001,
        ),
        (
            "Extension of 33",
            vec![("PhoneNumber", p), ("Extension", &long_extension)],
            20001,
        ),
        (
            "relative StatusCallback",
            vec![("PhoneNumber", p), ("StatusCallback", "/status")],
            21456,
        ),
        (
            "ftp StatusCallback",
            vec![
                ("PhoneNumber", p),
                ("StatusCallback", "ftp://127.0.0.1/status"),
            ],
            21456,
        ),
        (
            "StatusCallback over 1000",
            vec![("PhoneNumber", p), ("StatusCallback", &long_url)],
            21456,
        ),
        (
            "StatusCallbackMethod PUT",
            vec![
                ("PhoneNumber", p),
                ("StatusCallback", &ok_cb),
                ("StatusCallbackMethod", "PUT"),
            ],
            20001,
        ),
    ];
    for (what, form, code) in &cases {
        let (status, body) = request_as(&app, &dev(), form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["code"], *code, "{what}: {body}");
        assert_eq!(body["status"], 400, "{what}: {body}");
        assert_eq!(
            body["more_info"],
            format!("https://www.twilio.com/docs/errors/{code}"),
            "{what}"
        );
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
    }
    let (_, body) = request_as(&app, &dev(), &[]).await;
    assert_eq!(
        body["message"],
        "Missing required parameter PhoneNumber in the post body"
    );
    // Also in XML when the path has no suffix.
    let response = app
        .post_form(
            &app.api("/OutgoingCallerIds"),
            &[("PhoneNumber", p), ("CallDelay", "61")],
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let xml = response.text().await.expect("text");
    assert!(xml.contains("<RestException>"), "{xml}");
    assert!(xml.contains("<Code>21454</Code>"), "{xml}");

    assert_eq!(count_rows(&app, "calls").await, 0, "no call stored");
    assert_eq!(count_rows(&app, "callbacks").await, 0);
    assert!(caller_ids(&app, &dev()).await.is_empty());
    assert!(callbacks(&app, "").await.is_empty());
    assert!(receiver.received().is_empty());
    // And the number is still free to verify.
    let created = create(
        &app,
        &[
            ("PhoneNumber", p),
            ("CallDelay", "60"),
            ("Extension", "1w2#*"),
        ],
    )
    .await;
    assert_eq!(
        app.wait_call_ended(&call_sid(&created)).await["verification_status"],
        "success"
    );
}

#[tokio::test]
async fn parallel_requests_committed_together_each_get_their_own_answer() {
    // At time scale 0 every call is settled in its request's transaction, and requests that
    // arrive together are committed together: 20 different numbers are all verified, and of
    // 20 requests for one number exactly one verifies it while the rest get 21450.
    let app = TestApp::spawn().await;
    let url = app.api("/OutgoingCallerIds.json");
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..40 {
        let phone = if n % 2 == 0 {
            format!("+1415555{:04}", 3000 + n)
        } else {
            "+14155559999".to_string()
        };
        let request = app
            .client
            .post(&url)
            .basic_auth(SID, Some(TOKEN))
            .form(&[("PhoneNumber", phone.as_str())]);
        requests.spawn(async move {
            let response = request.send().await.expect("send");
            let status = response.status();
            let body: Value = response.json().await.expect("json");
            (phone, status, body)
        });
    }
    let mut same_number = (0, 0);
    while let Some(done) = requests.join_next().await {
        let (phone, status, body) = done.expect("join");
        if phone == "+14155559999" {
            match status {
                StatusCode::OK => same_number.0 += 1,
                _ => {
                    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
                    assert_eq!(body["code"], 21450, "{body}");
                    same_number.1 += 1;
                }
            }
        } else {
            assert_eq!(status, StatusCode::OK, "{phone}: {body}");
            assert_eq!(body["phone_number"], phone.as_str());
        }
    }
    assert_eq!(same_number, (1, 19));
    let verified = caller_ids(&app, &dev()).await;
    assert_eq!(verified.len(), 21, "{verified:?}");
    assert_eq!(count_rows(&app, "calls").await, 21);
}
