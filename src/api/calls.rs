//! `GET …/Calls/{CallSid}`: the verification call as a Call resource, so clients that follow
//! a validation request's `call_sid` find it.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::{respond, Ctx};
use crate::error::ApiError;
use crate::store::Call;
use crate::verification::VERIFICATION_CALLER;
use crate::wire::sid::CallSid;
use crate::wire::{self, xml_opt, Format, PhoneNumber};

#[derive(Serialize)]
struct CallJson {
    account_sid: String,
    answered_by: Option<String>,
    api_version: &'static str,
    caller_name: Option<String>,
    date_created: String,
    date_updated: String,
    direction: &'static str,
    duration: Option<String>,
    end_time: Option<String>,
    forwarded_from: Option<String>,
    from: &'static str,
    from_formatted: String,
    group_sid: Option<String>,
    parent_call_sid: Option<String>,
    phone_number_sid: Option<String>,
    price: Option<String>,
    price_unit: &'static str,
    queue_time: &'static str,
    sid: String,
    start_time: Option<String>,
    status: String,
    subresource_uris: BTreeMap<String, String>,
    to: String,
    to_formatted: String,
    trunk_sid: Option<String>,
    uri: String,
}

#[derive(Serialize)]
struct CallXmlDoc {
    #[serde(rename = "Call")]
    item: CallXml,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CallXml {
    sid: String,
    date_created: String,
    date_updated: String,
    #[serde(serialize_with = "xml_opt")]
    parent_call_sid: Option<String>,
    account_sid: String,
    to: String,
    to_formatted: String,
    from: &'static str,
    from_formatted: String,
    #[serde(serialize_with = "xml_opt")]
    phone_number_sid: Option<String>,
    status: String,
    #[serde(serialize_with = "xml_opt")]
    start_time: Option<String>,
    #[serde(serialize_with = "xml_opt")]
    end_time: Option<String>,
    #[serde(serialize_with = "xml_opt")]
    duration: Option<String>,
    #[serde(serialize_with = "xml_opt")]
    price: Option<String>,
    price_unit: &'static str,
    direction: &'static str,
    #[serde(serialize_with = "xml_opt")]
    answered_by: Option<String>,
    api_version: &'static str,
    #[serde(serialize_with = "xml_opt")]
    forwarded_from: Option<String>,
    #[serde(serialize_with = "xml_opt")]
    caller_name: Option<String>,
    #[serde(serialize_with = "xml_opt")]
    group_sid: Option<String>,
    queue_time: &'static str,
    #[serde(serialize_with = "xml_opt")]
    trunk_sid: Option<String>,
    uri: String,
    subresource_uris: BTreeMap<String, String>,
}

fn body(call: &Call, format: Format) -> Vec<u8> {
    let path = format!(
        "/2010-04-01/Accounts/{}/Calls/{}",
        call.account_sid, call.sid
    );
    let ended = call.next_action_at.is_none();
    // Twilio leaves duration empty for calls that were never answered or are still going.
    let duration =
        (ended && call.status == "completed").then(|| call.duration.unwrap_or(0).to_string());
    let start_time = call.start_time.map(|t| wire::rfc2822(t / 1000));
    let end_time = call.end_time.map(|t| wire::rfc2822(t / 1000));
    let to_formatted = PhoneNumber::from_trusted(call.to_number.clone()).formatted();
    let from_formatted = PhoneNumber::from_trusted(VERIFICATION_CALLER.to_string()).formatted();
    match format {
        Format::Json => wire::to_json(&CallJson {
            account_sid: call.account_sid.clone(),
            answered_by: None,
            api_version: "2010-04-01",
            caller_name: None,
            date_created: wire::rfc2822(call.date_created / 1000),
            date_updated: wire::rfc2822(call.date_updated / 1000),
            direction: "outbound-api",
            duration,
            end_time,
            forwarded_from: None,
            from: VERIFICATION_CALLER,
            from_formatted,
            group_sid: None,
            parent_call_sid: None,
            phone_number_sid: None,
            price: None,
            price_unit: "USD",
            queue_time: "0",
            sid: call.sid.clone(),
            start_time,
            status: call.status.clone(),
            subresource_uris: BTreeMap::new(),
            to: call.to_number.clone(),
            to_formatted,
            trunk_sid: None,
            uri: format!("{path}.json"),
        }),
        Format::Xml => wire::to_xml(&CallXmlDoc {
            item: CallXml {
                sid: call.sid.clone(),
                date_created: wire::rfc2822(call.date_created / 1000),
                date_updated: wire::rfc2822(call.date_updated / 1000),
                parent_call_sid: None,
                account_sid: call.account_sid.clone(),
                to: call.to_number.clone(),
                to_formatted,
                from: VERIFICATION_CALLER,
                from_formatted,
                phone_number_sid: None,
                status: call.status.clone(),
                start_time,
                end_time,
                duration,
                price: None,
                price_unit: "USD",
                direction: "outbound-api",
                answered_by: None,
                api_version: "2010-04-01",
                forwarded_from: None,
                caller_name: None,
                group_sid: None,
                queue_time: "0",
                trunk_sid: None,
                uri: path,
                subresource_uris: BTreeMap::new(),
            },
        }),
    }
}

pub async fn fetch(ctx: &Ctx<'_>, raw_sid: &str) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found(ctx.uri.path());
    let sid = CallSid::parse(raw_sid).ok_or_else(not_found)?;
    let call = ctx
        .app
        .store
        .call(&sid)
        .await?
        .filter(|c| c.account_sid == ctx.account.as_str())
        .ok_or_else(not_found)?;
    Ok(respond(
        StatusCode::OK,
        ctx.format(),
        body(&call, ctx.format()),
    ))
}
