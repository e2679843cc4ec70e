//! Integration tests: the real router on a real port, a real SQLite file, real HTTP.
//!
//! Issue 2: the OutgoingCallerIds resource API (fetch, update, delete, list) in JSON and XML,
//! its errors, authentication and account isolation, paging, the control API and the
//! response headers.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

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

// ---- helpers ------------------------------------------------------------------------------

const XML_DECL: &str = "<?xml version='1.0' encoding='UTF-8'?>\n";
const AUTH_DETAIL: &str = "Your AccountSid or AuthToken was incorrect.";

/// A response read in full.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header").to_string())
            .unwrap_or_default()
    }

    fn content_type(&self) -> String {
        self.header("content-type")
    }
}

async fn send(request: RequestBuilder) -> Reply {
    let response = request.send().await.expect("send");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    Reply {
        status,
        headers,
        body,
    }
}

/// An account and its credentials.
#[derive(Clone)]
struct Acct {
    sid: String,
    token: String,
}

fn dev() -> Acct {
    Acct {
        sid: SID.to_string(),
        token: TOKEN.to_string(),
    }
}

/// `/2010-04-01/Accounts/{sid}` + `rest`.
fn path_of(sid: &str, rest: &str) -> String {
    format!("/2010-04-01/Accounts/{sid}{rest}")
}

/// A request on the Twilio API, authenticated as `who`, to `{base}{path}`.
fn call(app: &TestApp, who: &Acct, method: Method, path: &str) -> RequestBuilder {
    app.client
        .request(method, app.url(path))
        .basic_auth(&who.sid, Some(&who.token))
}

/// A request on `who`'s own part of the Twilio API.
fn own(app: &TestApp, who: &Acct, method: Method, rest: &str) -> RequestBuilder {
    call(app, who, method, &path_of(&who.sid, rest))
}

fn raw_form(request: RequestBuilder, body: &'static str) -> RequestBuilder {
    request
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
}

/// A new account made through the control API.
async fn new_account(app: &TestApp) -> Acct {
    let reply = send(
        app.client
            .post(app.url("/_emulator/accounts"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let v = reply.json();
    Acct {
        sid: v["sid"].as_str().expect("sid").to_string(),
        token: v["auth_token"].as_str().expect("token").to_string(),
    }
}

/// A verified caller ID in `account`, made through the control API.
async fn seed_in(app: &TestApp, account: &str, phone: &str, name: Option<&str>) -> Value {
    let mut body = json!({ "phone_number": phone });
    if let Some(name) = name {
        body["friendly_name"] = name.into();
    }
    let reply = send(
        app.client
            .post(app.url(&format!(
                "/_emulator/accounts/{account}/outgoing-caller-ids"
            )))
            .json(&body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.json()
}

fn sid_of(v: &Value) -> String {
    v["sid"].as_str().expect("sid").to_string()
}

fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34
        && s.starts_with(prefix)
        && s[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Checks an RFC 2822 GMT date (`Fri, 21 Aug 2009 00:11:24 +0000`) and returns its Unix time.
fn rfc2822(s: &str) -> i64 {
    let parsed = chrono::DateTime::parse_from_rfc2822(s)
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 2822: {e}"));
    assert_eq!(
        parsed.format("%a, %d %b %Y %H:%M:%S +0000").to_string(),
        s,
        "date must be GMT with a numeric zone"
    );
    let now = chrono::Utc::now().timestamp();
    assert!(
        (now - parsed.timestamp()).abs() < 3600,
        "{s} is not about now"
    );
    parsed.timestamp()
}

/// Checks a caller ID in its JSON form.
fn assert_caller_id_json(v: &Value, account: &str, phone: &str, name: &str) {
    assert_eq!(
        keys(v),
        set(&[
            "sid",
            "account_sid",
            "friendly_name",
            "phone_number",
            "date_created",
            "date_updated",
            "uri"
        ])
    );
    let sid = v["sid"].as_str().expect("sid");
    assert!(is_sid(sid, "PN"), "{sid}");
    assert_eq!(v["account_sid"], account);
    assert_eq!(v["phone_number"], phone);
    assert_eq!(v["friendly_name"], name);
    rfc2822(v["date_created"].as_str().expect("date_created"));
    rfc2822(v["date_updated"].as_str().expect("date_updated"));
    assert_eq!(
        v["uri"],
        format!("/2010-04-01/Accounts/{account}/OutgoingCallerIds/{sid}.json")
    );
}

/// The XML document of one caller ID, as Twilio writes it, built from its JSON form.
fn caller_id_xml(v: &Value) -> String {
    let s = |k: &str| v[k].as_str().expect("string").to_string();
    let uri = s("uri");
    format!(
        "{XML_DECL}<TwilioResponse><OutgoingCallerId><Sid>{}</Sid><AccountSid>{}</AccountSid>\
         <FriendlyName>{}</FriendlyName><PhoneNumber>{}</PhoneNumber><DateCreated>{}</DateCreated>\
         <DateUpdated>{}</DateUpdated><Uri>{}</Uri></OutgoingCallerId></TwilioResponse>",
        s("sid"),
        s("account_sid"),
        s("friendly_name"),
        s("phone_number"),
        s("date_created"),
        s("date_updated"),
        uri.strip_suffix(".json").expect("json uri"),
    )
}

/// Twilio's JSON error body: checks its shape, status and code; returns the message.
fn json_error(reply: &Reply, status: u16, code: u64) -> String {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/json", "{}", reply.body);
    let v = reply.json();
    let k = keys(&v);
    assert!(
        k == set(&["code", "message", "more_info", "status"])
            || k == set(&["code", "detail", "message", "more_info", "status"]),
        "error keys {k:?}"
    );
    assert_eq!(v["code"], code, "{}", reply.body);
    assert_eq!(v["status"], status);
    assert_eq!(
        v["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}")
    );
    v["message"].as_str().expect("message").to_string()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct XmlException {
    code: u64,
    detail: Option<String>,
    message: String,
    more_info: String,
    status: u16,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct XmlErrorDoc {
    #[serde(rename = "RestException")]
    exception: XmlException,
}

/// Twilio's XML error body: checks its shape, status and code; returns the message.
fn xml_error(reply: &Reply, status: u16, code: u64) -> String {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/xml", "{}", reply.body);
    assert!(
        reply
            .body
            .starts_with(&format!("{XML_DECL}<TwilioResponse><RestException>")),
        "{}",
        reply.body
    );
    let doc: XmlErrorDoc = quick_xml::de::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("bad XML error ({e}): {}", reply.body));
    assert_eq!(doc.exception.code, code);
    assert_eq!(doc.exception.status, status);
    assert_eq!(
        doc.exception.more_info,
        format!("https://www.twilio.com/docs/errors/{code}")
    );
    let _ = doc.exception.detail;
    doc.exception.message
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct XmlCallerId {
    sid: String,
    account_sid: String,
    friendly_name: String,
    phone_number: String,
    date_created: String,
    date_updated: String,
    uri: String,
}

#[derive(Debug, Deserialize)]
struct XmlList {
    #[serde(rename = "@page")]
    page: u32,
    #[serde(rename = "@pagesize")]
    page_size: u32,
    #[serde(rename = "@uri")]
    uri: String,
    #[serde(rename = "@firstpageuri")]
    first_page_uri: String,
    #[serde(rename = "@nextpageuri")]
    next_page_uri: String,
    #[serde(rename = "@previouspageuri")]
    previous_page_uri: String,
    #[serde(rename = "OutgoingCallerId", default)]
    items: Vec<XmlCallerId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct XmlListDoc {
    #[serde(rename = "OutgoingCallerIds")]
    list: XmlList,
}

fn xml_list(reply: &Reply) -> XmlList {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/xml");
    assert!(
        reply
            .body
            .starts_with(&format!("{XML_DECL}<TwilioResponse><OutgoingCallerIds ")),
        "{}",
        reply.body
    );
    assert!(reply.body.ends_with("</TwilioResponse>"), "{}", reply.body);
    quick_xml::de::from_str::<XmlListDoc>(&reply.body)
        .unwrap_or_else(|e| panic!("bad XML list ({e}): {}", reply.body))
        .list
}

/// GET of a list page, checked for status, type and envelope keys.
async fn list_page(app: &TestApp, who: &Acct, path: &str) -> Value {
    let reply = send(call(app, who, Method::GET, path)).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    assert_eq!(reply.content_type(), "application/json");
    let v = reply.json();
    assert_eq!(
        keys(&v),
        set(&[
            "end",
            "first_page_uri",
            "next_page_uri",
            "outgoing_caller_ids",
            "page",
            "page_size",
            "previous_page_uri",
            "start",
            "uri"
        ])
    );
    v
}

fn sids(page: &Value) -> Vec<String> {
    page["outgoing_caller_ids"]
        .as_array()
        .expect("array")
        .iter()
        .map(sid_of)
        .collect()
}

/// A +1 415 555 01xx number.
fn phone(i: usize) -> String {
    format!("+1415555{:04}", 100 + i)
}

// ---- fetch / update / delete ----------------------------------------------------------------

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct XmlCallerIdDoc {
    #[serde(rename = "OutgoingCallerId")]
    item: XmlCallerId,
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

// ---- list -----------------------------------------------------------------------------------

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

/// Follows `next_page_uri` from `first` to the end; returns every page.
async fn walk_forward(app: &TestApp, who: &Acct, first: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(path) = next {
        let page = list_page(app, who, &path).await;
        if !pages.is_empty() {
            assert_eq!(page["uri"], path.as_str(), "uri echoes the request");
        }
        next = page["next_page_uri"].as_str().map(String::from);
        pages.push(page);
        assert!(pages.len() < 100, "paging does not end");
    }
    pages
}

#[tokio::test]
async fn paging_forwards_and_backwards_with_a_filter() {
    let app = TestApp::spawn().await;
    let mut team = Vec::new();
    let mut all = Vec::new();
    for i in 0..14 {
        let name = if i % 2 == 0 { "Team" } else { "Other" };
        let row = seed_in(&app, SID, &phone(i), Some(name)).await;
        if name == "Team" {
            team.push(sid_of(&row));
        }
        all.push(sid_of(&row));
    }
    assert_eq!(team.len(), 7);
    let base = path_of(SID, "/OutgoingCallerIds.json");
    let first_page_uri = format!("{base}?FriendlyName=Team&PageSize=3&Page=0");

    // Forwards: 3 + 3 + 1.
    let forward = walk_forward(
        &app,
        &dev(),
        &format!("{base}?FriendlyName=Team&PageSize=3"),
    )
    .await;
    assert_eq!(forward.len(), 3);
    let mut seen = Vec::new();
    for (n, page) in forward.iter().enumerate() {
        let rows = sids(page);
        assert_eq!(page["page"], n);
        assert_eq!(page["page_size"], 3);
        assert_eq!(page["start"], n * 3);
        assert_eq!(page["end"], n * 3 + rows.len() - 1);
        assert_eq!(page["first_page_uri"], first_page_uri.as_str());
        for item in page["outgoing_caller_ids"].as_array().expect("items") {
            assert_eq!(item["friendly_name"], "Team");
        }
        if n == 0 {
            assert_eq!(page["uri"], first_page_uri.as_str());
            assert_eq!(page["previous_page_uri"], Value::Null);
        } else {
            let first = &rows[0];
            assert_eq!(
                page["previous_page_uri"],
                format!(
                    "{base}?FriendlyName=Team&PageSize=3&Page={}&PageToken=PB{first}",
                    n - 1
                )
            );
        }
        if n < 2 {
            let last = rows.last().expect("row");
            assert_eq!(
                page["next_page_uri"],
                format!(
                    "{base}?FriendlyName=Team&PageSize=3&Page={}&PageToken=PA{last}",
                    n + 1
                )
            );
        } else {
            assert_eq!(page["next_page_uri"], Value::Null);
        }
        seen.extend(rows);
    }
    assert_eq!(
        forward.iter().map(|p| sids(p).len()).collect::<Vec<_>>(),
        vec![3, 3, 1]
    );
    // No overlap, nothing missed, in sid order.
    assert_eq!(seen, team);

    // Backwards from the last page: the same pages again.
    let mut path = forward[2]["previous_page_uri"]
        .as_str()
        .expect("previous")
        .to_string();
    for n in (0..2).rev() {
        let page = list_page(&app, &dev(), &path).await;
        assert_eq!(page["uri"], path.as_str());
        let mut expected = forward[n].clone();
        expected["uri"] = page["uri"].clone();
        assert_eq!(page, expected, "page {n} read backwards");
        match page["previous_page_uri"].as_str() {
            Some(p) => path = p.to_string(),
            None => assert_eq!(n, 0),
        }
    }

    // Unfiltered: 5 + 5 + 4 covers every row once.
    let pages = walk_forward(&app, &dev(), &format!("{base}?PageSize=5")).await;
    assert_eq!(
        pages.iter().map(|p| sids(p).len()).collect::<Vec<_>>(),
        vec![5, 5, 4]
    );
    assert_eq!(pages.iter().flat_map(sids).collect::<Vec<_>>(), all);

    // The same walk in XML: links without .json, followed as given.
    let xml_base = path_of(SID, "/OutgoingCallerIds");
    let mut xml_seen = Vec::new();
    let mut next = format!("{xml_base}?FriendlyName=Team&PageSize=3");
    let mut pages = 0;
    loop {
        let reply = send(call(&app, &dev(), Method::GET, &next)).await;
        let list = xml_list(&reply);
        assert_eq!(list.page, pages);
        assert!(list.first_page_uri.starts_with(&format!("{xml_base}?")));
        xml_seen.extend(list.items.iter().map(|i| i.sid.clone()));
        pages += 1;
        if list.next_page_uri.is_empty() {
            break;
        }
        assert!(!list.next_page_uri.contains(".json"));
        assert!(!list.uri.is_empty());
        next = list.next_page_uri;
    }
    assert_eq!(pages, 3);
    assert_eq!(xml_seen, team);
}

#[tokio::test]
async fn next_page_uri_is_null_exactly_when_rows_run_out() {
    let app = TestApp::spawn().await;
    let mut all = Vec::new();
    for i in 0..6 {
        all.push(sid_of(&seed_in(&app, SID, &phone(i), None).await));
    }
    let base = path_of(SID, "/OutgoingCallerIds.json");

    let pages = walk_forward(&app, &dev(), &format!("{base}?PageSize=3")).await;
    assert_eq!(pages.len(), 2, "6 rows at 3 a page are 2 pages");
    assert!(pages[0]["next_page_uri"].is_string());
    assert_eq!(pages[1]["next_page_uri"], Value::Null);
    assert_eq!(sids(&pages[1]), all[3..].to_vec());
    assert_eq!(pages[1]["start"], 3);
    assert_eq!(pages[1]["end"], 5);

    let pages = walk_forward(&app, &dev(), &format!("{base}?PageSize=6")).await;
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0]["next_page_uri"], Value::Null);
    assert_eq!(pages[0]["end"], 5);

    let pages = walk_forward(&app, &dev(), &format!("{base}?PageSize=5")).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(sids(&pages[1]), vec![all[5].clone()]);

    // A token keeps its place even when the row it names is deleted.
    let first = list_page(&app, &dev(), &format!("{base}?PageSize=2")).await;
    let next = first["next_page_uri"].as_str().expect("next").to_string();
    let reply = send(own(
        &app,
        &dev(),
        Method::DELETE,
        &format!("/OutgoingCallerIds/{}.json", all[1]),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let second = list_page(&app, &dev(), &next).await;
    assert_eq!(sids(&second), all[2..4].to_vec());
}

// ---- errors ---------------------------------------------------------------------------------

#[tokio::test]
async fn authentication_failures_are_401_with_twilio_messages() {
    let app = TestApp::spawn().await;
    let list = app.url(&path_of(SID, "/OutgoingCallerIds.json"));
    let list_xml = app.url(&path_of(SID, "/OutgoingCallerIds"));

    let cases: Vec<(&str, RequestBuilder, RequestBuilder, &str)> = vec![
        (
            "no credentials",
            app.client.get(&list),
            app.client.get(&list_xml),
            "Authentication Error - No credentials provided",
        ),
        (
            "wrong token",
            app.client.get(&list).basic_auth(SID, Some("wrong")),
            app.client.get(&list_xml).basic_auth(SID, Some("wrong")),
            "Authenticate",
        ),
        (
            "unknown account",
            app.client
                .get(&list)
                .basic_auth("AC00000000000000000000000000000000", Some(TOKEN)),
            app.client
                .get(&list_xml)
                .basic_auth("AC00000000000000000000000000000000", Some(TOKEN)),
            "Authentication Error - invalid username",
        ),
        (
            "unknown key",
            app.client
                .get(&list)
                .basic_auth("SK00000000000000000000000000000000", Some(TOKEN)),
            app.client
                .get(&list_xml)
                .basic_auth("SK00000000000000000000000000000000", Some(TOKEN)),
            "Authentication Error - invalid username",
        ),
        (
            "not a sid",
            app.client.get(&list).basic_auth("someone", Some(TOKEN)),
            app.client.get(&list_xml).basic_auth("someone", Some(TOKEN)),
            "Authentication Error - invalid username",
        ),
        (
            "bearer instead of basic",
            app.client.get(&list).bearer_auth(TOKEN),
            app.client.get(&list_xml).bearer_auth(TOKEN),
            "Authentication Error - No credentials provided",
        ),
    ];
    for (what, json_req, xml_req, message) in cases {
        let reply = send(json_req).await;
        assert_eq!(json_error(&reply, 401, 20003), message, "{what}");
        assert_eq!(
            reply.header("www-authenticate"),
            "Basic realm=\"Twilio API\""
        );
        assert_eq!(reply.json()["detail"], AUTH_DETAIL, "{what}");
        let reply = send(xml_req).await;
        assert_eq!(xml_error(&reply, 401, 20003), message, "{what}");
        assert_eq!(
            reply.header("www-authenticate"),
            "Basic realm=\"Twilio API\""
        );
        assert!(reply
            .body
            .contains(&format!("<Detail>{AUTH_DETAIL}</Detail>")));
    }

    // Byte for byte what api.twilio.com sends for a wrong token.
    let reply = send(app.client.get(&list).basic_auth(SID, Some("nope"))).await;
    assert_eq!(
        reply.body,
        r#"{"code": 20003, "detail": "Your AccountSid or AuthToken was incorrect.", "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}"#
    );
    let reply = send(app.client.get(&list_xml).basic_auth(SID, Some("nope"))).await;
    assert_eq!(reply.body.len(), 293, "{}", reply.body);

    // Instance routes and every method are protected too.
    let sid = sid_of(&seed_in(&app, SID, "+14158675309", None).await);
    let instance = app.url(&path_of(SID, &format!("/OutgoingCallerIds/{sid}.json")));
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        let reply = send(app.client.request(method.clone(), &instance)).await;
        json_error(&reply, 401, 20003);
        let reply = send(
            app.client
                .request(method.clone(), &instance)
                .basic_auth(SID, Some("wrong")),
        )
        .await;
        json_error(&reply, 401, 20003);
    }
    let reply = send(
        app.client
            .post(app.url(&path_of(SID, "/OutgoingCallerIds.json"))),
    )
    .await;
    json_error(&reply, 401, 20003);
    // Nothing was changed by the refused calls.
    let reply = send(own(
        &app,
        &dev(),
        Method::GET,
        &format!("/OutgoingCallerIds/{sid}.json"),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_routes_and_sids_are_404() {
    let app = TestApp::spawn().await;
    let sid = sid_of(&seed_in(&app, SID, "+14158675309", None).await);
    let cases = [
        path_of(SID, "/Nope.json"),
        path_of(SID, "/IncomingPhoneNumbers.json"),
        path_of(SID, &format!("/OutgoingCallerIds/{sid}/Extra.json")),
        "/2010-04-01/Nope.json".to_string(),
        "/2010-04-01/Accounts.json".to_string(),
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
        // Only .json and .xml are served; anything else is not JSON, so the error is XML.
        path_of(SID, "/OutgoingCallerIds.csv"),
        path_of(SID, &format!("/OutgoingCallerIds/{sid}.csv")),
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
async fn another_accounts_sid_is_404_under_your_own_path() {
    let app = TestApp::spawn().await;
    let other = new_account(&app).await;
    let theirs = seed_in(&app, &other.sid, "+14158675309", Some("Theirs")).await;
    let sid = sid_of(&theirs);
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        let path = format!("/OutgoingCallerIds/{sid}.json");
        let reply =
            send(own(&app, &dev(), method.clone(), &path).form(&[("FriendlyName", "Mine")])).await;
        assert_eq!(
            json_error(&reply, 404, 20404),
            format!(
                "The requested resource {} was not found",
                path_of(SID, &path)
            ),
            "{method}"
        );
        let reply = send(own(
            &app,
            &dev(),
            method.clone(),
            &format!("/OutgoingCallerIds/{sid}"),
        ))
        .await;
        xml_error(&reply, 404, 20404);
    }
    // Untouched.
    let reply = send(own(
        &app,
        &other,
        Method::GET,
        &format!("/OutgoingCallerIds/{sid}.json"),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), theirs);
}

#[tokio::test]
async fn valid_credentials_on_another_accounts_path_are_401() {
    let app = TestApp::spawn().await;
    let other = new_account(&app).await;
    let theirs = sid_of(&seed_in(&app, &other.sid, "+14158675309", None).await);
    let paths = [
        path_of(&other.sid, "/OutgoingCallerIds.json"),
        path_of(&other.sid, &format!("/OutgoingCallerIds/{theirs}.json")),
        path_of(
            "AC0123456789abcdef0123456789abcdef",
            "/OutgoingCallerIds.json",
        ),
        path_of("ACnotanaccount", "/OutgoingCallerIds.json"),
    ];
    for path in &paths {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let reply = send(call(&app, &dev(), method.clone(), path)).await;
            let message = json_error(&reply, 401, 20003);
            assert_eq!(message, "Authenticate", "{method} {path}");
            assert_eq!(
                reply.header("www-authenticate"),
                "Basic realm=\"Twilio API\""
            );
        }
    }
    let reply = send(call(
        &app,
        &dev(),
        Method::GET,
        &path_of(&other.sid, "/OutgoingCallerIds"),
    ))
    .await;
    xml_error(&reply, 401, 20003);
    // Still there.
    let reply = send(own(
        &app,
        &other,
        Method::GET,
        &format!("/OutgoingCallerIds/{theirs}.json"),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK);
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

// ---- API keys and account isolation ----------------------------------------------------------

#[tokio::test]
async fn api_keys_authenticate_for_their_own_account_only() {
    let app = TestApp::spawn().await;
    let mine = sid_of(&seed_in(&app, SID, "+14158675309", None).await);
    let reply = send(
        app.client
            .post(app.url(&format!("/_emulator/accounts/{SID}/keys")))
            .json(&json!({"friendly_name": "ci"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let key = reply.json();
    let key_sid = key["sid"].as_str().expect("sid").to_string();
    let secret = key["secret"].as_str().expect("secret").to_string();
    assert!(is_sid(&key_sid, "SK"), "{key_sid}");
    assert!(!secret.is_empty());
    let as_key = Acct {
        sid: key_sid.clone(),
        token: secret.clone(),
    };

    // The key reads and writes its account.
    let list = list_page(&app, &as_key, &path_of(SID, "/OutgoingCallerIds.json")).await;
    assert_eq!(sids(&list), vec![mine.clone()]);
    let reply = send(
        call(
            &app,
            &as_key,
            Method::POST,
            &path_of(SID, &format!("/OutgoingCallerIds/{mine}.json")),
        )
        .form(&[("FriendlyName", "Via key")]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["friendly_name"], "Via key");

    // A wrong secret is refused.
    let wrong = Acct {
        sid: key_sid.clone(),
        token: "wrong".into(),
    };
    let reply = send(call(
        &app,
        &wrong,
        Method::GET,
        &path_of(SID, "/OutgoingCallerIds.json"),
    ))
    .await;
    assert_eq!(json_error(&reply, 401, 20003), "Authenticate");

    // The key cannot reach another account.
    let other = new_account(&app).await;
    let theirs = sid_of(&seed_in(&app, &other.sid, "+14155551212", None).await);
    for path in [
        path_of(&other.sid, "/OutgoingCallerIds.json"),
        path_of(&other.sid, &format!("/OutgoingCallerIds/{theirs}.json")),
    ] {
        let reply = send(call(&app, &as_key, Method::GET, &path)).await;
        json_error(&reply, 401, 20003);
    }
    // Nor the other account's sid under its own path.
    let reply = send(call(
        &app,
        &as_key,
        Method::GET,
        &path_of(SID, &format!("/OutgoingCallerIds/{theirs}.json")),
    ))
    .await;
    json_error(&reply, 404, 20404);

    // A key of the other account cannot reach this one.
    let reply = send(
        app.client
            .post(app.url(&format!("/_emulator/accounts/{}/keys", other.sid))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let other_key = reply.json();
    let other_key = Acct {
        sid: other_key["sid"].as_str().expect("sid").into(),
        token: other_key["secret"].as_str().expect("secret").into(),
    };
    let reply = send(call(
        &app,
        &other_key,
        Method::GET,
        &path_of(SID, "/OutgoingCallerIds.json"),
    ))
    .await;
    json_error(&reply, 401, 20003);
    let list = list_page(
        &app,
        &other_key,
        &path_of(&other.sid, "/OutgoingCallerIds.json"),
    )
    .await;
    assert_eq!(sids(&list), vec![theirs]);

    // Keys of an unknown account cannot be made.
    let reply = send(
        app.client
            .post(app.url("/_emulator/accounts/AC0123456789abcdef0123456789abcdef/keys")),
    )
    .await;
    json_error(&reply, 404, 20404);
}

#[tokio::test]
async fn two_accounts_each_see_only_their_own_caller_ids() {
    let app = TestApp::spawn().await;
    let a = new_account(&app).await;
    let b = new_account(&app).await;
    assert_ne!(a.sid, b.sid);
    let a_rows = [
        sid_of(&seed_in(&app, &a.sid, "+14158675309", None).await),
        sid_of(&seed_in(&app, &a.sid, "+14155551212", None).await),
    ];
    // The same number may be verified on both accounts.
    let b_rows = [sid_of(&seed_in(&app, &b.sid, "+14158675309", None).await)];

    let list = list_page(&app, &a, &path_of(&a.sid, "/OutgoingCallerIds.json")).await;
    assert_eq!(sids(&list), a_rows.to_vec());
    for item in list["outgoing_caller_ids"].as_array().expect("items") {
        assert_eq!(item["account_sid"], a.sid.as_str());
    }
    let list = list_page(&app, &b, &path_of(&b.sid, "/OutgoingCallerIds.json")).await;
    assert_eq!(sids(&list), b_rows.to_vec());
    assert_eq!(
        list["outgoing_caller_ids"][0]["account_sid"],
        b.sid.as_str()
    );
    let dev_list = list_page(&app, &dev(), &path_of(SID, "/OutgoingCallerIds.json")).await;
    assert!(sids(&dev_list).is_empty());

    // A filter does not leak across accounts either.
    let list = list_page(
        &app,
        &b,
        &path_of(&b.sid, "/OutgoingCallerIds.json?PhoneNumber=%2B14155551212"),
    )
    .await;
    assert!(sids(&list).is_empty());

    // Deleting in B leaves A's row with the same number alone.
    let reply = send(own(
        &app,
        &b,
        Method::DELETE,
        &format!("/OutgoingCallerIds/{}.json", b_rows[0]),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let list = list_page(&app, &a, &path_of(&a.sid, "/OutgoingCallerIds.json")).await;
    assert_eq!(sids(&list), a_rows.to_vec());

    // A's token does not work as B.
    let mixed = Acct {
        sid: b.sid.clone(),
        token: a.token.clone(),
    };
    let reply = send(own(&app, &mixed, Method::GET, "/OutgoingCallerIds.json")).await;
    assert_eq!(json_error(&reply, 401, 20003), "Authenticate");
}

// ---- control API ----------------------------------------------------------------------------

#[tokio::test]
async fn control_accounts_create_and_delete() {
    let app = TestApp::spawn().await;
    let accounts = app.url("/_emulator/accounts");

    // Generated sid and token.
    let reply = send(app.client.post(&accounts)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/json");
    let v = reply.json();
    let sid = v["sid"].as_str().expect("sid").to_string();
    let token = v["auth_token"].as_str().expect("token").to_string();
    assert!(is_sid(&sid, "AC"), "{sid}");
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    let generated = Acct { sid, token };
    let list = list_page(
        &app,
        &generated,
        &path_of(&generated.sid, "/OutgoingCallerIds.json"),
    )
    .await;
    assert!(sids(&list).is_empty());

    // Chosen sid, token and name.
    let chosen_sid = "AC0123456789abcdef0123456789abcdef";
    let reply = send(app.client.post(&accounts).json(&json!({
        "sid": chosen_sid,
        "auth_token": "my-token",
        "friendly_name": "Suite 7",
    })))
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let v = reply.json();
    assert_eq!(v["sid"], chosen_sid);
    assert_eq!(v["auth_token"], "my-token");
    assert_eq!(v["friendly_name"], "Suite 7");
    let chosen = Acct {
        sid: chosen_sid.into(),
        token: "my-token".into(),
    };
    let _ = list_page(
        &app,
        &chosen,
        &path_of(chosen_sid, "/OutgoingCallerIds.json"),
    )
    .await;

    // Duplicate sid: 409. The dev account counts too.
    for sid in [chosen_sid, SID] {
        let reply = send(app.client.post(&accounts).json(&json!({ "sid": sid }))).await;
        json_error(&reply, 409, 20409);
    }
    // Bad input: 400 with Twilio's body.
    for body in [
        json!({"sid": "ACnope"}),
        json!({"sid": "PN0123456789abcdef0123456789abcdef"}),
        json!({"auth_token": ""}),
        json!({"unknown": 1}),
    ] {
        let reply = send(app.client.post(&accounts).json(&body)).await;
        json_error(&reply, 400, 20001);
    }
    let reply = send(
        app.client
            .post(&accounts)
            .header(CONTENT_TYPE, "application/json")
            .body("{not json"),
    )
    .await;
    json_error(&reply, 400, 20001);

    // Delete: 204, data and credentials gone.
    let _ = seed_in(&app, chosen_sid, "+14158675309", None).await;
    let reply = send(
        app.client
            .post(app.url(&format!("/_emulator/accounts/{chosen_sid}/keys"))),
    )
    .await;
    let key = reply.json();
    let as_key = Acct {
        sid: key["sid"].as_str().expect("sid").into(),
        token: key["secret"].as_str().expect("secret").into(),
    };
    let reply = send(
        app.client
            .delete(app.url(&format!("/_emulator/accounts/{chosen_sid}"))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(reply.body, "");
    let reply = send(own(&app, &chosen, Method::GET, "/OutgoingCallerIds.json")).await;
    assert_eq!(
        json_error(&reply, 401, 20003),
        "Authentication Error - invalid username"
    );
    let reply = send(call(
        &app,
        &as_key,
        Method::GET,
        &path_of(chosen_sid, "/OutgoingCallerIds.json"),
    ))
    .await;
    json_error(&reply, 401, 20003);
    let reply = send(
        app.client
            .delete(app.url(&format!("/_emulator/accounts/{chosen_sid}"))),
    )
    .await;
    json_error(&reply, 404, 20404);
    let reply = send(app.client.delete(app.url("/_emulator/accounts/ACnope"))).await;
    json_error(&reply, 404, 20404);

    // Made again under the same sid, it starts empty.
    let reply = send(
        app.client
            .post(&accounts)
            .json(&json!({"sid": chosen_sid, "auth_token": "t2"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let again = Acct {
        sid: chosen_sid.into(),
        token: "t2".into(),
    };
    let list = list_page(
        &app,
        &again,
        &path_of(chosen_sid, "/OutgoingCallerIds.json"),
    )
    .await;
    assert!(sids(&list).is_empty());

    // Other accounts are unaffected.
    let _ = list_page(
        &app,
        &generated,
        &path_of(&generated.sid, "/OutgoingCallerIds.json"),
    )
    .await;
    let _ = list_page(&app, &dev(), &path_of(SID, "/OutgoingCallerIds.json")).await;
}

#[tokio::test]
async fn control_caller_id_fixtures() {
    let app = TestApp::spawn().await;
    let url = app.url(&format!("/_emulator/accounts/{SID}/outgoing-caller-ids"));

    let reply = send(
        app.client
            .post(&url)
            .json(&json!({"phone_number": "(415) 867-5309"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/json");
    let v = reply.json();
    assert_caller_id_json(&v, SID, "+14158675309", "(415) 867-5309");
    assert_eq!(v["date_created"], v["date_updated"]);
    let reply = send(
        app.client
            .post(&url)
            .json(&json!({"phone_number": "+442071838750", "friendly_name": "London"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_caller_id_json(&reply.json(), SID, "+442071838750", "London");

    // The fixture is a real caller ID.
    let fetched = send(own(
        &app,
        &dev(),
        Method::GET,
        &format!("/OutgoingCallerIds/{}.json", sid_of(&v)),
    ))
    .await;
    assert_eq!(fetched.json(), v);

    // Same validation and errors as the Twilio API.
    for bad in ["abc", "+1415", "123", "+1 (415) 867-53099"] {
        let reply = send(app.client.post(&url).json(&json!({ "phone_number": bad }))).await;
        let message = json_error(&reply, 400, 21421);
        assert!(message.contains(bad), "{message}");
    }
    for dup in ["+14158675309", "415-867-5309"] {
        let reply = send(app.client.post(&url).json(&json!({ "phone_number": dup }))).await;
        json_error(&reply, 400, 21450);
    }
    let reply = send(app.client.post(&url).json(&json!({}))).await;
    json_error(&reply, 400, 20001);
    let reply = send(
        app.client
            .post(&url)
            .json(&json!({"phone_number": "+14155551212", "friendly_name": "x".repeat(65)})),
    )
    .await;
    json_error(&reply, 400, 20001);
    let reply =
        send(
            app.client
                .post(app.url(
                    "/_emulator/accounts/AC0123456789abcdef0123456789abcdef/outgoing-caller-ids",
                ))
                .json(&json!({"phone_number": "+14155551212"})),
        )
        .await;
    json_error(&reply, 404, 20404);

    let list = list_page(&app, &dev(), &path_of(SID, "/OutgoingCallerIds.json")).await;
    assert_eq!(sids(&list).len(), 2);
}

#[tokio::test]
async fn control_request_journal() {
    let app = TestApp::spawn().await;
    let other = new_account(&app).await;
    let sid = sid_of(&seed_in(&app, SID, "+14158675309", None).await);

    let list = send(own(
        &app,
        &dev(),
        Method::GET,
        "/OutgoingCallerIds.json?PageSize=2&FriendlyName=A+B",
    ))
    .await;
    assert_eq!(list.status, StatusCode::OK);
    let update = send(
        own(
            &app,
            &dev(),
            Method::POST,
            &format!("/OutgoingCallerIds/{sid}.json"),
        )
        .form(&[("FriendlyName", "New name")]),
    )
    .await;
    assert_eq!(update.status, StatusCode::OK);
    let missing = send(own(
        &app,
        &dev(),
        Method::GET,
        "/OutgoingCallerIds/PN0123456789abcdef0123456789abcdef",
    ))
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let theirs = send(own(&app, &other, Method::GET, "/OutgoingCallerIds.json")).await;
    assert_eq!(theirs.status, StatusCode::OK);

    let reply = send(app.client.get(app.url("/_emulator/requests"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let all = reply.json()["requests"]
        .as_array()
        .expect("requests")
        .clone();
    assert_eq!(all.len(), 4, "only Twilio API requests: {all:?}");
    // Newest first.
    assert_eq!(
        all[0]["request_id"],
        theirs.header("twilio-request-id").as_str()
    );
    assert_eq!(all[0]["account_sid"], other.sid.as_str());
    assert_eq!(
        all[1]["request_id"],
        missing.header("twilio-request-id").as_str()
    );
    assert_eq!(all[1]["status"], 404);
    assert_eq!(all[1]["method"], "GET");

    let u = &all[2];
    assert_eq!(u["request_id"], update.header("twilio-request-id").as_str());
    assert_eq!(u["method"], "POST");
    assert_eq!(
        u["path"],
        path_of(SID, &format!("/OutgoingCallerIds/{sid}.json"))
    );
    assert_eq!(u["params"], json!({"FriendlyName": "New name"}));
    assert_eq!(u["status"], 200);
    assert_eq!(u["account_sid"], SID);

    let l = &all[3];
    assert_eq!(l["request_id"], list.header("twilio-request-id").as_str());
    assert_eq!(l["method"], "GET");
    assert_eq!(l["path"], path_of(SID, "/OutgoingCallerIds.json"));
    assert_eq!(l["query"], json!({"PageSize": "2", "FriendlyName": "A B"}));
    assert_eq!(l["status"], 200);

    // Filter by account, and limit.
    let reply = send(
        app.client
            .get(app.url(&format!("/_emulator/requests?account_sid={}", other.sid))),
    )
    .await;
    let theirs_only = reply.json()["requests"]
        .as_array()
        .expect("requests")
        .clone();
    assert_eq!(theirs_only.len(), 1);
    assert_eq!(
        theirs_only[0]["request_id"],
        theirs.header("twilio-request-id").as_str()
    );
    let reply = send(
        app.client
            .get(app.url(&format!("/_emulator/requests?account_sid={SID}&limit=1"))),
    )
    .await;
    let one = reply.json()["requests"]
        .as_array()
        .expect("requests")
        .clone();
    assert_eq!(one.len(), 1);
    assert_eq!(
        one[0]["request_id"],
        missing.header("twilio-request-id").as_str()
    );
    let reply = send(
        app.client
            .get(app.url("/_emulator/requests?account_sid=nope")),
    )
    .await;
    json_error(&reply, 400, 20001);
}

#[tokio::test]
async fn control_reset_keeps_the_configured_account() {
    let app = TestApp::spawn().await;
    let other = new_account(&app).await;
    let _ = seed_in(&app, SID, "+14158675309", None).await;
    let _ = seed_in(&app, &other.sid, "+14158675309", None).await;
    let _ = send(own(&app, &dev(), Method::GET, "/OutgoingCallerIds.json")).await;

    let reply = send(app.client.post(app.url("/_emulator/reset"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let list = list_page(&app, &dev(), &path_of(SID, "/OutgoingCallerIds.json")).await;
    assert!(sids(&list).is_empty(), "data wiped");
    let reply = send(own(&app, &other, Method::GET, "/OutgoingCallerIds.json")).await;
    json_error(&reply, 401, 20003);
    // The journal starts again too: only the two requests since the reset.
    let reply = send(app.client.get(app.url("/_emulator/requests"))).await;
    let requests = reply.json()["requests"]
        .as_array()
        .expect("requests")
        .clone();
    assert_eq!(requests.len(), 2, "{requests:?}");
    // The numbers can be verified again.
    let _ = seed_in(&app, SID, "+14158675309", None).await;
}

#[tokio::test]
async fn control_health() {
    let app = TestApp::spawn().await;
    let reply = send(app.client.get(app.url("/_emulator/health"))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type(), "application/json");
    assert_eq!(reply.json()["status"], "ok");
    // Unknown control paths are Twilio-style 404s in JSON.
    let reply = send(app.client.get(app.url("/_emulator/nope"))).await;
    json_error(&reply, 404, 20404);
}

#[tokio::test]
async fn control_api_can_be_turned_off() {
    let app = TestApp::spawn_with(|s| s.control_api = false).await;
    for (method, path) in [
        (Method::POST, "/_emulator/accounts"),
        (Method::POST, "/_emulator/reset"),
        (Method::GET, "/_emulator/requests"),
        (
            Method::POST,
            &*format!("/_emulator/accounts/{SID}/outgoing-caller-ids"),
        ),
        (Method::POST, &*format!("/_emulator/accounts/{SID}/keys")),
    ] {
        let reply = send(app.client.request(method, app.url(path)).json(&json!({}))).await;
        json_error(&reply, 404, 20404);
    }
    // The Twilio API still works.
    let _ = list_page(&app, &dev(), &path_of(SID, "/OutgoingCallerIds.json")).await;
}

#[tokio::test]
async fn control_api_can_require_a_token() {
    let app = TestApp::spawn_with(|s| s.control_token = Some("ctl-s3cret".into())).await;
    let url = app.url("/_emulator/accounts");
    let reply = send(app.client.post(&url)).await;
    json_error(&reply, 401, 20003);
    let reply = send(app.client.post(&url).bearer_auth("wrong")).await;
    json_error(&reply, 401, 20003);
    let reply = send(app.client.post(&url).basic_auth(SID, Some(TOKEN))).await;
    json_error(&reply, 401, 20003);
    let reply = send(app.client.get(app.url("/_emulator/requests"))).await;
    json_error(&reply, 401, 20003);
    let reply = send(app.client.post(&url).bearer_auth("ctl-s3cret")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let reply = send(
        app.client
            .get(app.url("/_emulator/requests"))
            .bearer_auth("ctl-s3cret"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

// ---- response headers -----------------------------------------------------------------------

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

#[tokio::test]
async fn a_page_token_naming_another_accounts_caller_id_is_21481() {
    let app = TestApp::spawn().await;
    let other = new_account(&app).await;
    let foreign = sid_of(&seed_in(&app, &other.sid, "+14155550150", None).await);
    seed_in(&app, SID, "+14155550151", None).await;
    let reply = send(own(
        &app,
        &dev(),
        Method::GET,
        &format!("/OutgoingCallerIds.json?Page=1&PageToken=PA{foreign}"),
    ))
    .await;
    json_error(&reply, 400, 21481);
    // The other account may page with it.
    let reply = send(own(
        &app,
        &other,
        Method::GET,
        &format!("/OutgoingCallerIds.json?Page=1&PageToken=PB{foreign}"),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn a_forward_page_has_no_previous_link_when_every_earlier_row_is_gone() {
    let app = TestApp::spawn().await;
    let seeded: Vec<String> = {
        let mut v = Vec::new();
        for i in 0..4 {
            v.push(sid_of(&seed_in(&app, SID, &phone(200 + i), None).await));
        }
        v
    };
    let first = list_page(
        &app,
        &dev(),
        &path_of(SID, "/OutgoingCallerIds.json?PageSize=2"),
    )
    .await;
    let next = first["next_page_uri"].as_str().expect("next").to_string();
    let second = list_page(&app, &dev(), &next).await;
    assert!(second["previous_page_uri"].is_string(), "{second}");
    for sid in &seeded[..2] {
        let reply = send(own(
            &app,
            &dev(),
            Method::DELETE,
            &format!("/OutgoingCallerIds/{sid}.json"),
        ))
        .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
    }
    let second = list_page(&app, &dev(), &next).await;
    assert_eq!(sids(&second), seeded[2..].to_vec());
    assert!(second["previous_page_uri"].is_null(), "{second}");
}

#[tokio::test]
async fn the_control_token_challenge_is_bearer() {
    let app = TestApp::spawn_with(|s| s.control_token = Some("tok".into())).await;
    let reply = send(
        app.client
            .post(app.url("/_emulator/accounts"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply.header("www-authenticate").starts_with("Bearer"),
        "{:?}",
        reply.headers
    );
    let reply = send(
        app.client
            .post(app.url("/_emulator/accounts"))
            .bearer_auth("tok")
            .json(&json!({})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_deleted_account_made_again_has_none_of_its_old_caller_ids() {
    let app = TestApp::spawn().await;
    let chosen_sid = "AC0123456789abcdef0123456789abcdef";
    let make = || {
        app.client
            .post(app.url("/_emulator/accounts"))
            .json(&json!({"sid": chosen_sid, "auth_token": "my-token"}))
    };
    let reply = send(make()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let old = seed_in(&app, chosen_sid, "+14158675309", Some("Old")).await;
    let reply = send(
        app.client
            .delete(app.url(&format!("/_emulator/accounts/{chosen_sid}"))),
    )
    .await;
    assert!(reply.status.is_success(), "{}", reply.body);
    let reply = send(make()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let who = Acct {
        sid: chosen_sid.into(),
        token: "my-token".into(),
    };
    let list = list_page(&app, &who, &path_of(chosen_sid, "/OutgoingCallerIds.json")).await;
    assert!(sids(&list).is_empty(), "{list}");
    let old_sid = old["sid"].as_str().expect("sid");
    let reply = send(own(
        &app,
        &who,
        Method::GET,
        &format!("/OutgoingCallerIds/{old_sid}.json"),
    ))
    .await;
    json_error(&reply, 404, 20404);
    // The number is free to verify again.
    let _ = seed_in(&app, chosen_sid, "+14158675309", Some("New")).await;
}
