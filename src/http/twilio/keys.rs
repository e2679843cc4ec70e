//! The Keys resource, `/2010-04-01/Accounts/{AccountSid}/Keys` and `…/Keys/{Sid}`: list,
//! create (the secret shown only then), fetch, update FriendlyName, delete. Keys made here
//! are standard keys.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use crate::domain::account::{ApiKey, KeyKind};
use crate::domain::caller_id::FriendlyName;
use crate::domain::sid::{random_hex32, ApiKeySid};
use crate::domain::time::now_millis;
use crate::http::context::{AccountLists, KeyInstance, TwilioRequest};
use crate::http::error::ApiError;
use crate::http::form::Params;
use crate::http::format::Format;
use crate::http::paging::{Envelope, SidPageRequest, UriBuilder};
use crate::http::render::{self, xml_opt};
use crate::http::{respond, AppState};

/// A Key in JSON; `secret` only in the answer that creates it. A key made without a name
/// has a null `friendly_name`.
#[derive(Serialize)]
struct KeyJson<'a> {
    sid: &'a str,
    friendly_name: Option<&'a str>,
    date_created: String,
    date_updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
}

/// A Key in XML, where null is an empty element.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyXml {
    sid: String,
    #[serde(serialize_with = "xml_opt")]
    friendly_name: Option<String>,
    date_created: String,
    date_updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

fn to_json(key: &ApiKey, with_secret: bool) -> KeyJson<'_> {
    KeyJson {
        sid: key.sid.as_str(),
        friendly_name: Some(key.friendly_name.as_str()).filter(|n| !n.is_empty()),
        date_created: render::rfc2822(key.date_created),
        date_updated: render::rfc2822(key.date_updated),
        secret: with_secret.then_some(key.secret.as_str()),
    }
}

fn to_xml(key: &ApiKey, with_secret: bool) -> KeyXml {
    let json = to_json(key, with_secret);
    KeyXml {
        sid: json.sid.to_string(),
        friendly_name: json.friendly_name.map(String::from),
        date_created: json.date_created,
        date_updated: json.date_updated,
        secret: json.secret.map(String::from),
    }
}

fn body(key: &ApiKey, with_secret: bool, format: Format) -> Vec<u8> {
    #[derive(Serialize)]
    struct Doc {
        #[serde(rename = "Key")]
        item: KeyXml,
    }
    match format {
        Format::Json => render::to_json(&to_json(key, with_secret)),
        Format::Xml => render::to_xml(&Doc {
            item: to_xml(key, with_secret),
        }),
    }
}

/// A `FriendlyName` parameter (1 to 64 printable characters): absent or empty is `None`.
fn friendly_name(params: &Params) -> Result<Option<FriendlyName>, ApiError> {
    match params.get("FriendlyName")? {
        None | Some("") => Ok(None),
        Some(raw) => Ok(Some(FriendlyName::parse(raw)?)),
    }
}

/// `POST /Keys`: a new standard key, 201, with its secret.
pub async fn create(
    app: &AppState,
    request: &TwilioRequest<AccountLists>,
    params: &Params,
) -> Result<Response, ApiError> {
    let name = friendly_name(params)?;
    let now = now_millis() / 1000;
    let key = ApiKey {
        sid: ApiKeySid::generate(),
        account_sid: request.account.clone(),
        secret: random_hex32(),
        friendly_name: name.map(|n| n.as_str().to_string()).unwrap_or_default(),
        kind: KeyKind::Standard,
        date_created: now,
        date_updated: now,
    };
    app.service.create_api_key(&key).await?;
    let format = request.format();
    Ok(respond(
        StatusCode::CREATED,
        format,
        body(&key, true, format),
    ))
}

fn parse_sid(request: &TwilioRequest<KeyInstance>) -> Result<ApiKeySid, ApiError> {
    ApiKeySid::parse(&request.name).ok_or_else(|| request.not_found())
}

pub async fn fetch(
    app: &AppState,
    request: &TwilioRequest<KeyInstance>,
) -> Result<Response, ApiError> {
    let sid = parse_sid(request)?;
    let key = app
        .service
        .api_key(&request.account, &sid)
        .await?
        .ok_or_else(|| request.not_found())?;
    let format = request.format();
    Ok(respond(StatusCode::OK, format, body(&key, false, format)))
}

/// `POST /Keys/{Sid}`: renames the key (no `FriendlyName`: unchanged).
pub async fn update(
    app: &AppState,
    request: &TwilioRequest<KeyInstance>,
    params: &Params,
) -> Result<Response, ApiError> {
    let sid = parse_sid(request)?;
    let key = match friendly_name(params)? {
        Some(name) => {
            app.service
                .rename_api_key(&request.account, &sid, name.as_str())
                .await?
        }
        None => app.service.api_key(&request.account, &sid).await?,
    }
    .ok_or_else(|| request.not_found())?;
    let format = request.format();
    Ok(respond(StatusCode::OK, format, body(&key, false, format)))
}

/// `DELETE /Keys/{Sid}`: 204; the key authenticates nothing from the next request on.
pub async fn delete(
    app: &AppState,
    request: &TwilioRequest<KeyInstance>,
) -> Result<Response, ApiError> {
    let sid = parse_sid(request)?;
    if !app.service.delete_api_key(&request.account, &sid).await? {
        return Err(request.not_found());
    }
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

#[derive(Serialize)]
struct ListJson<'a> {
    end: u64,
    first_page_uri: String,
    keys: Vec<KeyJson<'a>>,
    next_page_uri: Option<String>,
    page: u32,
    page_size: u32,
    previous_page_uri: Option<String>,
    start: u64,
    uri: String,
}

#[derive(Serialize)]
struct ListXmlDoc {
    #[serde(rename = "Keys")]
    list: ListXml,
}

#[derive(Serialize)]
struct ListXml {
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
    #[serde(rename = "@previouspageuri", serialize_with = "xml_opt")]
    previous_page_uri: Option<String>,
    #[serde(rename = "@nextpageuri", serialize_with = "xml_opt")]
    next_page_uri: Option<String>,
    #[serde(rename = "Key")]
    items: Vec<KeyXml>,
}

fn sid_of(key: &ApiKey) -> &str {
    key.sid.as_str()
}

/// `GET /Keys`: the account's keys in sid order, without their secrets.
pub async fn list(
    app: &AppState,
    request: &TwilioRequest<AccountLists>,
) -> Result<Response, ApiError> {
    let query = Params::parse(request.uri.query().unwrap_or("").as_bytes())?;
    let paging = SidPageRequest::parse(&query, |s| ApiKeySid::parse(s).map(|sid| sid.to_string()))?;
    let mut keys = app.service.api_keys(&request.account).await?;
    keys.sort_by(|a, b| a.sid.cmp(&b.sid));
    let (rows, before, after) = paging.slice(&keys, sid_of);
    let path = format!("{}/Keys{}", request.account_path(), request.suffix.as_str());
    let uris = UriBuilder {
        path: &path,
        filters: &[],
        page_size: paging.page_size,
    };
    let e = Envelope::of(&uris, &paging, rows, sid_of, before, after);
    let body = match request.format() {
        Format::Json => render::to_json(&ListJson {
            end: e.end,
            first_page_uri: e.first_page_uri,
            keys: rows.iter().map(|k| to_json(k, false)).collect(),
            next_page_uri: e.next_page_uri,
            page: paging.page,
            page_size: paging.page_size,
            previous_page_uri: e.previous_page_uri,
            start: e.start,
            uri: e.uri,
        }),
        Format::Xml => render::to_xml(&ListXmlDoc {
            list: ListXml {
                page: paging.page,
                page_size: paging.page_size,
                start: e.start,
                end: e.end,
                uri: e.uri,
                first_page_uri: e.first_page_uri,
                previous_page_uri: e.previous_page_uri,
                next_page_uri: e.next_page_uri,
                items: rows.iter().map(|k| to_xml(k, false)).collect(),
            },
        }),
    };
    Ok(respond(StatusCode::OK, request.format(), body))
}
