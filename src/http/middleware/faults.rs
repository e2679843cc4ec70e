//! Fault rules (`/_emulator/faults`): what a Twilio API request is to meet instead of, or
//! before, its answer. Kept in memory, in the order they were made; the first rule that
//! matches a request and fires is applied to it, and counts a hit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use axum::http::Method;
use serde::Serialize;

use crate::domain::sid::{random_bytes, random_hex32, AccountSid};

/// The resources a rule can name: each list and its instances, with any suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Resource {
    OutgoingCallerIds,
    Calls,
    Accounts,
    Keys,
}

impl Resource {
    pub const ALL: [Resource; 4] = [
        Resource::OutgoingCallerIds,
        Resource::Calls,
        Resource::Accounts,
        Resource::Keys,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::OutgoingCallerIds => "OutgoingCallerIds",
            Resource::Calls => "Calls",
            Resource::Accounts => "Accounts",
            Resource::Keys => "Keys",
        }
    }

    pub fn parse(name: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// A Twilio API request as the rules see it: its method, the account and the resource its
/// path names.
pub struct Target {
    pub method: Method,
    pub account: Option<AccountSid>,
    /// The resource's name as the path has it (`OutgoingCallerIds`, `Accounts`, …), without
    /// its suffix.
    pub resource: Option<String>,
}

fn strip_suffix(segment: &str) -> &str {
    segment.split('.').next().unwrap_or(segment)
}

impl Target {
    /// `/2010-04-01/Accounts[.json]`, `/2010-04-01/Accounts/{Sid}[.json]` (resource
    /// `Accounts`) and `/2010-04-01/Accounts/{Sid}/{Resource}[/…]`.
    pub fn of(method: &Method, path: &str) -> Target {
        let mut segments = path.trim_start_matches('/').split('/').skip(1);
        let accounts = segments.next().map(strip_suffix);
        let account = segments.next().map(strip_suffix);
        let resource = match (accounts, account, segments.next()) {
            (Some("Accounts"), _, Some(name)) => Some(strip_suffix(name).to_string()),
            (Some("Accounts"), _, None) => Some("Accounts".to_string()),
            (other, _, _) => other.map(str::to_string),
        };
        Target {
            method: method.clone(),
            account: account.and_then(AccountSid::parse),
            resource,
        }
    }
}

/// What a rule does to the requests it fires on.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Action {
    /// Answer with Twilio's error body for `code`, and `Retry-After` when given; the request
    /// is not processed.
    Status {
        status: u16,
        code: u32,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after: Option<u32>,
    },
    /// Wait, then process the request and answer as usual.
    Delay { delay_ms: u64 },
    /// Close the connection without an answer; the request is not processed.
    Drop { drop: bool },
}

/// A rule as made through the control API.
#[derive(Clone, Debug, Serialize)]
pub struct Rule {
    pub id: String,
    pub account_sid: Option<AccountSid>,
    #[serde(serialize_with = "method_name")]
    pub method: Option<Method>,
    pub resource: Option<Resource>,
    /// Fires on this many requests in all, then no more.
    pub times: Option<u32>,
    /// Fires on each matching request with this chance.
    pub probability: Option<f64>,
    pub action: Action,
    /// The requests it has fired on.
    pub hits: u64,
}

fn method_name<S: serde::Serializer>(method: &Option<Method>, s: S) -> Result<S::Ok, S::Error> {
    match method {
        Some(m) => s.serialize_str(m.as_str()),
        None => s.serialize_none(),
    }
}

impl Rule {
    /// A new rule's id: `FR` and 32 hex digits.
    pub fn new_id() -> String {
        format!("FR{}", random_hex32())
    }

    fn matches(&self, target: &Target) -> bool {
        let exhausted = self.times.is_some_and(|t| self.hits >= u64::from(t));
        // hyper writes the head of a HEAD answer without reading its body, so a drop cannot
        // be done there; such requests pass a drop rule by.
        let undroppable =
            target.method == Method::HEAD && matches!(self.action, Action::Drop { .. });
        !exhausted
            && !undroppable
            && self
                .account_sid
                .as_ref()
                .is_none_or(|a| target.account.as_ref() == Some(a))
            && self.method.as_ref().is_none_or(|m| *m == target.method)
            && self
                .resource
                .is_none_or(|r| target.resource.as_deref() == Some(r.as_str()))
    }
}

/// A fault applied to a request: the rule's id and its action, for the request journal.
#[derive(Clone, Debug, Serialize)]
pub struct Applied {
    pub id: String,
    pub action: Action,
}

/// The rules in force.
#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
    /// How many rules there are, so that a request checks no lock while there are none.
    count: AtomicUsize,
}

impl Faults {
    pub fn add(&self, rule: Rule) {
        if let Ok(mut rules) = self.rules.lock() {
            rules.push(rule);
            self.count.store(rules.len(), Ordering::Release);
        }
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    pub fn list(&self) -> Vec<Rule> {
        self.rules.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Removes the rule `id`; whether there was one.
    pub fn remove(&self, id: &str) -> bool {
        let Ok(mut rules) = self.rules.lock() else {
            return false;
        };
        let before = rules.len();
        rules.retain(|r| r.id != id);
        self.count.store(rules.len(), Ordering::Release);
        rules.len() < before
    }

    pub fn clear(&self) {
        if let Ok(mut rules) = self.rules.lock() {
            rules.clear();
            self.count.store(0, Ordering::Release);
        }
    }

    /// The fault `target` meets, if any: the first matching rule that fires (a rule with a
    /// probability fires on a roll of the dice; one that does not lets the next rule try),
    /// with its hit counted.
    pub fn apply(&self, target: &Target) -> Option<Applied> {
        if self.is_empty() {
            return None;
        }
        let mut rules = self.rules.lock().ok()?;
        let rule = rules
            .iter_mut()
            .filter(|r| r.matches(target))
            .find(|r| r.probability.is_none_or(|p| chance() < p))?;
        rule.hits += 1;
        Some(Applied {
            id: rule.id.clone(),
            action: rule.action.clone(),
        })
    }
}

/// A uniform number in [0, 1).
fn chance() -> f64 {
    (u64::from_le_bytes(random_bytes::<8>()) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(times: Option<u32>, probability: Option<f64>) -> Rule {
        Rule {
            id: Rule::new_id(),
            account_sid: AccountSid::parse("AC0123456789abcdef0123456789abcdef"),
            method: Some(Method::GET),
            resource: Some(Resource::OutgoingCallerIds),
            times,
            probability,
            action: Action::Delay { delay_ms: 1 },
            hits: 0,
        }
    }

    #[test]
    fn targets_from_paths() {
        let t = Target::of(
            &Method::GET,
            "/2010-04-01/Accounts/AC0123456789ABCDEF0123456789abcdef/OutgoingCallerIds/PN1.csv",
        );
        assert_eq!(t.resource.as_deref(), Some("OutgoingCallerIds"));
        assert_eq!(
            t.account.as_ref().map(AccountSid::as_str),
            Some("AC0123456789abcdef0123456789abcdef")
        );
        let t = Target::of(&Method::GET, "/2010-04-01/Accounts.json");
        assert_eq!((t.resource.as_deref(), t.account), (Some("Accounts"), None));
        let t = Target::of(
            &Method::POST,
            "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef.xml",
        );
        assert_eq!(t.resource.as_deref(), Some("Accounts"));
        assert!(t.account.is_some());
    }

    #[test]
    fn times_then_exhausted_and_probability_zero_never_fires() {
        let faults = Faults::default();
        faults.add(rule(Some(2), None));
        let path = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/OutgoingCallerIds.json";
        let get = Target::of(&Method::GET, path);
        assert!(faults.apply(&Target::of(&Method::POST, path)).is_none());
        assert!(faults.apply(&get).is_some());
        assert!(faults.apply(&get).is_some());
        assert!(faults.apply(&get).is_none());
        assert_eq!(faults.list()[0].hits, 2);
        faults.clear();
        faults.add(rule(None, Some(0.0)));
        faults.add(rule(Some(1), Some(1.0)));
        let second = faults.list()[1].id.clone();
        assert_eq!(faults.apply(&get).map(|a| a.id), Some(second.clone()));
        assert!(faults.apply(&get).is_none());
        assert!(faults.remove(&second));
        assert!(!faults.remove(&second));
        faults.clear();
        faults.add(Rule {
            method: None,
            action: Action::Drop { drop: true },
            ..rule(None, None)
        });
        assert!(faults.apply(&Target::of(&Method::HEAD, path)).is_none());
        assert!(faults.apply(&get).is_some());
    }
}
