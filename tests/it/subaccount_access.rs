//! Issue 13: who reaches what across a parent and its subaccounts, as Twilio has it: a
//! parent's auth token reaches its subaccounts' caller IDs, validation requests and calls; a
//! subaccount's credentials never reach its parent or a sibling; caller IDs are verified per
//! account; a subaccount's StatusCallback is signed with the subaccount's own token.

use std::time::Duration;

use reqwest::Method;

use crate::helpers::*;

/// A validation request on `account`'s path, sent with `who`'s credentials; its JSON.
async fn verify(
    app: &TestApp,
    who: &Account,
    account: &str,
    form: &[(&str, &str)],
) -> serde_json::Value {
    let reply = send(
        call(
            app,
            who,
            Method::POST,
            &path_of(account, "/OutgoingCallerIds.json"),
        )
        .form(form),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

async fn first_caller_id(app: &TestApp, who: &Account) -> serde_json::Value {
    wait_for(Duration::from_secs(10), || async {
        caller_ids(app, who).await.into_iter().next()
    })
    .await
    .expect("caller ID verified")
}

#[tokio::test]
async fn a_parent_verifies_in_its_subaccount_and_reaches_its_calls() {
    let app = TestApp::spawn().await;
    let (sub, _) = new_subaccount(&app, &dev(), None).await;
    let created = verify(&app, &dev(), &sub.sid, &[("PhoneNumber", "+14155550111")]).await;
    assert_eq!(created["account_sid"], sub.sid.as_str());
    let listed = first_caller_id(&app, &sub).await;
    assert_eq!(listed["account_sid"], sub.sid.as_str());
    assert_eq!(listed["phone_number"], "+14155550111");
    // Not the parent's caller ID.
    assert!(caller_ids(&app, &dev()).await.is_empty());
    // The parent reads, renames and fetches the call of its subaccount.
    let sid = listed["sid"].as_str().expect("sid");
    let instance = path_of(&sub.sid, &format!("/OutgoingCallerIds/{sid}.json"));
    let renamed =
        send(call(&app, &dev(), Method::POST, &instance).form(&[("FriendlyName", "by parent")]))
            .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let call_path = path_of(&sub.sid, &format!("/Calls/{}.json", call_sid(&created)));
    let fetched = send(call(&app, &dev(), Method::GET, &call_path)).await;
    assert_eq!(fetched.status, 200, "{}", fetched.body);
    assert_eq!(fetched.json()["account_sid"], sub.sid.as_str());
    // The parent's own path does not show the subaccount's caller ID.
    let wrong_path = send(call(
        &app,
        &dev(),
        Method::GET,
        &path_of(SID, &format!("/OutgoingCallerIds/{sid}.json")),
    ))
    .await;
    json_error(&wrong_path, 404, 20404);
}

#[tokio::test]
async fn a_subaccount_never_reaches_its_parent_or_a_sibling() {
    let app = TestApp::spawn().await;
    let (a, _) = new_subaccount(&app, &dev(), None).await;
    let (b, _) = new_subaccount(&app, &dev(), None).await;
    seed_in(&app, SID, "+14155550112", None).await;
    seed_in(&app, &b.sid, "+14155550113", None).await;
    for target in [SID, b.sid.as_str()] {
        for (method, rest) in [
            (Method::GET, "/OutgoingCallerIds.json"),
            (Method::POST, "/OutgoingCallerIds.json"),
            (Method::GET, "/Keys.json"),
        ] {
            let reply = send(
                call(&app, &a, method, &path_of(target, rest))
                    .form(&[("PhoneNumber", "+14155550114")]),
            )
            .await;
            assert_eq!(json_error(&reply, 401, 20003), "Authenticate");
        }
        let account = send(call(
            &app,
            &a,
            Method::GET,
            &format!("/2010-04-01/Accounts/{target}.json"),
        ))
        .await;
        json_error(&account, 401, 20003);
    }
    // Another main account does not reach the dev account's subaccounts.
    let stranger = new_account(&app).await;
    let reply = send(call(
        &app,
        &stranger,
        Method::GET,
        &path_of(&a.sid, "/OutgoingCallerIds.json"),
    ))
    .await;
    json_error(&reply, 401, 20003);
}

#[tokio::test]
async fn caller_ids_are_verified_per_account() {
    let app = TestApp::spawn().await;
    let (sub, _) = new_subaccount(&app, &dev(), None).await;
    let number = "+14155550115";
    verify(&app, &dev(), SID, &[("PhoneNumber", number)]).await;
    first_caller_id(&app, &dev()).await;
    // Verified on the parent, not on the subaccount: the subaccount may verify it too.
    assert!(caller_ids(&app, &sub).await.is_empty());
    let again = send(
        own(&app, &dev(), Method::POST, "/OutgoingCallerIds.json").form(&[("PhoneNumber", number)]),
    )
    .await;
    json_error(&again, 400, 21450);
    verify(&app, &sub, &sub.sid, &[("PhoneNumber", number)]).await;
    let in_sub = first_caller_id(&app, &sub).await;
    assert_eq!(in_sub["phone_number"], number);
    assert_eq!(caller_ids(&app, &dev()).await.len(), 1);
}

#[tokio::test]
async fn a_subaccounts_callback_is_signed_with_its_own_token() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (sub, _) = new_subaccount(&app, &dev(), None).await;
    // Requested with the parent's credentials, signed with the subaccount's token.
    let created = verify(
        &app,
        &dev(),
        &sub.sid,
        &[
            ("PhoneNumber", "+14155550116"),
            ("StatusCallback", &receiver.url),
        ],
    )
    .await;
    let cb = wait_callback(&receiver, &call_sid(&created)).await;
    assert_eq!(cb.param("AccountSid").as_deref(), Some(sub.sid.as_str()));
    assert_signed(&cb, &receiver, &sub.token);
    let url = format!("http://{}{}", receiver.addr, cb.uri);
    assert_ne!(
        cb.header("X-Twilio-Signature"),
        Some(expected_signature(TOKEN, &url, &cb.params()))
    );
}
