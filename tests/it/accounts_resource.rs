//! Issue 13: the Accounts resource, `/2010-04-01/Accounts` and `/2010-04-01/Accounts/{Sid}`,
//! in JSON and XML: creating a subaccount, its fields, the family list with its filters and
//! paging, updates, and who may do what.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

const ACCOUNTS: &str = "/2010-04-01/Accounts.json";

fn account_path(sid: &str) -> String {
    format!("/2010-04-01/Accounts/{sid}.json")
}

#[tokio::test]
async fn a_subaccount_has_every_field_of_twilios_schema_and_its_own_token() {
    let app = TestApp::spawn().await;
    let (sub, v) = new_subaccount(&app, &dev(), Some("Customer 1")).await;
    assert_eq!(
        keys(&v),
        set(&[
            "auth_token",
            "date_created",
            "date_updated",
            "friendly_name",
            "owner_account_sid",
            "sid",
            "status",
            "subresource_uris",
            "type",
            "uri"
        ])
    );
    assert!(is_sid(&sub.sid, "AC"));
    assert_eq!(sub.token.len(), 32);
    assert_ne!(sub.token, TOKEN);
    assert_eq!(v["friendly_name"], "Customer 1");
    assert_eq!(v["owner_account_sid"], SID);
    assert_eq!(v["status"], "active");
    assert_eq!(v["type"], "Full");
    assert_eq!(v["uri"], format!("/2010-04-01/Accounts/{}.json", sub.sid));
    assert_eq!(
        v["subresource_uris"]["outgoing_caller_ids"],
        format!("/2010-04-01/Accounts/{}/OutgoingCallerIds.json", sub.sid)
    );
    assert!(rfc2822(v["date_created"].as_str().expect("date")) > 1_700_000_000);
    assert_eq!(v["date_updated"], v["date_created"]);
    // The subaccount's own credentials work on its own account.
    assert!(caller_ids(&app, &sub).await.is_empty());
    // The parent is its own owner.
    let (status, me) = status_json(call(&app, &dev(), Method::GET, &account_path(SID))).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["owner_account_sid"], SID);
    assert_eq!(me["auth_token"], TOKEN);
}

#[tokio::test]
async fn the_default_name_is_twilios_with_the_creation_time() {
    let app = TestApp::spawn().await;
    let (_, v) = new_subaccount(&app, &dev(), None).await;
    let name = v["friendly_name"].as_str().expect("name");
    // `SubAccount Created at YYYY-MM-DD HH:MM am|pm`.
    let rest = name
        .strip_prefix("SubAccount Created at ")
        .unwrap_or_else(|| panic!("{name}"));
    let bytes = rest.as_bytes();
    assert_eq!(rest.len(), 19, "{name}");
    assert!(bytes[4] == b'-' && bytes[7] == b'-' && bytes[10] == b' ' && bytes[13] == b':');
    assert!(rest.ends_with(" am") || rest.ends_with(" pm"), "{name}");
}

#[tokio::test]
async fn the_list_is_the_account_and_its_subaccounts_filtered_and_paged() {
    let app = TestApp::spawn().await;
    let (a, _) = new_subaccount(&app, &dev(), Some("alpha")).await;
    let (b, _) = new_subaccount(&app, &dev(), Some("beta")).await;
    let (c, _) = new_subaccount(&app, &dev(), Some("alpha")).await;
    // Another main account's subaccounts are not in the list.
    let other = new_account(&app).await;
    new_subaccount(&app, &other, Some("alpha")).await;
    set_status(&app, &dev(), &b.sid, "suspended").await;

    let page = list_of(&app, &dev(), ACCOUNTS, "accounts").await;
    let mut expected = vec![SID.to_string(), a.sid.clone(), b.sid.clone(), c.sid.clone()];
    expected.sort();
    assert_eq!(sids_in(&page, "accounts"), expected);
    assert_eq!(page["uri"], "/2010-04-01/Accounts.json?PageSize=50&Page=0");

    let named = list_of(
        &app,
        &dev(),
        &format!("{ACCOUNTS}?FriendlyName=alpha"),
        "accounts",
    )
    .await;
    assert_eq!(
        sids_in(&named, "accounts"),
        vec![a.sid.clone(), c.sid.clone()]
    );
    let suspended = list_of(
        &app,
        &dev(),
        &format!("{ACCOUNTS}?Status=suspended"),
        "accounts",
    )
    .await;
    assert_eq!(suspended["accounts"][0]["sid"], b.sid.as_str());
    assert_eq!(suspended["accounts"].as_array().map(Vec::len), Some(1));
    let bad = send(call(
        &app,
        &dev(),
        Method::GET,
        &format!("{ACCOUNTS}?Status=gone"),
    ))
    .await;
    json_error(&bad, 400, 20001);

    // PageSize=1 walks the four accounts forwards and back.
    let mut seen = Vec::new();
    let mut next = Some(format!("{ACCOUNTS}?PageSize=1"));
    let mut last = Value::Null;
    while let Some(uri) = next {
        last = list_of(&app, &dev(), &uri, "accounts").await;
        seen.push(
            last["accounts"][0]["sid"]
                .as_str()
                .expect("sid")
                .to_string(),
        );
        next = last["next_page_uri"].as_str().map(String::from);
    }
    assert_eq!(seen, expected);
    let back = list_of(
        &app,
        &dev(),
        last["previous_page_uri"].as_str().expect("previous"),
        "accounts",
    )
    .await;
    assert_eq!(back["accounts"][0]["sid"], expected[2].as_str());
    assert_eq!(back["page"], 2);
    let token = send(call(
        &app,
        &dev(),
        Method::GET,
        &format!("{ACCOUNTS}?PageToken=PAPN1"),
    ))
    .await;
    json_error(&token, 400, 21481);

    // A subaccount lists itself alone.
    let own_list = list_of(&app, &a, ACCOUNTS, "accounts").await;
    assert_eq!(own_list["accounts"].as_array().map(Vec::len), Some(1));
    assert_eq!(own_list["accounts"][0]["sid"], a.sid.as_str());
}

#[tokio::test]
async fn accounts_answer_in_xml_without_a_suffix() {
    let app = TestApp::spawn().await;
    let (sub, _) = new_subaccount(&app, &dev(), Some("X & Y")).await;
    let reply = send(call(
        &app,
        &dev(),
        Method::GET,
        &format!("/2010-04-01/Accounts/{}", sub.sid),
    ))
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/xml");
    assert!(
        reply
            .body
            .starts_with(&format!("{XML_DECL}<TwilioResponse><Account><AuthToken>")),
        "{}",
        reply.body
    );
    assert!(
        reply
            .body
            .contains("<FriendlyName>X &amp; Y</FriendlyName>"),
        "{}",
        reply.body
    );
    assert!(reply
        .body
        .contains(&format!("<OwnerAccountSid>{SID}</OwnerAccountSid>")));
    assert!(reply
        .body
        .contains(&format!("<Uri>/2010-04-01/Accounts/{}</Uri>", sub.sid)));
    let list = send(call(&app, &dev(), Method::GET, "/2010-04-01/Accounts")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body
            .contains("<TwilioResponse><Accounts page=\"0\" pagesize=\"50\""),
        "{}",
        list.body
    );
    assert_eq!(list.body.matches("<Account>").count(), 2);
    // Errors follow the suffix too.
    let err = send(call(
        &app,
        &sub,
        Method::GET,
        &format!("/2010-04-01/Accounts/{SID}"),
    ))
    .await;
    xml_error(&err, 401, 20003);
}

#[tokio::test]
async fn updates_rename_and_change_status_as_the_parent_only() {
    let app = TestApp::spawn().await;
    let (sub, created) = new_subaccount(&app, &dev(), Some("before")).await;
    let renamed = update_account(&app, &sub, &sub.sid, &[("FriendlyName", "after")]).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.json()["friendly_name"], "after");
    assert_eq!(renamed.json()["date_created"], created["date_created"]);
    let too_long = "x".repeat(65);
    let refused = update_account(&app, &dev(), &sub.sid, &[("FriendlyName", &too_long)]).await;
    json_error(&refused, 400, 20001);
    let bad = update_account(&app, &dev(), &sub.sid, &[("Status", "paused")]).await;
    json_error(&bad, 400, 20001);
    // A subaccount cannot change its own status, nor a main account its own.
    let own_status = update_account(&app, &sub, &sub.sid, &[("Status", "suspended")]).await;
    json_error(&own_status, 400, 21100);
    let main_status = update_account(&app, &dev(), SID, &[("Status", "suspended")]).await;
    json_error(&main_status, 400, 21100);
    set_status(&app, &dev(), &sub.sid, "suspended").await;
    set_status(&app, &dev(), &sub.sid, "active").await;
    // Methods the resource does not have.
    for method in [Method::PUT, Method::DELETE] {
        let reply = send(call(&app, &dev(), method.clone(), &account_path(&sub.sid))).await;
        json_error(&reply, 405, 20004);
        let reply = send(call(&app, &dev(), method, ACCOUNTS)).await;
        json_error(&reply, 405, 20004);
    }
    // Unknown and malformed sids: nobody's, so credentials do not reach them.
    let unknown = send(call(
        &app,
        &dev(),
        Method::GET,
        &account_path("AC0123456789abcdef0123456789abcdef"),
    ))
    .await;
    json_error(&unknown, 401, 20003);
}

#[tokio::test]
async fn subaccounts_cannot_create_subaccounts() {
    let app = TestApp::spawn().await;
    let (sub, _) = new_subaccount(&app, &dev(), None).await;
    let reply = send(call(&app, &sub, Method::POST, ACCOUNTS)).await;
    json_error(&reply, 403, 21100);
}

#[tokio::test]
async fn standard_keys_do_not_reach_accounts_main_keys_do() {
    let app = TestApp::spawn().await;
    let (standard, _) = new_api_key(&app, &dev(), Some("std")).await;
    for path in [ACCOUNTS.to_string(), account_path(SID)] {
        json_error(
            &send(call(&app, &standard, Method::GET, &path)).await,
            401,
            20003,
        );
    }
    let refused = send(call(&app, &standard, Method::POST, ACCOUNTS)).await;
    json_error(&refused, 401, 20003);
    let main = new_main_key(&app, SID).await;
    let listed = list_of(&app, &main, ACCOUNTS, "accounts").await;
    assert_eq!(listed["accounts"][0]["sid"], SID);
    let created =
        send(call(&app, &main, Method::POST, ACCOUNTS).form(&[("FriendlyName", "by key")])).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["owner_account_sid"], SID);
}
