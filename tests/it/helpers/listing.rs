//! Reading caller-ID list pages in JSON: one page, its sids, and a walk along the next links.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::accounts::Account;
use super::checks::{keys, set, sid_of};
use super::client::{call, send, Server};

/// GET of a list page, checked for status, type and envelope keys.
pub async fn list_page(server: &impl Server, who: &Account, path: &str) -> Value {
    let reply = send(call(server, who, Method::GET, path)).await;
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

/// The sids on a list page, in order.
pub fn sids(page: &Value) -> Vec<String> {
    page["outgoing_caller_ids"]
        .as_array()
        .expect("array")
        .iter()
        .map(sid_of)
        .collect()
}

/// Follows `next_page_uri` from `first` to the end; returns every page.
pub async fn walk_forward(server: &impl Server, who: &Account, first: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(path) = next {
        let page = list_page(server, who, &path).await;
        if !pages.is_empty() {
            assert_eq!(page["uri"], path.as_str(), "uri echoes the request");
        }
        next = page["next_page_uri"].as_str().map(String::from);
        pages.push(page);
        assert!(pages.len() < 100, "paging does not end");
    }
    pages
}

/// A +1 415 555 01xx number.
pub fn phone(i: usize) -> String {
    format!("+1415555{:04}", 100 + i)
}
