//! The OutgoingCallerId representations: the instance in JSON and XML (the JSON text cached in
//! the row), its CSV row, and the list envelopes.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::domain::caller_id::CallerId;
use crate::http::csv::CsvRecord;
use crate::http::format::Format;
use crate::http::render::{self, json_and_xml};

json_and_xml! {
    /// An OutgoingCallerId.
    CallerIdJson, CallerIdXml<'a> {
        sid: &'a str,
        account_sid: &'a str,
        friendly_name: &'a str,
        phone_number: &'a str,
        date_created: String,
        date_updated: String,
        uri: String,
    }
}

fn instance_path(row: &CallerId) -> String {
    format!(
        "/2010-04-01/Accounts/{}/OutgoingCallerIds/{}",
        row.account_sid, row.sid
    )
}

/// The JSON form: `uri` ends in `.json`.
pub fn to_json(row: &CallerId) -> CallerIdJson<'_> {
    CallerIdJson {
        sid: row.sid.as_str(),
        account_sid: row.account_sid.as_str(),
        friendly_name: row.friendly_name.as_str(),
        phone_number: row.phone_number.as_str(),
        date_created: render::rfc2822(row.date_created),
        date_updated: render::rfc2822(row.date_updated),
        uri: format!("{}.json", instance_path(row)),
    }
}

/// The XML form: `Uri` carries no suffix.
pub fn to_xml(row: &CallerId) -> CallerIdXml<'_> {
    CallerIdXml {
        uri: instance_path(row),
        ..to_json(row).into()
    }
}

/// The CSV row: the JSON form's fields under their JSON names, in its order (Twilio says its
/// column order is not defined); `uri` ends in `.csv`.
impl CsvRecord for CallerId {
    const COLUMNS: &'static [&'static str] = &[
        "sid",
        "account_sid",
        "friendly_name",
        "phone_number",
        "date_created",
        "date_updated",
        "uri",
    ];

    fn values(&self) -> Vec<Cow<'_, str>> {
        vec![
            self.sid.as_str().into(),
            self.account_sid.as_str().into(),
            self.friendly_name.as_str().into(),
            self.phone_number.as_str().into(),
            render::rfc2822(self.date_created).into(),
            render::rfc2822(self.date_updated).into(),
            format!("{}.csv", instance_path(self)).into(),
        ]
    }
}

/// The JSON form as text, rendered on the row's first use and kept in the row.
pub fn json_text(row: &CallerId) -> Option<&RawValue> {
    row.json
        .get_or_init(|| {
            let text = String::from_utf8(render::to_json(&to_json(row))).ok()?;
            RawValue::from_string(text).ok()
        })
        .as_deref()
}

/// The instance representation in `format`.
pub fn body(row: &CallerId, format: Format) -> Vec<u8> {
    if let (Format::Json, Some(text)) = (format, json_text(row)) {
        return text.get().as_bytes().to_vec();
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        #[serde(rename = "OutgoingCallerId")]
        item: CallerIdXml<'a>,
    }
    match format {
        Format::Json => render::to_json(&to_json(row)),
        Format::Xml => render::to_xml(&Doc { item: to_xml(row) }),
    }
}

/// A row of a JSON list: its cached text, or rendered now if that could not be made.
#[derive(Serialize)]
#[serde(untagged)]
pub enum RowJson<'a> {
    Text(&'a RawValue),
    Fields(CallerIdJson<'a>),
}

impl<'a> RowJson<'a> {
    pub fn of(row: &'a CallerId) -> RowJson<'a> {
        match json_text(row) {
            Some(text) => RowJson::Text(text),
            None => RowJson::Fields(to_json(row)),
        }
    }
}

#[derive(Serialize)]
pub struct ListJson<'a> {
    pub end: u64,
    pub first_page_uri: String,
    pub next_page_uri: Option<String>,
    pub outgoing_caller_ids: Vec<RowJson<'a>>,
    pub page: u32,
    pub page_size: u32,
    pub previous_page_uri: Option<String>,
    pub start: u64,
    pub uri: String,
}

#[derive(Serialize)]
pub struct ListXmlDoc<'a> {
    #[serde(rename = "OutgoingCallerIds")]
    pub list: ListXml<'a>,
}

#[derive(Serialize)]
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
    #[serde(rename = "OutgoingCallerId")]
    pub items: Vec<CallerIdXml<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::caller_id::FriendlyName;
    use crate::domain::sid::{AccountSid, CallerIdSid};
    use crate::domain::PhoneNumber;

    #[test]
    fn cached_json_is_the_rendered_json_byte_for_byte() {
        let row = CallerId {
            sid: CallerIdSid::parse("PN0123456789abcdef0123456789abcdef").expect("sid"),
            account_sid: AccountSid::parse("AC0123456789abcdef0123456789abcdef").expect("sid"),
            phone_number: PhoneNumber::parse("+14158675309").expect("number"),
            friendly_name: FriendlyName::parse("Caf\u{e9} \"quoted\" <x>").expect("name"),
            date_created: 1_700_000_000,
            date_updated: 1_700_000_100,
            json: Default::default(),
        };
        let rendered = render::to_json(&to_json(&row));
        assert_eq!(body(&row, Format::Json), rendered);
        // Twice: the second answer comes from the cache.
        assert_eq!(body(&row, Format::Json), rendered);
        let text = String::from_utf8(rendered).expect("utf-8");
        assert!(text.starts_with("{\"sid\": \"PN0123456789abcdef0123456789abcdef\", "));
        let list = String::from_utf8(render::to_json(&[RowJson::of(&row), RowJson::of(&row)]))
            .expect("utf-8");
        assert_eq!(list, format!("[{text}, {text}]"));
    }
}
