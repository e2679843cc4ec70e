//! `/_emulator/accounts/{AccountSid}/…`: caller-ID fixtures and the callee behaviour of numbers.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{body, json, phone, PathAccount, PathPhone};
use crate::domain::call::{Behavior, BehaviorSource};
use crate::domain::caller_id::{Cursor, FriendlyName, ListFilter};
use crate::domain::sid::AccountSid;
use crate::domain::PhoneNumber;
use crate::http::error::ApiError;
use crate::http::twilio::caller_id_repr::to_json;
use crate::http::AppState;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewCallerId {
    phone_number: Option<String>,
    friendly_name: Option<String>,
}

pub(super) async fn create_caller_id(
    State(app): State<AppState>,
    PathAccount(account): PathAccount,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let new: NewCallerId = body(&bytes)?;
    let raw_phone = new
        .phone_number
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("Missing required parameter phone_number"))?;
    let phone = phone(&raw_phone)?;
    let friendly_name = match new.friendly_name {
        Some(name) => FriendlyName::parse(&name)?,
        None => FriendlyName::of_number(&phone),
    };
    let row = app
        .service
        .add_caller_id(&account, &phone, friendly_name)
        .await?;
    Ok(json(StatusCode::CREATED, &to_json(&row)))
}

/// `GET /_emulator/accounts/{AccountSid}/outgoing-caller-ids`: the account's caller IDs in
/// sid order, up to 1000, in the Twilio API's JSON form.
pub(super) async fn list_caller_ids(
    State(app): State<AppState>,
    PathAccount(account): PathAccount,
) -> Result<Response, ApiError> {
    let page = app
        .service
        .list_caller_ids(&account, ListFilter::default(), &Cursor::Start, 1000)
        .await?;
    let rows: Vec<_> = page.rows.iter().map(|row| to_json(row)).collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "outgoing_caller_ids": rows, "has_more": page.has_more_after }),
    ))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SetBehavior {
    behavior: Option<String>,
}

#[derive(Serialize)]
struct BehaviorView {
    account_sid: String,
    phone_number: String,
    behavior: &'static str,
    magic: bool,
}

fn behavior_view(
    account: &AccountSid,
    phone: &PhoneNumber,
    behavior: Behavior,
    magic: bool,
) -> Response {
    json(
        StatusCode::OK,
        &BehaviorView {
            account_sid: account.to_string(),
            phone_number: phone.to_string(),
            behavior: behavior.as_str(),
            magic,
        },
    )
}

pub(super) async fn set_behavior(
    State(app): State<AppState>,
    PathAccount(account): PathAccount,
    PathPhone(phone): PathPhone,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: SetBehavior = body(&bytes)?;
    let names = Behavior::ALL.map(Behavior::as_str).join(", ");
    let raw = request.behavior.ok_or_else(|| {
        ApiError::invalid_parameter(format!("Missing required parameter behavior ({names})"))
    })?;
    let behavior = Behavior::parse(&raw).ok_or_else(|| {
        ApiError::invalid_parameter(format!("behavior must be one of {names}, not {raw:?}"))
    })?;
    app.service.set_behavior(&account, &phone, behavior).await?;
    Ok(behavior_view(&account, &phone, behavior, false))
}

pub(super) async fn get_behavior(
    State(app): State<AppState>,
    PathAccount(account): PathAccount,
    PathPhone(phone): PathPhone,
) -> Result<Response, ApiError> {
    let (behavior, source) = app.service.behavior(&account, &phone).await?;
    Ok(behavior_view(
        &account,
        &phone,
        behavior,
        source == BehaviorSource::Magic,
    ))
}
