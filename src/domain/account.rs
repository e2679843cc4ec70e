//! Accounts, subaccounts, API keys, and what authenticates a request.

use super::sid::{AccountSid, ApiKeySid};

/// Where an account stands. `Closed` is final: nothing moves an account out of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Suspended,
    Closed,
}

impl AccountStatus {
    pub fn parse(s: &str) -> Option<AccountStatus> {
        match s {
            "active" => Some(AccountStatus::Active),
            "suspended" => Some(AccountStatus::Suspended),
            "closed" => Some(AccountStatus::Closed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Closed => "closed",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Account {
    pub sid: AccountSid,
    pub auth_token: String,
    pub friendly_name: String,
    /// Made from the settings at start-up (and removed when no longer configured), rather
    /// than through the control API or `POST /Accounts`.
    pub configured: bool,
    /// The parent of a subaccount; `None` for a main account.
    pub owner_account_sid: Option<AccountSid>,
    pub status: AccountStatus,
    /// Seconds since the Unix epoch.
    pub date_created: i64,
    /// Seconds since the Unix epoch.
    pub date_updated: i64,
}

impl Account {
    /// A main, active account created at `now` (Unix seconds).
    pub fn main(sid: AccountSid, auth_token: String, friendly_name: String, now: i64) -> Account {
        Account {
            sid,
            auth_token,
            friendly_name,
            configured: false,
            owner_account_sid: None,
            status: AccountStatus::Active,
            date_created: now,
            date_updated: now,
        }
    }

    /// The sid Twilio shows as `owner_account_sid`: the parent's, or the account's own for a
    /// main account.
    pub fn owner(&self) -> &AccountSid {
        self.owner_account_sid.as_ref().unwrap_or(&self.sid)
    }
}

/// A change to an account: each field that is `Some` is set.
#[derive(Clone, Debug, Default)]
pub struct AccountUpdate {
    pub friendly_name: Option<String>,
    pub status: Option<AccountStatus>,
}

/// What an API key may reach, as Twilio's key types: a standard key (made through
/// `POST /Keys`) reaches its account's resources but not `/Accounts` or `/Keys`; a main key
/// (made through the control API) reaches those too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Standard,
    Main,
}

impl KeyKind {
    pub fn parse(s: &str) -> Option<KeyKind> {
        match s {
            "standard" => Some(KeyKind::Standard),
            "main" => Some(KeyKind::Main),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Standard => "standard",
            KeyKind::Main => "main",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ApiKey {
    pub sid: ApiKeySid,
    pub account_sid: AccountSid,
    pub secret: String,
    pub friendly_name: String,
    pub kind: KeyKind,
    /// Seconds since the Unix epoch.
    pub date_created: i64,
    /// Seconds since the Unix epoch.
    pub date_updated: i64,
}

/// What authenticates a username (an AccountSid or an API key sid): its secret, the account
/// it acts for, and what decides where it may go.
#[derive(Debug)]
pub struct Credential {
    pub secret: String,
    pub account_sid: AccountSid,
    /// `None` for an account's auth token, the key's kind for an API key.
    pub key: Option<KeyKind>,
    /// The account's parent, when it is a subaccount.
    pub owner_account_sid: Option<AccountSid>,
    /// The account's own status.
    pub status: AccountStatus,
    /// The parent's status, when it is a subaccount.
    pub owner_status: Option<AccountStatus>,
}

impl Credential {
    /// Whether the account may act: it is active, and so is its parent if it has one (a
    /// suspended parent suspends its subaccounts).
    pub fn is_active(&self) -> bool {
        self.status == AccountStatus::Active
            && self.owner_status.is_none_or(|s| s == AccountStatus::Active)
    }
}

/// What a request reaches, for the access rules in [`access`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// An account's caller IDs, validation requests and calls.
    Resources,
    /// `/Accounts` (the list, a subaccount's creation) and `/Accounts/{Sid}`.
    Accounts,
    /// `/Accounts/{AccountSid}/Keys`.
    Keys,
}

/// Why a request may not go where it asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// The credentials do not reach the account (401 20003, as wrong credentials).
    NotYours,
    /// The account acting, or the account reached, is suspended or closed (20005).
    NotActive,
}

/// Whether `credential` reaches `area` of `target`, given `target`'s account (read only when
/// it is not the credential's own; `None` when it does not exist).
///
/// - A credential reaches its own account; a standard key not its `/Accounts` or `/Keys`.
/// - An account's auth token reaches its subaccounts too (never its parent or a sibling); no
///   API key reaches beyond its own account.
/// - Nothing goes through while the acting account (or its parent) is not active; nor into
///   the resources of a subaccount that is not active, though its parent still reaches its
///   `/Accounts/{Sid}` (to reactivate it).
pub fn access(
    credential: &Credential,
    target: &AccountSid,
    target_account: Option<&Account>,
    area: Area,
) -> Result<(), Denied> {
    if *target == credential.account_sid {
        if credential.key == Some(KeyKind::Standard) && area != Area::Resources {
            return Err(Denied::NotYours);
        }
        return if credential.is_active() {
            Ok(())
        } else {
            Err(Denied::NotActive)
        };
    }
    let Some(child) = target_account else {
        return Err(Denied::NotYours);
    };
    if credential.key.is_some() || child.owner_account_sid.as_ref() != Some(&credential.account_sid)
    {
        return Err(Denied::NotYours);
    }
    if !credential.is_active() {
        return Err(Denied::NotActive);
    }
    if area != Area::Accounts && child.status != AccountStatus::Active {
        return Err(Denied::NotActive);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(key: Option<KeyKind>, owner: Option<&AccountSid>) -> (AccountSid, Credential) {
        let sid = AccountSid::generate();
        let c = Credential {
            secret: "s".into(),
            account_sid: sid.clone(),
            key,
            owner_account_sid: owner.cloned(),
            status: AccountStatus::Active,
            owner_status: owner.map(|_| AccountStatus::Active),
        };
        (sid, c)
    }

    fn child_of(parent: &AccountSid, status: AccountStatus) -> Account {
        Account {
            owner_account_sid: Some(parent.clone()),
            status,
            ..Account::main(AccountSid::generate(), "t".into(), "child".into(), 0)
        }
    }

    #[test]
    fn keys_and_tokens_reach_what_twilio_says() {
        let (own, token) = credential(None, None);
        assert_eq!(access(&token, &own, None, Area::Accounts), Ok(()));
        let (own, standard) = credential(Some(KeyKind::Standard), None);
        assert_eq!(access(&standard, &own, None, Area::Resources), Ok(()));
        assert_eq!(
            access(&standard, &own, None, Area::Keys),
            Err(Denied::NotYours)
        );
        let (own, main) = credential(Some(KeyKind::Main), None);
        assert_eq!(access(&main, &own, None, Area::Accounts), Ok(()));
        let child = child_of(&own, AccountStatus::Active);
        assert_eq!(
            access(&main, &child.sid, Some(&child), Area::Resources),
            Err(Denied::NotYours)
        );
    }

    #[test]
    fn parents_reach_children_but_not_the_other_way() {
        let (parent, token) = credential(None, None);
        let child = child_of(&parent, AccountStatus::Active);
        assert_eq!(
            access(&token, &child.sid, Some(&child), Area::Resources),
            Ok(())
        );
        let (_, child_token) = credential(None, Some(&parent));
        let parent_account = Account::main(parent.clone(), "t".into(), "p".into(), 0);
        assert_eq!(
            access(
                &child_token,
                &parent,
                Some(&parent_account),
                Area::Resources
            ),
            Err(Denied::NotYours)
        );
        let sibling = child_of(&parent, AccountStatus::Active);
        assert_eq!(
            access(&child_token, &sibling.sid, Some(&sibling), Area::Resources),
            Err(Denied::NotYours)
        );
        assert_eq!(
            access(&token, &sibling.sid, None, Area::Resources),
            Err(Denied::NotYours)
        );
    }

    #[test]
    fn inactive_accounts_answer_not_active() {
        let (parent, token) = credential(None, None);
        let suspended = child_of(&parent, AccountStatus::Suspended);
        assert_eq!(
            access(&token, &suspended.sid, Some(&suspended), Area::Resources),
            Err(Denied::NotActive)
        );
        assert_eq!(
            access(&token, &suspended.sid, Some(&suspended), Area::Accounts),
            Ok(())
        );
        let (own, mut child) = credential(None, Some(&parent));
        child.owner_status = Some(AccountStatus::Suspended);
        assert_eq!(
            access(&child, &own, None, Area::Resources),
            Err(Denied::NotActive)
        );
    }
}
