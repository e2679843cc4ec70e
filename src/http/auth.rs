//! HTTP Basic authentication as api.twilio.com does it: `AccountSid:AuthToken`, or an API key
//! `SK…:secret` that belongs to the account. Which accounts and areas a credential reaches is
//! [`crate::domain::account::access`].

use axum::http::{header, HeaderMap};
use base64::Engine as _;

use super::error::{ApiError, AuthFailure};
use crate::domain::account::{Area, Denied};
use crate::domain::sid::AccountSid;
use crate::service::Service;

/// Compares secrets in time independent of where they first differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The decoded `user:password` of a Basic `Authorization` header.
struct Basic {
    decoded: String,
    colon: usize,
}

impl Basic {
    fn user(&self) -> &str {
        &self.decoded[..self.colon]
    }

    fn password(&self) -> &str {
        &self.decoded[self.colon + 1..]
    }
}

/// The `user:password` pair of a Basic `Authorization` header.
fn basic_credentials(headers: &HeaderMap) -> Option<Basic> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let colon = decoded.find(':')?;
    Some(Basic { decoded, colon })
}

/// Who a request acts as, and for which account.
pub struct Authenticated {
    /// The account the request reaches: the path's, or the credential's own.
    pub account: AccountSid,
    /// The account the credentials belong to (the parent, when a parent reaches a
    /// subaccount).
    pub acting: AccountSid,
}

/// Authenticates the request for `area` of the account named in its path (`None`: the
/// credential's own account, as `/Accounts` is). Wrong credentials, and right credentials
/// for an account they do not reach, are both 401 20003; an account that is not active is
/// 401 20005.
pub async fn authenticate(
    service: &Service,
    headers: &HeaderMap,
    path_account: Option<&str>,
    area: Area,
) -> Result<Authenticated, ApiError> {
    let basic =
        basic_credentials(headers).ok_or(ApiError::unauthenticated(AuthFailure::NoCredentials))?;
    let (user, password) = (basic.user(), basic.password());
    if !(user.starts_with("AC") || user.starts_with("SK")) {
        return Err(ApiError::unauthenticated(AuthFailure::InvalidUsername));
    }
    // An account's auth token or an API key's secret.
    let credential = service
        .credential(user)
        .await?
        .ok_or(ApiError::unauthenticated(AuthFailure::InvalidUsername))?;
    if !same_secret(&credential.secret, password) {
        return Err(ApiError::unauthenticated(AuthFailure::WrongPassword));
    }
    let target = match path_account {
        None => credential.account_sid.clone(),
        Some(raw) => {
            AccountSid::parse(raw).ok_or(ApiError::unauthenticated(AuthFailure::WrongPassword))?
        }
    };
    match service.access(&credential, &target, area).await? {
        Ok(()) => Ok(Authenticated {
            account: target,
            acting: credential.account_sid.clone(),
        }),
        Err(Denied::NotYours) => Err(ApiError::unauthenticated(AuthFailure::WrongPassword)),
        Err(Denied::NotActive) => Err(ApiError::not_active()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_header() {
        let mut h = HeaderMap::new();
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ACx:to:ken")
        );
        h.insert(header::AUTHORIZATION, value.parse().expect("header"));
        let pair = |h: &HeaderMap| {
            basic_credentials(h).map(|b| (b.user().to_string(), b.password().to_string()))
        };
        assert_eq!(pair(&h), Some(("ACx".to_string(), "to:ken".to_string())));
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().expect("header"));
        assert_eq!(pair(&h), None);
    }

    #[test]
    fn secret_comparison() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
