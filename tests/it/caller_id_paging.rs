//! Paging the OutgoingCallerIds list (Issue 2): forwards and backwards, with a filter and in
//! XML, where the next link ends, and page tokens whose rows are gone or are not yours.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

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
