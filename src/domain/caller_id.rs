//! A verified caller ID, its FriendlyName, and what a list of them asks for.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::value::RawValue;

use super::phone::PhoneNumber;
use super::sid::{AccountSid, CallerIdSid};

/// The longest FriendlyName Twilio accepts, in characters.
pub const MAX_FRIENDLY_NAME: usize = 64;

/// Whether XML 1.0 can carry `c` at all (no escape exists for the others).
pub fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// A FriendlyName: 1 to 64 characters, none of them a control character or one XML cannot
/// carry, so that every representation of it parses back to the same text.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct FriendlyName(String);

/// Why a FriendlyName was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FriendlyNameError {
    #[error("FriendlyName must not be empty")]
    Empty,
    #[error("FriendlyName must not contain control characters")]
    ControlCharacter,
    #[error("FriendlyName must be at most {MAX_FRIENDLY_NAME} characters long, not {0}")]
    TooLong(usize),
}

impl FriendlyName {
    pub fn parse(name: &str) -> Result<FriendlyName, FriendlyNameError> {
        let chars = name.chars().count();
        if chars == 0 {
            return Err(FriendlyNameError::Empty);
        }
        if !name.chars().all(|c| xml_char(c) && !c.is_control()) {
            return Err(FriendlyNameError::ControlCharacter);
        }
        if chars > MAX_FRIENDLY_NAME {
            return Err(FriendlyNameError::TooLong(chars));
        }
        Ok(FriendlyName(name.to_string()))
    }

    /// The name a caller ID gets when none is given: the number, nicely formatted.
    pub fn of_number(phone: &PhoneNumber) -> FriendlyName {
        FriendlyName(phone.formatted())
    }

    /// A name read back from storage, which holds only names that were parsed; it is not
    /// checked again, so a name stored by an older version still reads.
    pub fn from_stored(name: String) -> FriendlyName {
        FriendlyName(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FriendlyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for FriendlyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// An OutgoingCallerId. A row is never changed in place: a rename makes a new one.
#[derive(Debug)]
pub struct CallerId {
    pub sid: CallerIdSid,
    pub account_sid: AccountSid,
    pub phone_number: PhoneNumber,
    pub friendly_name: FriendlyName,
    /// Seconds since the Unix epoch.
    pub date_created: i64,
    pub date_updated: i64,
    /// Its JSON representation, rendered by the HTTP layer on first use, so that fetches and
    /// lists copy each row's text instead of rendering it again. `Some(None)` when no text is
    /// kept: it could not be made, or the row serves one request only ([`CallerId::not_kept`]).
    pub json: OnceLock<Option<Box<RawValue>>>,
}

impl CallerId {
    /// The [`CallerId::json`] of a row read for one request (a backend that keeps no rows):
    /// rendered where it is used, since keeping its text would cost a copy and a check of
    /// the text that nothing reads again.
    pub fn not_kept() -> OnceLock<Option<Box<RawValue>>> {
        OnceLock::from(None)
    }
}

/// A caller ID to store, its sid already chosen.
#[derive(Clone, Debug)]
pub struct NewCallerId {
    pub sid: CallerIdSid,
    pub account_sid: AccountSid,
    pub phone_number: PhoneNumber,
    pub friendly_name: FriendlyName,
    /// Seconds since the Unix epoch: both dates.
    pub date_created: i64,
}

impl NewCallerId {
    /// The caller ID this becomes once stored.
    pub fn into_caller_id(self) -> CallerId {
        CallerId {
            sid: self.sid,
            account_sid: self.account_sid,
            phone_number: self.phone_number,
            friendly_name: self.friendly_name,
            date_created: self.date_created,
            date_updated: self.date_created,
            json: OnceLock::new(),
        }
    }
}

/// Which slice of a caller-ID list to read.
#[derive(Clone, Debug)]
pub enum Cursor {
    /// From the first row.
    Start,
    /// Rows after this sid (a `PA` token).
    After(CallerIdSid),
    /// Rows before this sid (a `PB` token).
    Before(CallerIdSid),
}

/// The filters of a list. A `PhoneNumber` filter that is no phone number is `NoNumber`: it
/// matches nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct ListFilter<'a> {
    pub phone_number: PhoneFilter<'a>,
    pub friendly_name: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, Default)]
pub enum PhoneFilter<'a> {
    #[default]
    Any,
    Number(&'a PhoneNumber),
    NoNumber,
}

/// One page of caller IDs in list order, with whether rows exist beyond each end.
#[derive(Default)]
pub struct Page {
    pub rows: Vec<Arc<CallerId>>,
    pub has_more_after: bool,
    pub has_more_before: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_names_are_1_to_64_printable_characters() {
        assert!(FriendlyName::parse(&"\u{e9}".repeat(64)).is_ok());
        assert_eq!(
            FriendlyName::parse(&"x".repeat(65)),
            Err(FriendlyNameError::TooLong(65))
        );
        assert_eq!(FriendlyName::parse(""), Err(FriendlyNameError::Empty));
        for bad in ["a\u{1}b", "tab\there", "\u{FFFE}"] {
            assert_eq!(
                FriendlyName::parse(bad),
                Err(FriendlyNameError::ControlCharacter),
                "{bad:?}"
            );
        }
    }
}
