//! CSV representations (Issue 13): the caller-ID list and instance read with a `.csv` suffix, a
//! header row and RFC 4180 quoting (CRLF line ends, quoted fields with their quotes doubled),
//! paged as the JSON list is; errors stay in Twilio's JSON body, and only those reads answer
//! CSV.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

const COLUMNS: [&str; 7] = [
    "sid",
    "account_sid",
    "friendly_name",
    "phone_number",
    "date_created",
    "date_updated",
    "uri",
];

/// Reads RFC 4180 text strictly: every row ends in CRLF, quoted fields may hold anything.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF in {text:?}");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            '\n' | '"' => panic!("bare {c:?} outside quotes in {text:?}"),
            c => field.push(c),
        }
    }
    assert!(!quoted && field.is_empty() && row.is_empty(), "{text:?}");
    rows
}

/// A caller ID's JSON as the CSV row it should be.
fn row_of(json: &Value) -> Vec<String> {
    COLUMNS
        .iter()
        .map(|c| {
            let v = json[*c].as_str().expect("string field").to_string();
            match *c {
                "uri" => v.replace(".json", ".csv"),
                _ => v,
            }
        })
        .collect()
}

async fn get_csv(app: &TestApp, rest: &str) -> Vec<Vec<String>> {
    let reply = send(own(app, &dev(), Method::GET, rest)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.content_type(), "text/csv; charset=utf-8");
    let rows = parse_csv(&reply.body);
    assert_eq!(rows[0], COLUMNS, "header row");
    rows
}

#[tokio::test]
async fn list_and_instance_in_csv() {
    let app = TestApp::spawn().await;
    assert_eq!(get_csv(&app, "/OutgoingCallerIds.csv").await.len(), 1);
    // FriendlyName takes no CR or LF (the unit test of the renderer quotes those).
    let names = ["Front, \"desk\"", "\"quoted\"", "plain", "a,b,c"];
    let mut seeded = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let phone = format!("+1415555010{i}");
        seeded.push(seed_in(&app, SID, &phone, Some(name)).await);
    }
    let rows = get_csv(&app, "/OutgoingCallerIds.csv").await;
    let expected: Vec<Vec<String>> = seeded.iter().map(row_of).collect();
    assert_eq!(rows[1..], expected[..]);
    // The quoted fields as written: quotes doubled.
    let raw = send(own(&app, &dev(), Method::GET, "/OutgoingCallerIds.csv")).await;
    assert!(
        raw.body.contains(",\"Front, \"\"desk\"\"\","),
        "{}",
        raw.body
    );
    assert!(raw.body.contains(",\"\"\"quoted\"\"\",+"), "{}", raw.body);
    assert!(raw.body.contains(",plain,+"), "{}", raw.body);

    // The instance: the header and its one row.
    let sid = seeded[0]["sid"].as_str().expect("sid");
    let rows = get_csv(&app, &format!("/OutgoingCallerIds/{sid}.csv")).await;
    assert_eq!(rows[1..], expected[..1]);
    assert!(rows[1][6].ends_with(&format!("/OutgoingCallerIds/{sid}.csv")));

    // Filters and paging as for JSON; no envelope, so the next page's token is built from the
    // last row's sid.
    let filtered = get_csv(&app, "/OutgoingCallerIds.csv?FriendlyName=plain").await;
    assert_eq!(filtered[1..], expected[2..3]);
    let first = get_csv(&app, "/OutgoingCallerIds.csv?PageSize=3").await;
    assert_eq!(first[1..], expected[..3]);
    let token = format!("PA{}", first[3][0]);
    let rest = format!("/OutgoingCallerIds.csv?PageSize=3&Page=1&PageToken={token}");
    assert_eq!(get_csv(&app, &rest).await[1..], expected[3..]);
}

#[tokio::test]
async fn csv_errors_are_twilio_json_and_only_reads_answer_csv() {
    let app = TestApp::spawn().await;
    let caller = seed_in(&app, SID, "+14155550100", None).await;
    let sid = caller["sid"].as_str().expect("sid");

    let unknown = "/OutgoingCallerIds/PN0123456789abcdef0123456789abcdef.csv";
    let reply = send(own(&app, &dev(), Method::GET, unknown)).await;
    json_error(&reply, 404, 20404);
    assert_eq!(reply.content_type(), "application/json");
    let reply = send(app.client.get(app.api("/OutgoingCallerIds.csv"))).await;
    json_error(&reply, 401, 20003);
    let reply = send(own(
        &app,
        &dev(),
        Method::GET,
        "/OutgoingCallerIds.csv?PageSize=x",
    ))
    .await;
    json_error(&reply, 400, 20001);

    // Writes and the Call resource have no CSV form: 404, and nothing is changed.
    let instance = format!("/OutgoingCallerIds/{sid}.csv");
    for (method, path) in [
        (Method::POST, "/OutgoingCallerIds.csv".to_string()),
        (Method::POST, instance.clone()),
        (Method::DELETE, instance.clone()),
        (
            Method::GET,
            "/Calls/CA0123456789abcdef0123456789abcdef.csv".to_string(),
        ),
    ] {
        let reply = send(
            own(&app, &dev(), method.clone(), &path)
                .form(&[("PhoneNumber", "+14155550199"), ("FriendlyName", "changed")]),
        )
        .await;
        json_error(&reply, 404, 20404);
    }
    let rows = get_csv(&app, &instance).await;
    assert_eq!(rows[1], row_of(&caller));
}

#[tokio::test]
async fn the_accounts_list_in_csv() {
    const ACCOUNT_COLUMNS: [&str; 10] = [
        "auth_token",
        "date_created",
        "date_updated",
        "friendly_name",
        "owner_account_sid",
        "sid",
        "status",
        "subresource_uris",
        "type",
        "uri",
    ];
    let app = TestApp::spawn().await;
    let (_, first) = new_subaccount(&app, &dev(), Some("Customer, \"one\"")).await;
    let (_, second) = new_subaccount(&app, &dev(), None).await;
    let reply = send(call(&app, &dev(), Method::GET, "/2010-04-01/Accounts.csv")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.content_type(), "text/csv; charset=utf-8");
    let rows = parse_csv(&reply.body);
    assert_eq!(rows[0], ACCOUNT_COLUMNS, "header row");
    // The same accounts, in the same order, as the JSON list.
    let json = send(call(&app, &dev(), Method::GET, "/2010-04-01/Accounts.json")).await;
    let listed = json.json()["accounts"]
        .as_array()
        .expect("accounts")
        .clone();
    assert_eq!(rows.len(), listed.len() + 1);
    for (row, account) in rows[1..].iter().zip(&listed) {
        for (column, value) in ACCOUNT_COLUMNS.iter().zip(row) {
            if *column == "subresource_uris" {
                let parsed: Value = serde_json::from_str(value).expect("JSON text");
                assert_eq!(parsed, account[*column], "{column}");
                continue;
            }
            let expected = match *column {
                "uri" => account["uri"]
                    .as_str()
                    .expect("uri")
                    .replace(".json", ".csv"),
                _ => account[*column].as_str().expect("string").to_string(),
            };
            assert_eq!(value, &expected, "{column} of {}", account["sid"]);
        }
    }
    let sids: Vec<&str> = rows[1..].iter().map(|r| r[5].as_str()).collect();
    assert!(sids.contains(&first["sid"].as_str().expect("sid")));
    assert!(sids.contains(&second["sid"].as_str().expect("sid")));
    assert!(
        reply.body.contains(",\"Customer, \"\"one\"\"\","),
        "{}",
        reply.body
    );
    // Filters as for JSON.
    let path = "/2010-04-01/Accounts.csv?FriendlyName=Customer%2C%20%22one%22";
    let filtered = parse_csv(&send(call(&app, &dev(), Method::GET, path)).await.body);
    assert_eq!(filtered.len(), 2);
    assert_eq!(filtered[1][5], first["sid"].as_str().expect("sid"));
    // An instance and the Keys list have no CSV form.
    let instance = format!(
        "/2010-04-01/Accounts/{}.csv",
        first["sid"].as_str().expect("sid")
    );
    json_error(
        &send(call(&app, &dev(), Method::GET, &instance)).await,
        404,
        20404,
    );
    let keys = format!("/2010-04-01/Accounts/{SID}/Keys.csv");
    json_error(
        &send(call(&app, &dev(), Method::GET, &keys)).await,
        404,
        20404,
    );
}
