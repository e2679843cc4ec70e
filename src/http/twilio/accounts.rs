//! The Accounts resource: `/2010-04-01/Accounts` (list, create a subaccount) and
//! `/2010-04-01/Accounts/{Sid}` (fetch, update FriendlyName and Status).

use axum::http::StatusCode;
use axum::response::Response;

use super::account_repr::{body, to_json, to_xml, ListJson, ListXml, ListXmlDoc};
use crate::domain::account::{Account, AccountStatus, AccountUpdate};
use crate::domain::caller_id::FriendlyName;
use crate::domain::sid::AccountSid;
use crate::http::context::{AccountInstance, AccountList, TwilioRequest};
use crate::http::error::ApiError;
use crate::http::form::Params;
use crate::http::format::{Format, Suffix};
use crate::http::paging::{Envelope, SidPageRequest, UriBuilder};
use crate::http::{csv, render, respond, AppState};

/// A `FriendlyName` parameter: absent or empty is `None`.
fn friendly_name(params: &Params) -> Result<Option<String>, ApiError> {
    match params.get("FriendlyName")? {
        None | Some("") => Ok(None),
        Some(raw) => Ok(Some(FriendlyName::parse(raw)?.as_str().to_string())),
    }
}

/// A `Status` parameter: absent or empty is `None`.
fn status(params: &Params) -> Result<Option<AccountStatus>, ApiError> {
    match params.get("Status")? {
        None | Some("") => Ok(None),
        Some(raw) => AccountStatus::parse(raw).map(Some).ok_or_else(|| {
            ApiError::invalid_parameter(format!(
                "Status must be active, suspended or closed, not {raw:?}"
            ))
        }),
    }
}

/// `POST /Accounts`: a subaccount of the authenticated account, 201.
pub async fn create(
    app: &AppState,
    request: &TwilioRequest<AccountList>,
    params: &Params,
) -> Result<Response, ApiError> {
    let name = friendly_name(params)?;
    let account = app
        .service
        .create_subaccount(&request.account, name)
        .await?;
    let format = request.format();
    Ok(respond(StatusCode::CREATED, format, body(&account, format)))
}

async fn the_account(
    app: &AppState,
    request: &TwilioRequest<AccountInstance>,
) -> Result<Account, ApiError> {
    app.service
        .account(&request.account)
        .await?
        .ok_or_else(|| request.not_found())
}

pub async fn fetch(
    app: &AppState,
    request: &TwilioRequest<AccountInstance>,
) -> Result<Response, ApiError> {
    let account = the_account(app, request).await?;
    let format = request.format();
    Ok(respond(StatusCode::OK, format, body(&account, format)))
}

/// `POST /Accounts/{Sid}`: `FriendlyName` by the account or its parent; `Status` by the
/// parent only (a main account's status is not the API's to change, as on Twilio).
pub async fn update(
    app: &AppState,
    request: &TwilioRequest<AccountInstance>,
    params: &Params,
) -> Result<Response, ApiError> {
    let update = AccountUpdate {
        friendly_name: friendly_name(params)?,
        status: status(params)?,
    };
    if update.status.is_some() {
        let account = the_account(app, request).await?;
        if account.owner_account_sid.as_ref() != Some(&request.acting) {
            return Err(ApiError::bad_request(
                21100,
                "Only the parent account can change an account's status; a main account's \
                 status cannot be changed through the API",
            ));
        }
    }
    let account = app
        .service
        .update_account(&request.account, &update)
        .await?
        .ok_or_else(|| request.not_found())?;
    let format = request.format();
    Ok(respond(StatusCode::OK, format, body(&account, format)))
}

fn sid_of(account: &Account) -> &str {
    account.sid.as_str()
}

/// `GET /Accounts`: the authenticated account and its subaccounts in sid order, filtered by
/// `FriendlyName` (exact) and `Status`.
pub async fn list(
    app: &AppState,
    request: &TwilioRequest<AccountList>,
) -> Result<Response, ApiError> {
    let query = Params::parse(request.uri.query().unwrap_or("").as_bytes())?;
    let paging =
        SidPageRequest::parse(&query, |s| AccountSid::parse(s).map(|sid| sid.to_string()))?;
    let name = query.get("FriendlyName")?.filter(|v| !v.is_empty());
    let wanted = status(&query)?;
    let mut filters: Vec<(&str, &str)> = Vec::new();
    for (key, value) in query.pairs() {
        if (key == "FriendlyName" || key == "Status") && !value.is_empty() {
            filters.push((key.as_str(), value.as_str()));
        }
    }
    let family: Vec<Account> = app
        .service
        .account_family(&request.account)
        .await?
        .into_iter()
        .filter(|a| name.is_none_or(|n| a.friendly_name == n))
        .filter(|a| wanted.is_none_or(|s| a.status == s))
        .collect();
    let (rows, before, after) = paging.slice(&family, sid_of);
    if request.suffix == Suffix::Csv {
        return Ok(csv::respond(rows.iter()));
    }

    let path = format!("/2010-04-01/Accounts{}", request.suffix.as_str());
    let uris = UriBuilder {
        path: &path,
        filters: &filters,
        page_size: paging.page_size,
    };
    let e = Envelope::of(&uris, &paging, rows, sid_of, before, after);
    let body = match request.format() {
        Format::Json => render::to_json(&ListJson {
            accounts: rows.iter().map(to_json).collect(),
            end: e.end,
            first_page_uri: e.first_page_uri,
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
                items: rows.iter().map(to_xml).collect(),
            },
        }),
    };
    Ok(respond(StatusCode::OK, request.format(), body))
}
