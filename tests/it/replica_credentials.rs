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

/// Sets `key`'s secret in the database, behind the emulators' backs.
async fn set_secret_by_hand(r: &Replicas, key: &str, secret: &str) {
    r.query_i64(&format!(
        "WITH k AS (UPDATE api_keys SET secret = '{secret}' WHERE sid = '{key}' RETURNING 1)
         SELECT count(*) FROM k"
    ))
    .await;
}

/// Deletes `key` through the Twilio API on `server`, as `owner`.
async fn delete_key(server: &Emulator, owner: &Account, key: &Account) {
    let deleted = send(own(
        server,
        owner,
        Method::DELETE,
        &format!("/Keys/{}.json", key.sid),
    ))
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
}

/// Whether `server` answers from its cache: the key's secret is changed in the database
/// behind the emulators' backs, and the old one still works on `server`. Tried a few times,
/// since a replica uses its cache only while it hears its own heartbeats on time.
async fn answers_from_its_cache(
    r: &Replicas,
    server: &Emulator,
    owner: &Account,
    key: &Account,
) -> bool {
    for _ in 0..20 {
        let before = list_status(server, &owner.sid, key).await;
        set_secret_by_hand(r, &key.sid, "changed by hand").await;
        let cached = before == 200 && list_status(server, &owner.sid, key).await == 200;
        set_secret_by_hand(r, &key.sid, &key.token).await;
        if cached {
            return true;
        }
        // A read made while the cache was out of use, and kept as it came back into use, may
        // hold the secret set by hand: a change of the account through the API empties every
        // replica's cache before the next try.
        let renamed =
            send(own(server, owner, Method::POST, ".json").form(&[("FriendlyName", "retried")]))
                .await;
        assert_eq!(renamed.status, 200, "{}", renamed.body);
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
        answers_from_its_cache(&r, b, &parent, &key).await,
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
    delete_key(a, &parent, &key).await;
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

/// A replica that lost its listening connection may have missed invalidations while it was
/// gone: it empties its cache, so after it listens again it reads each credential afresh. The
/// gap is made by cutting every replica's listening connection while the database refuses new
/// connections; a key deleted meanwhile on the first replica is answered once the second's
/// acknowledgement did not come within its wait (it could not hear the invalidation), and the
/// second refuses the key once it listens again, although it had the key cached and its cache
/// is in use again by then.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_that_lost_its_listener_forgets_what_it_had_cached() {
    let Some(r) = Replicas::start("the replica credential cache test", 2, &[]).await else {
        return;
    };
    let (a, b) = (r.at(0), r.at(1));
    let parent = new_account(a).await;
    let key = new_key(a, &parent.sid, Some("deleted while b is deaf")).await;
    assert!(
        answers_from_its_cache(&r, b, &parent, &key).await,
        "the second replica never answered from its cache"
    );

    r.db.allow_connections(false);
    r.db.terminate_where_last_statement("LISTEN");
    let started = std::time::Instant::now();
    delete_key(a, &parent, &key).await;
    let waited = started.elapsed();
    r.db.allow_connections(true);
    assert!(
        waited >= Duration::from_millis(2_500),
        "answered after {waited:?}, before the acknowledgement wait ended"
    );
    assert!(
        a.logs()
            .contains("replicas did not acknowledge a credential change"),
        "{}",
        a.logs()
    );

    // The second replica listens again and uses its cache again (seen with a new key each
    // try, so that no try empties the cache: that would hide what is checked next) ...
    let mut again = false;
    for n in 0..20 {
        let probe = new_key(a, &parent.sid, Some(&format!("probe {n}"))).await;
        let before = list_status(b, &parent.sid, &probe).await;
        set_secret_by_hand(&r, &probe.sid, "changed by hand").await;
        if before == 200 && list_status(b, &parent.sid, &probe).await == 200 {
            again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(again, "the second replica never used its cache again");
    // ... without the key it had cached before the gap.
    assert_eq!(list_status(b, &parent.sid, &key).await, 401);
}
