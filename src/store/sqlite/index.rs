//! Every caller ID, in memory, for the reads: fetch, list pages and filters, and the
//! already-verified check. SQLite stays the record; this index is loaded from it at start-up
//! and changed only through `Write::commit`, after each write commits and before it gives up
//! the writer's turn, so it applies changes in commit order and never shows what SQLite does
//! not hold.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use crate::domain::caller_id::{CallerId, Cursor, ListFilter, Page, PhoneFilter};
use crate::domain::sid::{AccountSid, CallerIdSid};

/// A row, ordered and looked up by its sid, so that every set of rows shares the row itself
/// instead of a copy of its sid.
#[derive(Clone)]
struct BySid(Arc<CallerId>);

impl Borrow<str> for BySid {
    fn borrow(&self) -> &str {
        self.0.sid.as_str()
    }
}

impl PartialEq for BySid {
    fn eq(&self, other: &Self) -> bool {
        self.0.sid == other.0.sid
    }
}

impl Eq for BySid {}

impl PartialOrd for BySid {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BySid {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.sid.cmp(&other.0.sid)
    }
}

/// One account's caller IDs, in sid order (which is creation order), with an index per filter.
#[derive(Default)]
struct AccountIds {
    rows: BTreeSet<BySid>,
    by_name: HashMap<String, BTreeSet<BySid>>,
    by_phone: HashMap<String, BySid>,
}

#[derive(Default)]
pub(super) struct CallerIdIndex {
    accounts: HashMap<AccountSid, AccountIds>,
}

/// The rows a list walks through, before paging.
enum Candidates<'a> {
    Set(&'a BTreeSet<BySid>),
    One(Option<&'a BySid>),
}

type RowIter<'a> = Box<dyn DoubleEndedIterator<Item = &'a BySid> + 'a>;

impl<'a> Candidates<'a> {
    fn range(&self, lo: Bound<&str>, hi: Bound<&str>) -> RowIter<'a> {
        match *self {
            Candidates::Set(rows) => Box::new(rows.range::<str, _>((lo, hi))),
            Candidates::One(row) => {
                Box::new(row.filter(|r| within(lo, hi, r.0.sid.as_str())).into_iter())
            }
        }
    }
}

fn within(lo: Bound<&str>, hi: Bound<&str>, s: &str) -> bool {
    let above = match lo {
        Bound::Included(lo) => s >= lo,
        Bound::Excluded(lo) => s > lo,
        Bound::Unbounded => true,
    };
    let below = match hi {
        Bound::Included(hi) => s <= hi,
        Bound::Excluded(hi) => s < hi,
        Bound::Unbounded => true,
    };
    above && below
}

impl AccountIds {
    fn of(rows: Vec<Arc<CallerId>>) -> AccountIds {
        let mut by_name: HashMap<String, Vec<BySid>> = HashMap::new();
        let mut by_phone = HashMap::with_capacity(rows.len());
        for row in &rows {
            by_name
                .entry(row.friendly_name.to_string())
                .or_default()
                .push(BySid(row.clone()));
            by_phone.insert(row.phone_number.to_string(), BySid(row.clone()));
        }
        AccountIds {
            rows: rows.into_iter().map(BySid).collect(),
            by_name: by_name
                .into_iter()
                .map(|(name, rows)| (name, rows.into_iter().collect()))
                .collect(),
            by_phone,
        }
    }

    fn insert(&mut self, row: Arc<CallerId>) {
        self.by_name
            .entry(row.friendly_name.to_string())
            .or_default()
            .insert(BySid(row.clone()));
        self.by_phone
            .insert(row.phone_number.to_string(), BySid(row.clone()));
        self.rows.insert(BySid(row));
    }

    fn remove(&mut self, sid: &str) -> Option<Arc<CallerId>> {
        let BySid(row) = self.rows.take(sid)?;
        if let Some(rows) = self.by_name.get_mut(row.friendly_name.as_str()) {
            rows.remove(sid);
            if rows.is_empty() {
                self.by_name.remove(row.friendly_name.as_str());
            }
        }
        if self
            .by_phone
            .get(row.phone_number.as_str())
            .is_some_and(|r| r.0.sid.as_str() == sid)
        {
            self.by_phone.remove(row.phone_number.as_str());
        }
        Some(row)
    }

    fn candidates(&self, filter: &ListFilter<'_>) -> Candidates<'_> {
        static NONE: BTreeSet<BySid> = BTreeSet::new();
        match filter.phone_number {
            PhoneFilter::Any => {}
            PhoneFilter::NoNumber => return Candidates::One(None),
            PhoneFilter::Number(phone) => {
                let row = self.by_phone.get(phone.as_str()).filter(|r| {
                    filter
                        .friendly_name
                        .is_none_or(|name| r.0.friendly_name.as_str() == name)
                });
                return Candidates::One(row);
            }
        }
        match filter.friendly_name {
            Some(name) => Candidates::Set(self.by_name.get(name).unwrap_or(&NONE)),
            None => Candidates::Set(&self.rows),
        }
    }
}

impl CallerIdIndex {
    /// The index of `rows`, which come in sid order: each set is built in one go from sorted
    /// input rather than row by row.
    pub(super) fn load(rows: Vec<CallerId>) -> CallerIdIndex {
        let mut by_account: HashMap<AccountSid, Vec<Arc<CallerId>>> = HashMap::new();
        for row in rows {
            by_account
                .entry(row.account_sid.clone())
                .or_default()
                .push(Arc::new(row));
        }
        CallerIdIndex {
            accounts: by_account
                .into_iter()
                .map(|(account, rows)| (account, AccountIds::of(rows)))
                .collect(),
        }
    }

    pub(super) fn get(&self, account: &AccountSid, sid: &CallerIdSid) -> Option<Arc<CallerId>> {
        Some(
            self.accounts
                .get(account)?
                .rows
                .get(sid.as_str())?
                .0
                .clone(),
        )
    }

    /// The account owning `sid`, if any does.
    pub(super) fn owner(&self, sid: &CallerIdSid) -> Option<AccountSid> {
        self.accounts
            .iter()
            .find(|(_, ids)| ids.rows.contains(sid.as_str()))
            .map(|(account, _)| account.clone())
    }

    pub(super) fn has_number(&self, account: &AccountSid, phone: &str) -> bool {
        self.accounts
            .get(account)
            .is_some_and(|ids| ids.by_phone.contains_key(phone))
    }

    /// Adds a caller ID, or replaces the one with its sid.
    pub(super) fn put(&mut self, row: CallerId) -> Arc<CallerId> {
        let row = Arc::new(row);
        let ids = self.accounts.entry(row.account_sid.clone()).or_default();
        ids.remove(row.sid.as_str());
        ids.insert(row.clone());
        row
    }

    pub(super) fn remove(&mut self, account: &AccountSid, sid: &CallerIdSid) -> bool {
        self.accounts
            .get_mut(account)
            .and_then(|ids| ids.remove(sid.as_str()))
            .is_some()
    }

    pub(super) fn remove_account(&mut self, account: &AccountSid) {
        self.accounts.remove(account);
    }

    pub(super) fn clear(&mut self) {
        self.accounts.clear();
    }

    /// One page in sid order, with whether rows exist beyond each end: the rows after the
    /// cursor (or before it, walking back), and a look past the far end and behind the token.
    pub(super) fn page(
        &self,
        account: &AccountSid,
        filter: &ListFilter<'_>,
        cursor: &Cursor,
        page_size: u32,
    ) -> Page {
        let empty = Page {
            rows: Vec::new(),
            has_more_after: false,
            has_more_before: false,
        };
        let Some(ids) = self.accounts.get(account) else {
            return empty;
        };
        let found = ids.candidates(filter);
        let size = page_size as usize;
        let take = |rows: RowIter<'_>| -> Vec<Arc<CallerId>> {
            rows.take(size + 1).map(|r| r.0.clone()).collect()
        };
        match cursor {
            Cursor::Start => {
                let mut rows = take(found.range(Bound::Unbounded, Bound::Unbounded));
                let beyond = rows.len() > size;
                rows.truncate(size);
                Page {
                    rows,
                    has_more_after: beyond,
                    has_more_before: false,
                }
            }
            Cursor::After(token) => {
                let token = token.as_str();
                let mut rows = take(found.range(Bound::Excluded(token), Bound::Unbounded));
                let beyond = rows.len() > size;
                rows.truncate(size);
                Page {
                    rows,
                    has_more_after: beyond,
                    // Rows up to the token's sid were the pages before (unless all were deleted).
                    has_more_before: found
                        .range(Bound::Unbounded, Bound::Included(token))
                        .next()
                        .is_some(),
                }
            }
            Cursor::Before(token) => {
                let token = token.as_str();
                let mut rows = take(Box::new(
                    found.range(Bound::Unbounded, Bound::Excluded(token)).rev(),
                ));
                let beyond = rows.len() > size;
                rows.truncate(size);
                rows.reverse();
                Page {
                    rows,
                    // Rows from the token's sid onwards were the page we came back from.
                    has_more_after: found
                        .range(Bound::Included(token), Bound::Unbounded)
                        .next()
                        .is_some(),
                    has_more_before: beyond,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::caller_id::FriendlyName;
    use crate::domain::PhoneNumber;

    fn row(n: u32, name: &str) -> CallerId {
        CallerId {
            sid: CallerIdSid::parse(&format!("PN{n:032}")).expect("sid"),
            account_sid: ac(),
            phone_number: PhoneNumber::parse(&format!("+1415555{n:04}")).expect("number"),
            friendly_name: FriendlyName::parse(name).expect("name"),
            date_created: 0,
            date_updated: 0,
            json: Default::default(),
        }
    }

    fn sids(page: &Page) -> Vec<String> {
        page.rows
            .iter()
            .map(|r| r.sid.as_str()[30..].to_string())
            .collect()
    }

    fn ac() -> AccountSid {
        AccountSid::parse("AC00000000000000000000000000000001").expect("sid")
    }

    #[test]
    fn pages_walk_forward_and_back_with_a_filter() {
        let index = CallerIdIndex::load(
            (1..=7)
                .map(|n| row(n, if n % 2 == 1 { "odd" } else { "even" }))
                .collect(),
        );
        let odd = ListFilter {
            phone_number: PhoneFilter::Any,
            friendly_name: Some("odd"),
        };
        let first = index.page(&ac(), &odd, &Cursor::Start, 2);
        assert_eq!(sids(&first), ["0001", "0003"]);
        assert!(first.has_more_after && !first.has_more_before);
        let token = first.rows[1].sid.clone();
        let second = index.page(&ac(), &odd, &Cursor::After(token), 2);
        assert_eq!(sids(&second), ["0005", "0007"]);
        assert!(!second.has_more_after && second.has_more_before);
        let token = second.rows[0].sid.clone();
        let back = index.page(&ac(), &odd, &Cursor::Before(token), 2);
        assert_eq!(sids(&back), ["0001", "0003"]);
        assert!(back.has_more_after && !back.has_more_before);
    }

    #[test]
    fn phone_filter_finds_one_row_and_respects_the_name() {
        let mut index = CallerIdIndex::load((1..=3).map(|n| row(n, "x")).collect());
        let phone = PhoneNumber::parse("+14155550002").expect("number");
        let by_phone = |name| ListFilter {
            phone_number: PhoneFilter::Number(&phone),
            friendly_name: name,
        };
        assert_eq!(
            sids(&index.page(&ac(), &by_phone(None), &Cursor::Start, 50)),
            ["0002"]
        );
        assert!(index
            .page(&ac(), &by_phone(Some("y")), &Cursor::Start, 50)
            .rows
            .is_empty());
        // A rename moves the row between name sets; a delete frees the number.
        let mut renamed = row(2, "y");
        renamed.date_updated = 5;
        index.put(renamed);
        assert_eq!(
            index
                .page(&ac(), &by_phone(Some("y")), &Cursor::Start, 50)
                .rows
                .len(),
            1
        );
        assert!(index.remove(&ac(), &row(2, "y").sid));
        assert!(!index.has_number(&ac(), "+14155550002"));
        assert_eq!(index.owner(&row(1, "x").sid), Some(ac()));
        assert_eq!(index.owner(&row(2, "x").sid), None);
    }
}
