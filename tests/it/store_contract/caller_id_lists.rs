//! Lists of caller IDs: sid order, paging both ways with whether rows lie beyond each end,
//! and the PhoneNumber and FriendlyName filters.

use callerid_emulator::domain::caller_id::{Cursor, ListFilter, Page, PhoneFilter};
use callerid_emulator::domain::sid::{AccountSid, CallerIdSid};
use callerid_emulator::store::Store;

use super::fixtures::*;

/// One page: its sids and (has_more_before, has_more_after).
async fn page(
    s: &Store,
    account: &AccountSid,
    filter: ListFilter<'_>,
    cursor: Cursor,
    size: u32,
) -> (Vec<CallerIdSid>, (bool, bool)) {
    let Page {
        rows,
        has_more_after,
        has_more_before,
    } = s
        .list_caller_ids(account, filter, &cursor, size)
        .await
        .expect("list");
    (
        rows.iter().map(|r| r.sid.clone()).collect(),
        (has_more_before, has_more_after),
    )
}

/// `n` caller IDs on `account` (numbers 1..=n), named by `name_of`, in insertion order.
async fn seed(
    s: &Store,
    account: &AccountSid,
    n: u32,
    name_of: impl Fn(u32) -> &'static str,
) -> Vec<CallerIdSid> {
    let mut sids = Vec::new();
    for i in 1..=n {
        let new = new_caller_id(account, &phone(i), name_of(i));
        sids.push(new.sid.clone());
        s.insert_caller_id(new).await.expect("insert");
    }
    sids
}

const ALL: ListFilter<'static> = ListFilter {
    phone_number: PhoneFilter::Any,
    friendly_name: None,
};

contract_tests! {
    /// Pages walk forward with `After` and back with `Before`, in sid order, each saying
    /// whether rows lie before and after it.
    async fn pages_walk_forward_and_back(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let other = new_account(s).await;
        seed(s, &other, 3, |_| "other").await;
        let ids = seed(s, &a, 5, |_| "same").await;
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids, "generated sids sort in creation order");

        let whole = page(s, &a, ALL, Cursor::Start, 50).await;
        assert_eq!(whole, (ids.clone(), (false, false)));
        let exact = page(s, &a, ALL, Cursor::Start, 5).await;
        assert_eq!(exact, (ids.clone(), (false, false)));

        let first = page(s, &a, ALL, Cursor::Start, 2).await;
        assert_eq!(first, (ids[0..2].to_vec(), (false, true)));
        let second = page(s, &a, ALL, Cursor::After(ids[1].clone()), 2).await;
        assert_eq!(second, (ids[2..4].to_vec(), (true, true)));
        let last = page(s, &a, ALL, Cursor::After(ids[3].clone()), 2).await;
        assert_eq!(last, (ids[4..5].to_vec(), (true, false)));
        let beyond = page(s, &a, ALL, Cursor::After(ids[4].clone()), 2).await;
        assert_eq!(beyond, (vec![], (true, false)));

        let back = page(s, &a, ALL, Cursor::Before(ids[4].clone()), 2).await;
        assert_eq!(back, (ids[2..4].to_vec(), (true, true)));
        let front = page(s, &a, ALL, Cursor::Before(ids[2].clone()), 2).await;
        assert_eq!(front, (ids[0..2].to_vec(), (false, true)));
        let before_all = page(s, &a, ALL, Cursor::Before(ids[0].clone()), 2).await;
        assert_eq!(before_all, (vec![], (false, true)));

        // An account with none, and an unknown account: an empty page.
        let none = new_account(s).await;
        assert_eq!(
            page(s, &none, ALL, Cursor::Start, 2).await,
            (vec![], (false, false))
        );
        let unknown = AccountSid::generate();
        assert_eq!(
            page(s, &unknown, ALL, Cursor::Start, 2).await,
            (vec![], (false, false))
        );
    }

    /// A page token names a place in sid order, not a row: it still works once its row is
    /// deleted.
    async fn a_cursor_outlives_its_row(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let ids = seed(s, &a, 5, |_| "x").await;
        assert!(s.delete_caller_id(&a, &ids[1]).await.expect("delete"));
        let after = page(s, &a, ALL, Cursor::After(ids[1].clone()), 2).await;
        assert_eq!(after, (ids[2..4].to_vec(), (true, true)));
        assert!(s.delete_caller_id(&a, &ids[3]).await.expect("delete"));
        let before = page(s, &a, ALL, Cursor::Before(ids[3].clone()), 2).await;
        assert_eq!(
            before,
            (vec![ids[0].clone(), ids[2].clone()], (false, true))
        );
        // Every row before the token gone: nothing before.
        assert!(s.delete_caller_id(&a, &ids[0]).await.expect("delete"));
        let after = page(s, &a, ALL, Cursor::After(ids[1].clone()), 5).await;
        assert_eq!(
            after,
            (vec![ids[2].clone(), ids[4].clone()], (false, false))
        );
    }

    /// The PhoneNumber filter finds the one row with the number; a number the account does
    /// not hold, or no number at all, matches nothing.
    async fn the_phone_number_filter(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let other = new_account(s).await;
        let ids = seed(s, &a, 3, |i| if i == 2 { "two" } else { "other" }).await;
        seed(s, &other, 4, |_| "theirs").await;
        let number = phone(2);
        let by = |phone_number, friendly_name| ListFilter {
            phone_number,
            friendly_name,
        };

        let one = page(
            s,
            &a,
            by(PhoneFilter::Number(&number), None),
            Cursor::Start,
            50,
        )
        .await;
        assert_eq!(one, (vec![ids[1].clone()], (false, false)));
        let absent = phone(4);
        let found = page(
            s,
            &a,
            by(PhoneFilter::Number(&absent), None),
            Cursor::Start,
            50,
        )
        .await;
        assert_eq!(
            found,
            (vec![], (false, false)),
            "+14155550004 is another account's"
        );
        let found = page(s, &a, by(PhoneFilter::NoNumber, None), Cursor::Start, 50).await;
        assert_eq!(found, (vec![], (false, false)));
        let found = page(
            s,
            &a,
            by(PhoneFilter::NoNumber, Some("two")),
            Cursor::Start,
            50,
        )
        .await;
        assert_eq!(found, (vec![], (false, false)));

        // With a FriendlyName as well: both must match.
        let both = by(PhoneFilter::Number(&number), Some("two"));
        assert_eq!(
            page(s, &a, both, Cursor::Start, 50).await.0,
            vec![ids[1].clone()]
        );
        let mismatch = by(PhoneFilter::Number(&number), Some("other"));
        assert_eq!(page(s, &a, mismatch, Cursor::Start, 50).await.0, []);

        // Paged around its row.
        let filter = by(PhoneFilter::Number(&number), None);
        let after = page(s, &a, filter, Cursor::After(ids[0].clone()), 1).await;
        assert_eq!(after, (vec![ids[1].clone()], (false, false)));
        let after = page(s, &a, filter, Cursor::After(ids[1].clone()), 1).await;
        assert_eq!(after, (vec![], (true, false)));
        let before = page(s, &a, filter, Cursor::Before(ids[1].clone()), 1).await;
        assert_eq!(before, (vec![], (false, true)));
    }

    /// The FriendlyName filter matches the exact name, pages like the whole list, and never
    /// shows another account's rows.
    async fn the_friendly_name_filter(b: Backend) {
        let s = &b.store;
        let a = new_account(s).await;
        let other = new_account(s).await;
        let ids = seed(s, &a, 6, |i| if i % 2 == 0 { "team" } else { "solo" }).await;
        seed(s, &other, 3, |_| "team").await;
        let team = ListFilter {
            friendly_name: Some("team"),
            ..ALL
        };
        let evens: Vec<CallerIdSid> = vec![ids[1].clone(), ids[3].clone(), ids[5].clone()];

        assert_eq!(
            page(s, &a, team, Cursor::Start, 50).await,
            (evens.clone(), (false, false))
        );
        let first = page(s, &a, team, Cursor::Start, 2).await;
        assert_eq!(first, (evens[0..2].to_vec(), (false, true)));
        let next = page(s, &a, team, Cursor::After(evens[1].clone()), 2).await;
        assert_eq!(next, (evens[2..3].to_vec(), (true, false)));
        let back = page(s, &a, team, Cursor::Before(evens[2].clone()), 2).await;
        assert_eq!(back, (evens[0..2].to_vec(), (false, true)));
        // A token from between two matches (a "solo" row) places the page as well.
        let between = page(s, &a, team, Cursor::After(ids[2].clone()), 5).await;
        assert_eq!(between, (evens[1..3].to_vec(), (true, false)));

        for absent in ["Team", "tea", "team ", "nobody"] {
            let filter = ListFilter {
                friendly_name: Some(absent),
                ..ALL
            };
            assert_eq!(
                page(s, &a, filter, Cursor::Start, 50).await.0,
                [],
                "{absent:?}"
            );
        }
    }
}
