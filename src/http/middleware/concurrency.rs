//! `--max-concurrent-requests`: the requests of each account in flight, counted by the
//! AccountSid in the path, and the permit a request holds until its response has been sent.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::response::Response;
use hyper::body::{Frame, SizeHint};

use crate::domain::sid::AccountSid;

/// The requests in flight per account, against a limit (none: nothing is counted).
#[derive(Clone)]
pub struct AccountLimiter {
    limit: Option<u32>,
    in_flight: Arc<Mutex<HashMap<AccountSid, u32>>>,
}

/// An account is at its limit: the request is to be refused.
#[derive(Debug)]
pub struct AtLimit;

impl AccountLimiter {
    pub fn new(limit: Option<u32>) -> AccountLimiter {
        AccountLimiter {
            limit,
            in_flight: Arc::default(),
        }
    }

    /// Whether a limit is set.
    pub fn is_on(&self) -> bool {
        self.limit.is_some()
    }

    /// Counts one more request of `account` in flight, or refuses it when the account has as
    /// many as the limit already. `None` when nothing is counted (no limit, or no account).
    pub fn enter(&self, account: Option<AccountSid>) -> Result<Option<Permit>, AtLimit> {
        let (Some(limit), Some(account)) = (self.limit, account) else {
            return Ok(None);
        };
        let Ok(mut in_flight) = self.in_flight.lock() else {
            return Ok(None);
        };
        let count = in_flight.entry(account.clone()).or_insert(0);
        if *count >= limit {
            return Err(AtLimit);
        }
        *count += 1;
        Ok(Some(Permit {
            in_flight: self.in_flight.clone(),
            account,
        }))
    }
}

/// One request of an account in flight; dropping it counts the request done.
pub struct Permit {
    in_flight: Arc<Mutex<HashMap<AccountSid, u32>>>,
    account: AccountSid,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Ok(mut in_flight) = self.in_flight.lock() {
            if let Some(count) = in_flight.get_mut(&self.account) {
                *count -= 1;
                if *count == 0 {
                    in_flight.remove(&self.account);
                }
            }
        }
    }
}

impl Permit {
    /// `response` with this permit held by its body, so that the request counts as in flight
    /// until the body has been sent (or the connection is gone).
    pub fn hold_until_sent(self, response: Response) -> Response {
        let (parts, body) = response.into_parts();
        Response::from_parts(
            parts,
            Body::new(HeldBody {
                inner: body,
                _permit: self,
            }),
        )
    }
}

struct HeldBody {
    inner: Body,
    _permit: Permit,
}

impl HttpBody for HeldBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_account_and_releases_on_drop() {
        let limiter = AccountLimiter::new(Some(2));
        let a = AccountSid::parse("AC0123456789abcdef0123456789abcdef");
        let b = AccountSid::parse("AC1123456789abcdef0123456789abcdef");
        let first = limiter.enter(a.clone()).expect("1 of 2");
        let second = limiter.enter(a.clone()).expect("2 of 2");
        assert!(first.is_some() && second.is_some());
        assert!(limiter.enter(a.clone()).is_err(), "a third is refused");
        assert!(limiter.enter(b.clone()).expect("another account").is_some());
        assert!(limiter.enter(None).expect("no account").is_none());
        drop(first);
        assert!(limiter.enter(a.clone()).expect("released").is_some());
        let off = AccountLimiter::new(None);
        for _ in 0..10 {
            assert!(off.enter(a.clone()).expect("no limit").is_none());
        }
    }
}
