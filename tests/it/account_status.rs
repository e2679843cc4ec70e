//! Issue 13: account status. A suspended account answers 401 20005 "Account not active", and
//! a suspended parent suspends its subaccounts; the parent still reaches a suspended
//! subaccount's Accounts instance (to reactivate it); a closed account keeps its row but its
//! caller IDs, calls and keys are gone, and its status never changes again (21479).

use reqwest::Method;

use crate::helpers::db::count_rows;
use crate::helpers::*;

fn caller_id_list(account: &str) -> String {
    path_of(account, "/OutgoingCallerIds.json")
}

#[tokio::test]
async fn a_suspended_subaccount_is_not_active_until_its_parent_reactivates_it() {
    let app = TestApp::spawn().await;
    let (sub, _) = new_subaccount(&app, &dev(), None).await;
    let (key, _) = new_api_key(&app, &sub, None).await;
    seed_in(&app, &sub.sid, "+14155550121", None).await;
    set_status(&app, &dev(), &sub.sid, "suspended").await;

    for who in [&sub, &key, &dev()] {
        let reply = send(call(&app, who, Method::GET, &caller_id_list(&sub.sid))).await;
        assert_eq!(json_error(&reply, 401, 20005), "Account not active");
        let post = send(
            call(&app, who, Method::POST, &caller_id_list(&sub.sid))
                .form(&[("PhoneNumber", "+14155550122")]),
        )
        .await;
        json_error(&post, 401, 20005);
    }
    let xml = send(call(
        &app,
        &sub,
        Method::GET,
        &path_of(&sub.sid, "/OutgoingCallerIds"),
    ))
    .await;
    xml_error(&xml, 401, 20005);
    // Wrong credentials are still 20003, whatever the status.
    let wrong = Account {
        sid: sub.sid.clone(),
        token: "nope".into(),
    };
    json_error(
        &send(call(&app, &wrong, Method::GET, &caller_id_list(&sub.sid))).await,
        401,
        20003,
    );
    // The parent still sees it, suspended, and brings it back.
    let (status, v) = status_json(call(
        &app,
        &dev(),
        Method::GET,
        &format!("/2010-04-01/Accounts/{}.json", sub.sid),
    ))
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "suspended");
    set_status(&app, &dev(), &sub.sid, "active").await;
    assert_eq!(caller_ids(&app, &sub).await.len(), 1);
}

#[tokio::test]
async fn a_suspended_parent_suspends_its_subaccounts() {
    let app = TestApp::spawn().await;
    let parent = new_account(&app).await;
    let (sub, _) = new_subaccount(&app, &parent, None).await;
    control_set_status(&app, &parent.sid, "suspended").await;
    for (who, account) in [
        (&parent, &parent.sid),
        (&sub, &sub.sid),
        (&parent, &sub.sid),
    ] {
        let reply = send(call(&app, who, Method::GET, &caller_id_list(account))).await;
        json_error(&reply, 401, 20005);
    }
    let accounts = send(call(&app, &sub, Method::GET, "/2010-04-01/Accounts.json")).await;
    json_error(&accounts, 401, 20005);
    control_set_status(&app, &parent.sid, "active").await;
    assert!(caller_ids(&app, &sub).await.is_empty());
}

#[tokio::test]
async fn a_closed_account_loses_its_resources_and_stays_closed() {
    let app = TestApp::spawn().await;
    let (sub, _) = new_subaccount(&app, &dev(), Some("to close")).await;
    let (key, _) = new_api_key(&app, &sub, None).await;
    seed_in(&app, &sub.sid, "+14155550123", None).await;
    let created = create_as(&app, &sub, &[("PhoneNumber", "+14155550124")]).await;
    app.wait_call_ended(&call_sid(&created)).await;
    let before = count_rows(&app, "outgoing_caller_ids").await;
    assert_eq!(before, 2);

    set_status(&app, &dev(), &sub.sid, "closed").await;
    assert_eq!(count_rows(&app, "outgoing_caller_ids").await, 0);
    assert_eq!(count_rows(&app, "calls").await, 0);
    assert_eq!(count_rows(&app, "api_keys").await, 0);
    // The key is gone; the account's own token reaches nothing.
    json_error(
        &send(call(&app, &key, Method::GET, &caller_id_list(&sub.sid))).await,
        401,
        20003,
    );
    json_error(
        &send(call(&app, &sub, Method::GET, &caller_id_list(&sub.sid))).await,
        401,
        20005,
    );
    json_error(
        &send(call(&app, &dev(), Method::GET, &caller_id_list(&sub.sid))).await,
        401,
        20005,
    );
    // It is still listed, closed, and its status is final.
    let closed = list_of(
        &app,
        &dev(),
        "/2010-04-01/Accounts.json?Status=closed",
        "accounts",
    )
    .await;
    assert_eq!(sids_in(&closed, "accounts"), vec![sub.sid.clone()]);
    for status in ["active", "suspended", "closed"] {
        let reply = update_account(&app, &dev(), &sub.sid, &[("Status", status)]).await;
        json_error(&reply, 400, 21479);
    }
    // A new name is still accepted.
    let renamed = update_account(&app, &dev(), &sub.sid, &[("FriendlyName", "closed one")]).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.json()["status"], "closed");
}

#[tokio::test]
async fn the_control_api_sets_any_status_and_checks_what_it_is_given() {
    let app = TestApp::spawn().await;
    let url = |sid: &str| app.url(&format!("/_emulator/accounts/{sid}"));
    for body in [
        serde_json::json!({ "status": "paused" }),
        serde_json::json!({}),
        serde_json::json!({ "status": "active", "extra": 1 }),
    ] {
        let reply = send(app.client().post(url(SID)).json(&body)).await;
        json_error(&reply, 400, 20001);
    }
    let unknown = send(
        app.client()
            .post(url("AC0123456789abcdef0123456789abcdef"))
            .json(&serde_json::json!({ "status": "active" })),
    )
    .await;
    json_error(&unknown, 404, 20404);
    // The listing shows the status and the owner of a subaccount.
    let (sub, _) = new_subaccount(&app, &dev(), None).await;
    control_set_status(&app, &sub.sid, "suspended").await;
    let (status, listed) = status_json(app.client().get(app.url("/_emulator/accounts"))).await;
    assert_eq!(status, 200, "{listed}");
    let row = listed["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["sid"] == sub.sid.as_str())
        .cloned()
        .expect("listed");
    assert_eq!(row["status"], "suspended");
    assert_eq!(row["owner_account_sid"], SID);
}

#[tokio::test]
async fn deleting_a_parent_deletes_its_subaccounts() {
    let app = TestApp::spawn().await;
    let parent = new_account(&app).await;
    let (sub, _) = new_subaccount(&app, &parent, None).await;
    seed_in(&app, &sub.sid, "+14155550125", None).await;
    let deleted = send(
        app.client()
            .delete(app.url(&format!("/_emulator/accounts/{}", parent.sid))),
    )
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    json_error(
        &send(call(&app, &sub, Method::GET, &caller_id_list(&sub.sid))).await,
        401,
        20003,
    );
    assert_eq!(count_rows(&app, "outgoing_caller_ids").await, 0);
}
