//! Each replica keeps the credentials it read, and a write that changes one is answered only
//! once every replica's cache let go of it: two real binaries on one PostgreSQL database,
//! each write made on one and the credential tried on the other right after the answer.
//! Needs `CALLERID_TEST_POSTGRES_URL` (skipped without it outside CI).

use std::time::Duration;

use reqwest::Method;

use crate::helpers::replicas::Replicas;
use crate::helpers::subaccounts::{control_set_status, new_subaccount, set_status};
use crate::helpers::{new_account, new_key, own, send, Account, Emulator, Server};

/// The status of listing caller IDs on `server` as `who`, on `account`'s path.
async fn list_status(server: &Emulator, account: &str, who: &Account) -> u16 {
    server.list(account, &who.sid, &who.token).await.0
}

/// Whether `server` answers from its cache: the key's secret is changed in the database
/// behind the emulators' backs, and the old one still works on `server`. Tried a few times,
/// since a replica uses its cache only while it hears its own heartbeats on time.
async fn answers_from_its_cache(
    r: &Replicas,
    server: &Emulator,
    owner: &str,
    key: &Account,
) -> bool {
    for _ in 0..20 {
        assert_eq!(list_status(server, owner, key).await, 200);
        r.query_i64(&format!(
            "WITH k AS (UPDATE api_keys SET secret = 'changed by hand' WHERE sid = '{}' RETURNING 1)
             SELECT count(*) FROM k",
            key.sid
        ))
        .await;
        let cached = list_status(server, owner, key).await == 200;
        r.query_i64(&format!(
            "WITH k AS (UPDATE api_keys SET secret = '{}' WHERE sid = '{}' RETURNING 1)
             SELECT count(*) FROM k",
            key.token, key.sid
        ))
        .await;
        if cached {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_credential_changed_on_one_replica_is_refused_on_the_other_at_once() {
    let Some(r) = Replicas::start("the replica credential cache test", 2, &[]).await else {
        return;
    };
    let (a, b) = (r.at(0), r.at(1));
    let parent = new_account(a).await;
    let key = new_key(a, &parent.sid, Some("cached")).await;
    let (sub, _) = new_subaccount(a, &parent, None).await;

    // The other replica keeps what it read: a change made behind its back is not seen.
    assert!(
        answers_from_its_cache(&r, b, &parent.sid, &key).await,
        "the second replica never answered from its cache"
    );

    // A subaccount suspended through the Twilio API on one replica is not active on the
    // other as soon as the answer came, though the other had it cached.
    assert_eq!(list_status(b, &sub.sid, &sub).await, 200);
    assert_eq!(list_status(b, &sub.sid, &sub).await, 200);
    set_status(a, &parent, &sub.sid, "suspended").await;
    assert_eq!(list_status(b, &sub.sid, &sub).await, 401);
    // And back, through the control API of the other replica.
    control_set_status(b, &sub.sid, "active").await;
    assert_eq!(list_status(a, &sub.sid, &sub).await, 200);

    // A key deleted on one replica is refused on the other at once.
    assert_eq!(list_status(b, &parent.sid, &key).await, 200);
    let deleted = send(own(
        a,
        &parent,
        Method::DELETE,
        &format!("/Keys/{}.json", key.sid),
    ))
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(list_status(b, &parent.sid, &key).await, 401);

    // An account deleted on the other replica is refused on the first at once.
    assert_eq!(list_status(a, &parent.sid, &parent).await, 200);
    let gone = send(
        b.client()
            .delete(b.url(&format!("/_emulator/accounts/{}", parent.sid))),
    )
    .await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    assert_eq!(list_status(a, &parent.sid, &parent).await, 401);
}
