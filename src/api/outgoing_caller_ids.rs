//! OutgoingCallerId instance and list: fetch, update (FriendlyName), delete, list.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde_json::value::RawValue;

use super::{query_params, respond, Ctx};
use crate::error::ApiError;
use crate::store::{CallerId, Cursor, ListFilter};
use crate::wire::paging::{token_of, PageRequest, UriBuilder};
use crate::wire::sid::CallerIdSid;
use crate::wire::{self, Format, Params, PhoneNumber, Suffix};

/// The longest FriendlyName Twilio accepts, in characters.
pub const MAX_FRIENDLY_NAME: usize = 64;

/// Checks a FriendlyName given on create or update: 1 to 64 characters.
pub fn check_friendly_name(name: &str) -> Result<(), ApiError> {
    let chars = name.chars().count();
    if chars == 0 {
        return Err(ApiError::invalid_parameter(
            "FriendlyName must not be empty".to_string(),
        ));
    }
    if !name.chars().all(|c| wire::xml_char(c) && !c.is_control()) {
        return Err(ApiError::invalid_parameter(
            "FriendlyName must not contain control characters".to_string(),
        ));
    }
    if chars > MAX_FRIENDLY_NAME {
        return Err(ApiError::invalid_parameter(format!(
            "FriendlyName must be at most {MAX_FRIENDLY_NAME} characters long, not {chars}"
        )));
    }
    Ok(())
}

#[derive(Serialize)]
pub struct CallerIdJson<'a> {
    pub sid: &'a str,
    pub account_sid: &'a str,
    pub friendly_name: &'a str,
    pub phone_number: &'a str,
    pub date_created: String,
    pub date_updated: String,
    pub uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallerIdXml<'a> {
    pub sid: &'a str,
    pub account_sid: &'a str,
    pub friendly_name: &'a str,
    pub phone_number: &'a str,
    pub date_created: String,
    pub date_updated: String,
    pub uri: String,
}

fn instance_path(row: &CallerId) -> String {
    format!(
        "/2010-04-01/Accounts/{}/OutgoingCallerIds/{}",
        row.account_sid, row.sid
    )
}

impl CallerId {
    /// The JSON form: `uri` ends in `.json`.
    pub fn to_json(&self) -> CallerIdJson<'_> {
        CallerIdJson {
            sid: &self.sid,
            account_sid: &self.account_sid,
            friendly_name: &self.friendly_name,
            phone_number: &self.phone_number,
            date_created: wire::rfc2822(self.date_created),
            date_updated: wire::rfc2822(self.date_updated),
            uri: format!("{}.json", instance_path(self)),
        }
    }

    /// The XML form: `Uri` carries no suffix.
    pub fn to_xml(&self) -> CallerIdXml<'_> {
        CallerIdXml {
            sid: &self.sid,
            account_sid: &self.account_sid,
            friendly_name: &self.friendly_name,
            phone_number: &self.phone_number,
            date_created: wire::rfc2822(self.date_created),
            date_updated: wire::rfc2822(self.date_updated),
            uri: instance_path(self),
        }
    }

    /// The JSON form as text, rendered on the row's first use.
    pub fn json_text(&self) -> Option<&RawValue> {
        self.json
            .get_or_init(|| {
                let text = String::from_utf8(wire::to_json(&self.to_json())).ok()?;
                RawValue::from_string(text).ok()
            })
            .as_deref()
    }

    pub fn body(&self, format: Format) -> Vec<u8> {
        if let (Format::Json, Some(text)) = (format, self.json_text()) {
            return text.get().as_bytes().to_vec();
        }
        #[derive(Serialize)]
        struct Doc<'a> {
            #[serde(rename = "OutgoingCallerId")]
            item: CallerIdXml<'a>,
        }
        match format {
            Format::Json => wire::to_json(&self.to_json()),
            Format::Xml => wire::to_xml(&Doc {
                item: self.to_xml(),
            }),
        }
    }
}

fn parse_sid(ctx: &Ctx<'_>, raw: &str) -> Result<CallerIdSid, ApiError> {
    CallerIdSid::parse(raw).ok_or_else(|| ApiError::not_found(ctx.uri.path()))
}

pub async fn fetch(ctx: &Ctx<'_>, raw_sid: &str) -> Result<Response, ApiError> {
    let sid = parse_sid(ctx, raw_sid)?;
    let row = ctx
        .app
        .store
        .caller_id(&ctx.account, &sid)
        .ok_or_else(|| ApiError::not_found(ctx.uri.path()))?;
    Ok(respond(
        StatusCode::OK,
        ctx.format(),
        row.body(ctx.format()),
    ))
}

pub async fn update(ctx: &Ctx<'_>, raw_sid: &str, params: &Params) -> Result<Response, ApiError> {
    let sid = parse_sid(ctx, raw_sid)?;
    let name = params.get("FriendlyName")?;
    if let Some(name) = name {
        check_friendly_name(name)?;
    }
    let now = wire::now_millis() / 1000;
    let row = ctx
        .app
        .store
        .update_caller_id(&ctx.account, &sid, name, now)
        .await?
        .ok_or_else(|| ApiError::not_found(ctx.uri.path()))?;
    Ok(respond(
        StatusCode::OK,
        ctx.format(),
        row.body(ctx.format()),
    ))
}

pub async fn delete(ctx: &Ctx<'_>, raw_sid: &str) -> Result<Response, ApiError> {
    let sid = parse_sid(ctx, raw_sid)?;
    if ctx.app.store.delete_caller_id(&ctx.account, &sid).await? {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        Ok(response)
    } else {
        Err(ApiError::not_found(ctx.uri.path()))
    }
}

/// A row of a JSON list: its cached text, or rendered now if that could not be made.
#[derive(Serialize)]
#[serde(untagged)]
enum RowJson<'a> {
    Text(&'a RawValue),
    Fields(CallerIdJson<'a>),
}

impl<'a> RowJson<'a> {
    fn of(row: &'a CallerId) -> RowJson<'a> {
        match row.json_text() {
            Some(text) => RowJson::Text(text),
            None => RowJson::Fields(row.to_json()),
        }
    }
}

#[derive(Serialize)]
struct ListJson<'a> {
    end: u64,
    first_page_uri: String,
    next_page_uri: Option<String>,
    outgoing_caller_ids: Vec<RowJson<'a>>,
    page: u32,
    page_size: u32,
    previous_page_uri: Option<String>,
    start: u64,
    uri: String,
}

#[derive(Serialize)]
struct ListXmlDoc<'a> {
    #[serde(rename = "OutgoingCallerIds")]
    list: ListXml<'a>,
}

#[derive(Serialize)]
struct ListXml<'a> {
    #[serde(rename = "@page")]
    page: u32,
    #[serde(rename = "@pagesize")]
    page_size: u32,
    #[serde(rename = "@start")]
    start: u64,
    #[serde(rename = "@end")]
    end: u64,
    #[serde(rename = "@uri")]
    uri: String,
    #[serde(rename = "@firstpageuri")]
    first_page_uri: String,
    #[serde(rename = "@previouspageuri", serialize_with = "wire::xml_opt")]
    previous_page_uri: Option<String>,
    #[serde(rename = "@nextpageuri", serialize_with = "wire::xml_opt")]
    next_page_uri: Option<String>,
    #[serde(rename = "OutgoingCallerId")]
    items: Vec<CallerIdXml<'a>>,
}

pub async fn list(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let query = query_params(ctx.uri)?;
    let paging = PageRequest::parse(&query)?;
    // A token naming another account's caller ID is not a position in this list. (A token
    // whose row was deleted still is: it marks where the page ended.)
    if let Cursor::After(sid) | Cursor::Before(sid) = &paging.cursor {
        if let Some(owner) = ctx.app.store.caller_id_owner(sid) {
            if owner != ctx.account.as_str() {
                return Err(ApiError::bad_request(
                    21481,
                    format!("Invalid PageToken: {} is not in this list", sid),
                ));
            }
        }
    }
    // The filters in the order the caller gave them, echoed into every paging URI.
    let mut filters: Vec<(&str, &str)> = Vec::new();
    for (name, value) in query.pairs() {
        if (name == "PhoneNumber" || name == "FriendlyName") && !value.is_empty() {
            filters.push((name.as_str(), value.as_str()));
        }
    }
    let phone_raw = query.get("PhoneNumber")?.filter(|v| !v.is_empty());
    let phone = phone_raw.map(PhoneNumber::parse);
    let friendly_name = query.get("FriendlyName")?.filter(|v| !v.is_empty());

    // A PhoneNumber filter that is no phone number matches nothing.
    let page = match phone {
        Some(None) => crate::store::Page {
            rows: Vec::new(),
            has_more_after: false,
            has_more_before: false,
        },
        _ => {
            let filter = ListFilter {
                phone_number: phone.as_ref().and_then(|p| p.as_ref()),
                friendly_name,
            };
            ctx.app
                .store
                .list_caller_ids(&ctx.account, &filter, &paging.cursor, paging.page_size)
        }
    };

    let path = format!(
        "{}/OutgoingCallerIds{}",
        ctx.account_path(),
        ctx.suffix.as_str()
    );
    let uris = UriBuilder {
        path: &path,
        filters: &filters,
        page_size: paging.page_size,
    };
    let next_page_uri = match (page.has_more_after, page.rows.last()) {
        (true, Some(last)) => Some(uris.after(paging.page + 1, &last.sid)),
        _ => None,
    };
    let previous_page_uri = match (page.has_more_before, page.rows.first()) {
        (true, Some(first)) if paging.page > 0 => Some(uris.before(paging.page - 1, &first.sid)),
        _ => None,
    };
    let start = u64::from(paging.page) * u64::from(paging.page_size);
    let end = (start + page.rows.len() as u64)
        .saturating_sub(1)
        .max(start);
    let uri = uris.uri(paging.page, token_of(&paging.cursor));
    let first_page_uri = uris.uri(0, None);

    let body = match ctx.suffix {
        Suffix::Json => wire::to_json(&ListJson {
            end,
            first_page_uri,
            next_page_uri,
            outgoing_caller_ids: page.rows.iter().map(|row| RowJson::of(row)).collect(),
            page: paging.page,
            page_size: paging.page_size,
            previous_page_uri,
            start,
            uri,
        }),
        Suffix::Xml | Suffix::None => wire::to_xml(&ListXmlDoc {
            list: ListXml {
                page: paging.page,
                page_size: paging.page_size,
                start,
                end,
                uri,
                first_page_uri,
                previous_page_uri,
                next_page_uri,
                items: page.rows.iter().map(|row| row.to_xml()).collect(),
            },
        }),
    };
    Ok(respond(StatusCode::OK, ctx.format(), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_json_is_the_rendered_json_byte_for_byte() {
        let row = CallerId {
            sid: "PN0123456789abcdef0123456789abcdef".into(),
            account_sid: "AC0123456789abcdef0123456789abcdef".into(),
            phone_number: "+14158675309".into(),
            friendly_name: "Caf\u{e9} \"quoted\" <x>".into(),
            date_created: 1_700_000_000,
            date_updated: 1_700_000_100,
            json: Default::default(),
        };
        let rendered = wire::to_json(&row.to_json());
        assert_eq!(row.body(Format::Json), rendered);
        // Twice: the second answer comes from the cache.
        assert_eq!(row.body(Format::Json), rendered);
        let text = String::from_utf8(rendered).expect("utf-8");
        assert!(text.starts_with("{\"sid\": \"PN0123456789abcdef0123456789abcdef\", "));
        let list = String::from_utf8(wire::to_json(&[RowJson::of(&row), RowJson::of(&row)]))
            .expect("utf-8");
        assert_eq!(list, format!("[{text}, {text}]"));
    }
}
