//! OutgoingCallerId instance and list: fetch, update (FriendlyName), delete, list.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;

use super::caller_id_repr::{body, to_xml, ListJson, ListXml, ListXmlDoc, RowJson};
use crate::domain::caller_id::{FriendlyName, ListFilter, PhoneFilter};
use crate::domain::sid::CallerIdSid;
use crate::domain::PhoneNumber;
use crate::http::context::{CallerIdInstance, CallerIdList, TwilioRequest};
use crate::http::error::ApiError;
use crate::http::form::Params;
use crate::http::format::Suffix;
use crate::http::paging::{token_of, PageRequest, UriBuilder};
use crate::http::{csv, render, respond, AppState};

type InstanceRequest = TwilioRequest<CallerIdInstance>;

fn parse_sid(request: &InstanceRequest) -> Result<CallerIdSid, ApiError> {
    CallerIdSid::parse(&request.name).ok_or_else(|| request.not_found())
}

pub async fn fetch(app: &AppState, request: &InstanceRequest) -> Result<Response, ApiError> {
    let sid = parse_sid(request)?;
    let row = app
        .service
        .caller_id(&request.account, &sid)
        .await?
        .ok_or_else(|| request.not_found())?;
    if request.suffix == Suffix::Csv {
        return Ok(csv::respond([&*row]));
    }
    let format = request.format();
    Ok(respond(StatusCode::OK, format, body(&row, format)))
}

pub async fn update(
    app: &AppState,
    request: &InstanceRequest,
    params: &Params,
) -> Result<Response, ApiError> {
    let sid = parse_sid(request)?;
    let name = params
        .get("FriendlyName")?
        .map(FriendlyName::parse)
        .transpose()?;
    let row = app
        .service
        .rename_caller_id(&request.account, &sid, name.as_ref())
        .await?
        .ok_or_else(|| request.not_found())?;
    let format = request.format();
    Ok(respond(StatusCode::OK, format, body(&row, format)))
}

pub async fn delete(app: &AppState, request: &InstanceRequest) -> Result<Response, ApiError> {
    let sid = parse_sid(request)?;
    if !app.service.delete_caller_id(&request.account, &sid).await? {
        return Err(request.not_found());
    }
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

pub async fn list(
    app: &AppState,
    request: &TwilioRequest<CallerIdList>,
) -> Result<Response, ApiError> {
    let query = Params::parse(request.uri.query().unwrap_or("").as_bytes())?;
    let paging = PageRequest::parse(&query)?;
    // The filters in the order the caller gave them, echoed into every paging URI.
    let mut filters: Vec<(&str, &str)> = Vec::new();
    for (name, value) in query.pairs() {
        if (name == "PhoneNumber" || name == "FriendlyName") && !value.is_empty() {
            filters.push((name.as_str(), value.as_str()));
        }
    }
    let phone = query
        .get("PhoneNumber")?
        .filter(|v| !v.is_empty())
        .map(PhoneNumber::parse);
    // A PhoneNumber filter that is no phone number matches nothing.
    let phone_number = match &phone {
        None => PhoneFilter::Any,
        Some(Some(number)) => PhoneFilter::Number(number),
        Some(None) => PhoneFilter::NoNumber,
    };
    let filter = ListFilter {
        phone_number,
        friendly_name: query.get("FriendlyName")?.filter(|v| !v.is_empty()),
    };
    let page = app
        .service
        .list_caller_ids(&request.account, filter, &paging.cursor, paging.page_size)
        .await?;
    // CSV has no envelope: the page's rows alone, paged by the same parameters.
    if request.suffix == Suffix::Csv {
        return Ok(csv::respond(page.rows.iter().map(|row| &**row)));
    }

    let path = format!(
        "{}/OutgoingCallerIds{}",
        request.account_path(),
        request.suffix.as_str()
    );
    let uris = UriBuilder {
        path: &path,
        filters: &filters,
        page_size: paging.page_size,
    };
    let next_page_uri = match (page.has_more_after, page.rows.last()) {
        (true, Some(last)) => Some(uris.after(paging.page + 1, last.sid.as_str())),
        _ => None,
    };
    let previous_page_uri = match (page.has_more_before, page.rows.first()) {
        (true, Some(first)) if paging.page > 0 => {
            Some(uris.before(paging.page - 1, first.sid.as_str()))
        }
        _ => None,
    };
    let start = u64::from(paging.page) * u64::from(paging.page_size);
    let end = (start + page.rows.len() as u64)
        .saturating_sub(1)
        .max(start);
    let uri = uris.uri(paging.page, token_of(&paging.cursor));
    let first_page_uri = uris.uri(0, None);

    let body = match request.suffix {
        Suffix::Json => render::to_json(&ListJson {
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
        Suffix::Xml | Suffix::None | Suffix::Csv => render::to_xml(&ListXmlDoc {
            list: ListXml {
                page: paging.page,
                page_size: paging.page_size,
                start,
                end,
                uri,
                first_page_uri,
                previous_page_uri,
                next_page_uri,
                items: page.rows.iter().map(|row| to_xml(row)).collect(),
            },
        }),
    };
    Ok(respond(StatusCode::OK, request.format(), body))
}
