use super::*;
use crate::domain::account::AccountStatus;
use crate::domain::sid::AccountSid;

const USER: &str = "AC00000000000000000000000000000001";

fn credential(secret: &str) -> Arc<Credential> {
    Arc::new(Credential {
        secret: secret.to_string(),
        account_sid: AccountSid::parse(USER).expect("sid"),
        key: None,
        owner_account_sid: None,
        status: AccountStatus::Active,
        owner_status: None,
    })
}

/// What `cache` answers for [`USER`]: the secret kept, or `None`.
fn secret(cache: &Cache) -> Option<String> {
    cache.get(USER).ok().map(|c| c.secret.clone())
}

/// Reads [`USER`] as a request would: a miss, then `found` kept under the miss's generation.
fn read_through(cache: &Cache, found: &str) {
    let generation = cache.get(USER).expect_err("a miss");
    cache.keep(USER, &credential(found), generation);
}

/// A cache whose replica just heard its own heartbeat.
fn heard() -> Cache {
    let cache = Cache::new();
    cache.heard_own_heartbeat(cache.now_ms());
    cache
}

#[tokio::test(start_paused = true)]
async fn nothing_is_kept_before_the_replica_hears_its_own_heartbeat() {
    let cache = Cache::new();
    read_through(&cache, "one");
    assert_eq!(secret(&cache), None);
    cache.heard_own_heartbeat(cache.now_ms());
    read_through(&cache, "two");
    assert_eq!(secret(&cache).as_deref(), Some("two"));
}

#[tokio::test(start_paused = true)]
async fn the_cache_goes_unused_past_fresh_after_the_last_heartbeat_sent() {
    let cache = heard();
    read_through(&cache, "one");
    tokio::time::advance(FRESH - Duration::from_millis(10)).await;
    assert_eq!(secret(&cache).as_deref(), Some("one"));
    tokio::time::advance(Duration::from_millis(20)).await;
    assert_eq!(
        secret(&cache),
        None,
        "no heartbeat heard for longer than FRESH"
    );
    // A heartbeat heard late, but sent long ago, does not make it usable again.
    cache.heard_own_heartbeat(0);
    assert_eq!(secret(&cache), None);
    cache.heard_own_heartbeat(cache.now_ms());
    assert_eq!(secret(&cache).as_deref(), Some("one"));
}

#[tokio::test(start_paused = true)]
async fn a_read_overtaken_by_an_invalidation_is_not_kept() {
    let cache = heard();
    read_through(&cache, "old");
    cache.clear();
    assert_eq!(secret(&cache), None);
    // The read began before the invalidation was heard: what it found may be the old value.
    let generation = cache.get(USER).expect_err("a miss");
    cache.clear();
    cache.keep(USER, &credential("maybe old"), generation);
    assert_eq!(secret(&cache), None);
    read_through(&cache, "new");
    assert_eq!(secret(&cache).as_deref(), Some("new"));
}

#[tokio::test(start_paused = true)]
async fn a_lost_listener_empties_the_cache_and_stops_its_use() {
    let cache = heard();
    read_through(&cache, "one");
    cache.lost_listener();
    assert_eq!(secret(&cache), None);
    read_through(&cache, "two");
    assert_eq!(
        secret(&cache),
        None,
        "unused until a heartbeat is heard again"
    );
    cache.heard_own_heartbeat(cache.now_ms());
    assert_eq!(secret(&cache), None, "emptied when the listener was lost");
}

#[test]
fn messages_keep_their_fields_through_the_wire() {
    let ack = Message {
        r: 3,
        a: Some((1, 42)),
        ..Message::default()
    };
    let back: Message = serde_json::from_str(&ack.text()).expect("json");
    assert_eq!(
        (back.r, back.a, back.h, back.i),
        (3, Some((1, 42)), None, None)
    );
    assert_eq!(ack.text(), r#"{"r":3,"a":[1,42]}"#);
}
