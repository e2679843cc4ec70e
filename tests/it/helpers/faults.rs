//! Fault rules and the request journal through the control API.

use reqwest::StatusCode;
use serde_json::Value;

use super::client::{send, Server};

/// Makes the fault rule `rule` (`POST /_emulator/faults`); its JSON, with its `id`.
pub async fn add_fault(server: &impl Server, rule: Value) -> Value {
    let reply = send(
        server
            .client()
            .post(server.url("/_emulator/faults"))
            .json(&rule),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.json()
}

/// The fault rules in force (`GET /_emulator/faults`).
pub async fn faults(server: &impl Server) -> Vec<Value> {
    let reply = send(server.client().get(server.url("/_emulator/faults"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()["faults"].as_array().expect("faults").clone()
}

/// The hits of the rule `id`.
pub async fn hits_of(server: &impl Server, id: &str) -> u64 {
    let rules = faults(server).await;
    let rule = rules.iter().find(|r| r["id"] == id).expect("the rule");
    rule["hits"].as_u64().expect("hits")
}

/// The request journal of `account`, oldest first.
pub async fn journal_of(server: &impl Server, account: &str) -> Vec<Value> {
    let url = server.url(&format!(
        "/_emulator/requests?account_sid={account}&limit=1000"
    ));
    let reply = send(server.client().get(url)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mut requests = reply.json()["requests"]
        .as_array()
        .expect("requests")
        .clone();
    requests.reverse();
    requests
}
