//! `GET …/Calls/{CallSid}`: the verification call as a Call resource, so clients that follow
//! a validation request's `call_sid` find it.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use crate::domain::call::{Call, CallStatus, VERIFICATION_CALLER};
use crate::domain::sid::CallSid;
use crate::domain::PhoneNumber;
use crate::http::context::TwilioRequest;
use crate::http::error::ApiError;
use crate::http::format::Format;
use crate::http::render::{self, xml_opt};
use crate::http::{respond, AppState};

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
    // Twilio leaves duration empty for calls that were never answered or are still going.
    let duration = (call.has_ended() && call.status == CallStatus::Completed)
        .then(|| call.duration.unwrap_or(0).to_string());
    let start_time = call.start_time.map(|t| render::rfc2822(t / 1000));
    let end_time = call.end_time.map(|t| render::rfc2822(t / 1000));
    let to_formatted = call.to.formatted();
    let from_formatted = PhoneNumber::from_stored(VERIFICATION_CALLER.to_string())
        .map_or_else(|raw| raw, |p| p.formatted());
    match format {
        Format::Json => render::to_json(&CallJson {
            account_sid: call.account_sid.to_string(),
            answered_by: None,
            api_version: "2010-04-01",
            caller_name: None,
            date_created: render::rfc2822(call.date_created / 1000),
            date_updated: render::rfc2822(call.date_updated / 1000),
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
            sid: call.sid.to_string(),
            start_time,
            status: call.status.as_str().to_string(),
            subresource_uris: BTreeMap::new(),
            to: call.to.to_string(),
            to_formatted,
            trunk_sid: None,
            uri: format!("{path}.json"),
        }),
        Format::Xml => render::to_xml(&CallXmlDoc {
            item: CallXml {
                sid: call.sid.to_string(),
                date_created: render::rfc2822(call.date_created / 1000),
                date_updated: render::rfc2822(call.date_updated / 1000),
                parent_call_sid: None,
                account_sid: call.account_sid.to_string(),
                to: call.to.to_string(),
                to_formatted,
                from: VERIFICATION_CALLER,
                from_formatted,
                phone_number_sid: None,
                status: call.status.as_str().to_string(),
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

pub async fn fetch(app: &AppState, request: &TwilioRequest) -> Result<Response, ApiError> {
    let sid = CallSid::parse(&request.name).ok_or_else(|| request.not_found())?;
    let call = app
        .service
        .call(&sid)
        .await?
        .filter(|c| c.account_sid == request.account)
        .ok_or_else(|| request.not_found())?;
    let format = request.format();
    Ok(respond(StatusCode::OK, format, body(&call, format)))
}
