//! Checks of the Twilio API's XML: the documents of a caller ID, a list and an error.

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::client::Reply;

pub const XML_DECL: &str = "<?xml version='1.0' encoding='UTF-8'?>\n";

/// The XML document of one caller ID, as Twilio writes it, built from its JSON form.
pub fn caller_id_xml(v: &Value) -> String {
    let s = |k: &str| v[k].as_str().expect("string").to_string();
    let uri = s("uri");
    format!(
        "{XML_DECL}<TwilioResponse><OutgoingCallerId><Sid>{}</Sid><AccountSid>{}</AccountSid>\
         <FriendlyName>{}</FriendlyName><PhoneNumber>{}</PhoneNumber><DateCreated>{}</DateCreated>\
         <DateUpdated>{}</DateUpdated><Uri>{}</Uri></OutgoingCallerId></TwilioResponse>",
        s("sid"),
        s("account_sid"),
        s("friendly_name"),
        s("phone_number"),
        s("date_created"),
        s("date_updated"),
        uri.strip_suffix(".json").expect("json uri"),
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct XmlException {
    code: u64,
    detail: Option<String>,
    message: String,
    more_info: String,
    status: u16,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct XmlErrorDoc {
    #[serde(rename = "RestException")]
    exception: XmlException,
}

/// Twilio's XML error body: checks its shape, status and code; returns the message.
pub fn xml_error(reply: &Reply, status: u16, code: u64) -> String {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/xml", "{}", reply.body);
    assert!(
        reply
            .body
            .starts_with(&format!("{XML_DECL}<TwilioResponse><RestException>")),
        "{}",
        reply.body
    );
    let doc: XmlErrorDoc = quick_xml::de::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("bad XML error ({e}): {}", reply.body));
    assert_eq!(doc.exception.code, code);
    assert_eq!(doc.exception.status, status);
    assert_eq!(
        doc.exception.more_info,
        format!("https://www.twilio.com/docs/errors/{code}")
    );
    let _ = doc.exception.detail;
    doc.exception.message
}

/// One `<OutgoingCallerId>`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct XmlCallerId {
    pub sid: String,
    pub account_sid: String,
    pub friendly_name: String,
    pub phone_number: String,
    pub date_created: String,
    pub date_updated: String,
    pub uri: String,
}

/// The document of one caller ID.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmlCallerIdDoc {
    #[serde(rename = "OutgoingCallerId")]
    pub item: XmlCallerId,
}

/// `<OutgoingCallerIds>` with its paging attributes.
#[derive(Debug, Deserialize)]
pub struct XmlList {
    #[serde(rename = "@page")]
    pub page: u32,
    #[serde(rename = "@pagesize")]
    pub page_size: u32,
    #[serde(rename = "@uri")]
    pub uri: String,
    #[serde(rename = "@firstpageuri")]
    pub first_page_uri: String,
    #[serde(rename = "@nextpageuri")]
    pub next_page_uri: String,
    #[serde(rename = "@previouspageuri")]
    pub previous_page_uri: String,
    #[serde(rename = "OutgoingCallerId", default)]
    pub items: Vec<XmlCallerId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct XmlListDoc {
    #[serde(rename = "OutgoingCallerIds")]
    list: XmlList,
}

/// A list page in XML, checked for status, type and envelope.
pub fn xml_list(reply: &Reply) -> XmlList {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/xml");
    assert!(
        reply
            .body
            .starts_with(&format!("{XML_DECL}<TwilioResponse><OutgoingCallerIds ")),
        "{}",
        reply.body
    );
    assert!(reply.body.ends_with("</TwilioResponse>"), "{}", reply.body);
    quick_xml::de::from_str::<XmlListDoc>(&reply.body)
        .unwrap_or_else(|e| panic!("bad XML list ({e}): {}", reply.body))
        .list
}
