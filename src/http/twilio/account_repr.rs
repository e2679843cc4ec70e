//! The Account representations: the instance in JSON and XML and the list envelopes.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::domain::account::Account;
use crate::http::csv::CsvRecord;
use crate::http::format::Format;
use crate::http::render::{self, json_and_xml};

/// The lists the emulator serves under an account, as `subresource_uris` names them: the JSON
/// key, the XML element and the path segment.
const SUBRESOURCES: [(&str, &str); 2] = [
    ("keys", "Keys"),
    ("outgoing_caller_ids", "OutgoingCallerIds"),
];

/// `subresource_uris`: in JSON `{"keys": "…/Keys.json", …}`, in XML `<Keys>…/Keys</Keys>…`.
pub struct SubresourceUris {
    account_path: String,
    json: bool,
}

impl Serialize for SubresourceUris {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(SUBRESOURCES.len()))?;
        for (key, segment) in SUBRESOURCES {
            let suffix = if self.json { ".json" } else { "" };
            let uri = format!("{}/{segment}{suffix}", self.account_path);
            map.serialize_entry(if self.json { key } else { segment }, &uri)?;
        }
        map.end()
    }
}

json_and_xml! {
    /// An Account, with the fields of Twilio's schema in the order its JSON has them.
    AccountJson, AccountXml<'a> {
        auth_token: &'a str,
        date_created: String,
        date_updated: String,
        friendly_name: &'a str,
        owner_account_sid: &'a str,
        sid: &'a str,
        status: &'static str,
        subresource_uris: SubresourceUris,
        r#type: &'static str,
        uri: String,
    }
}

/// Every account is `Full`: the emulator has no trial restrictions.
pub const ACCOUNT_TYPE: &str = "Full";

fn instance_path(account: &Account) -> String {
    format!("/2010-04-01/Accounts/{}", account.sid)
}

pub fn to_json(account: &Account) -> AccountJson<'_> {
    AccountJson {
        auth_token: &account.auth_token,
        date_created: render::rfc2822(account.date_created),
        date_updated: render::rfc2822(account.date_updated),
        friendly_name: &account.friendly_name,
        owner_account_sid: account.owner().as_str(),
        sid: account.sid.as_str(),
        status: account.status.as_str(),
        subresource_uris: SubresourceUris {
            account_path: instance_path(account),
            json: true,
        },
        r#type: ACCOUNT_TYPE,
        uri: format!("{}.json", instance_path(account)),
    }
}

/// The XML form: URIs carry no suffix.
pub fn to_xml(account: &Account) -> AccountXml<'_> {
    AccountXml {
        subresource_uris: SubresourceUris {
            account_path: instance_path(account),
            json: false,
        },
        uri: instance_path(account),
        ..to_json(account).into()
    }
}

/// The instance representation in `format`.
pub fn body(account: &Account, format: Format) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        #[serde(rename = "Account")]
        item: AccountXml<'a>,
    }
    match format {
        Format::Json => render::to_json(&to_json(account)),
        Format::Xml => render::to_xml(&Doc {
            item: to_xml(account),
        }),
    }
}

#[derive(serde::Serialize)]
pub struct ListJson<'a> {
    pub accounts: Vec<AccountJson<'a>>,
    pub end: u64,
    pub first_page_uri: String,
    pub next_page_uri: Option<String>,
    pub page: u32,
    pub page_size: u32,
    pub previous_page_uri: Option<String>,
    pub start: u64,
    pub uri: String,
}

#[derive(serde::Serialize)]
pub struct ListXmlDoc<'a> {
    #[serde(rename = "Accounts")]
    pub list: ListXml<'a>,
}

#[derive(serde::Serialize)]
pub struct ListXml<'a> {
    #[serde(rename = "@page")]
    pub page: u32,
    #[serde(rename = "@pagesize")]
    pub page_size: u32,
    #[serde(rename = "@start")]
    pub start: u64,
    #[serde(rename = "@end")]
    pub end: u64,
    #[serde(rename = "@uri")]
    pub uri: String,
    #[serde(rename = "@firstpageuri")]
    pub first_page_uri: String,
    #[serde(rename = "@previouspageuri", serialize_with = "render::xml_opt")]
    pub previous_page_uri: Option<String>,
    #[serde(rename = "@nextpageuri", serialize_with = "render::xml_opt")]
    pub next_page_uri: Option<String>,
    #[serde(rename = "Account")]
    pub items: Vec<AccountXml<'a>>,
}

/// The CSV row of the Accounts list: the JSON fields in JSON order; `subresource_uris` as its
/// JSON text, and `uri` ending in `.csv`.
impl CsvRecord for Account {
    const COLUMNS: &'static [&'static str] = &[
        "auth_token",
        "date_created",
        "date_updated",
        "friendly_name",
        "owner_account_sid",
        "sid",
        "status",
        "subresource_uris",
        "type",
        "uri",
    ];

    fn values(&self) -> Vec<Cow<'_, str>> {
        let uris = SubresourceUris {
            account_path: instance_path(self),
            json: true,
        };
        vec![
            self.auth_token.as_str().into(),
            render::rfc2822(self.date_created).into(),
            render::rfc2822(self.date_updated).into(),
            self.friendly_name.as_str().into(),
            self.owner().as_str().into(),
            self.sid.as_str().into(),
            self.status.as_str().into(),
            String::from_utf8_lossy(&render::to_json(&uris))
                .into_owned()
                .into(),
            ACCOUNT_TYPE.into(),
            format!("{}.csv", instance_path(self)).into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sid::AccountSid;

    #[test]
    fn account_json_and_xml_have_twilio_fields() {
        let parent = AccountSid::parse("AC0123456789abcdef0123456789abcdef").expect("sid");
        let account = Account {
            owner_account_sid: Some(parent.clone()),
            ..Account::main(
                AccountSid::parse("ACfedcba9876543210fedcba9876543210").expect("sid"),
                "token".into(),
                "Sub <1>".into(),
                1_250_813_484,
            )
        };
        let json = String::from_utf8(body(&account, Format::Json)).expect("utf-8");
        assert_eq!(
            json,
            "{\"auth_token\": \"token\", \"date_created\": \"Fri, 21 Aug 2009 00:11:24 +0000\", \
             \"date_updated\": \"Fri, 21 Aug 2009 00:11:24 +0000\", \"friendly_name\": \"Sub <1>\", \
             \"owner_account_sid\": \"AC0123456789abcdef0123456789abcdef\", \
             \"sid\": \"ACfedcba9876543210fedcba9876543210\", \"status\": \"active\", \
             \"subresource_uris\": {\"keys\": \"/2010-04-01/Accounts/ACfedcba9876543210fedcba9876543210/Keys.json\", \
             \"outgoing_caller_ids\": \"/2010-04-01/Accounts/ACfedcba9876543210fedcba9876543210/OutgoingCallerIds.json\"}, \
             \"type\": \"Full\", \"uri\": \"/2010-04-01/Accounts/ACfedcba9876543210fedcba9876543210.json\"}"
        );
        let xml = String::from_utf8(body(&account, Format::Xml)).expect("utf-8");
        assert!(
            xml.contains("<FriendlyName>Sub &lt;1&gt;</FriendlyName>"),
            "{xml}"
        );
        assert!(xml.contains("<Type>Full</Type>"), "{xml}");
        assert!(xml.contains(
            "<SubresourceUris><Keys>/2010-04-01/Accounts/ACfedcba9876543210fedcba9876543210/Keys</Keys>"
        ), "{xml}");
    }
}
