//! `POST …/OutgoingCallerIds`: a validation request. Returns the code the callee must key and
//! the CallSid of the verification call, which the verification engine then plays out.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::outgoing_caller_ids::check_friendly_name;
use super::{respond, Ctx};
use crate::error::ApiError;
use crate::store::{Call, CreateCallOutcome, NewCall};
use crate::verification::{self, machine, Behavior};
use crate::wire::sid::{random_bytes, CallSid};
use crate::wire::{self, Format, Params, PhoneNumber};

/// The longest StatusCallback URL Twilio accepts.
pub const MAX_CALLBACK_URL: usize = 1000;
/// The longest Extension accepted.
pub const MAX_EXTENSION: usize = 32;

/// A validated validation request.
pub struct NewValidationRequest {
    pub phone: PhoneNumber,
    pub friendly_name: String,
    pub call_delay: i64,
    pub extension: Option<String>,
    pub status_callback: Option<String>,
    pub status_callback_method: &'static str,
}

impl NewValidationRequest {
    /// Reads and checks the form parameters, in the order Twilio reports their errors.
    pub fn from_params(params: &Params) -> Result<NewValidationRequest, ApiError> {
        let nonempty = |name: &str| -> Result<Option<&str>, ApiError> {
            Ok(params.get(name)?.filter(|v| !v.trim().is_empty()))
        };
        let raw_phone =
            nonempty("PhoneNumber")?.ok_or_else(|| ApiError::missing_parameter("PhoneNumber"))?;
        let phone = PhoneNumber::parse(raw_phone)
            .ok_or_else(|| ApiError::invalid_phone_number(raw_phone))?;
        let friendly_name = match params.get("FriendlyName")?.filter(|v| !v.is_empty()) {
            Some(name) => {
                check_friendly_name(name)?;
                name.to_string()
            }
            None => phone.formatted(),
        };
        let call_delay = match nonempty("CallDelay")? {
            None => 0,
            Some(raw) => match raw.trim().parse::<i64>() {
                Ok(n) if (0..=60).contains(&n) => n,
                _ => {
                    return Err(ApiError::bad_request(
                        21454,
                        format!(
                            "CallDelay must be a whole number of seconds from 0 to 60, not {raw:?}"
                        ),
                    ))
                }
            },
        };
        let extension = match nonempty("Extension")? {
            None => None,
            Some(ext) => {
                if ext.len() > MAX_EXTENSION
                    || !ext
                        .chars()
                        .all(|c| c.is_ascii_digit() || "wW#*".contains(c))
                {
                    return Err(ApiError::invalid_parameter(format!(
                        "Extension may hold at most {MAX_EXTENSION} of the digits 0-9, '*', '#' and 'w' (a half-second pause), not {ext:?}"
                    )));
                }
                Some(ext.to_string())
            }
        };
        let status_callback = match nonempty("StatusCallback")? {
            None => None,
            Some(url) => Some(check_callback_url(url)?),
        };
        let status_callback_method = match nonempty("StatusCallbackMethod")? {
            None => "POST",
            Some(m) if m.eq_ignore_ascii_case("POST") => "POST",
            Some(m) if m.eq_ignore_ascii_case("GET") => "GET",
            Some(_) => {
                return Err(ApiError::invalid_parameter(
                    "StatusCallbackMethod must be GET or POST",
                ))
            }
        };
        Ok(NewValidationRequest {
            phone,
            friendly_name,
            call_delay,
            extension,
            status_callback,
            status_callback_method,
        })
    }
}

/// A StatusCallback must be an absolute http(s) URL of at most 1,000 characters. It is kept
/// normalized (as the callback request will carry it: `http://host` gets its `/`, spaces and
/// non-ASCII characters are percent-encoded) and without its fragment, which is never sent, so
/// that the signature covers exactly the URL the receiver sees.
fn check_callback_url(url: &str) -> Result<String, ApiError> {
    let invalid =
        |why: &str| ApiError::bad_request(21456, format!("StatusCallback {why}: {url:?}"));
    if url.chars().count() > MAX_CALLBACK_URL {
        return Err(ApiError::bad_request(
            21456,
            format!("StatusCallback must be at most {MAX_CALLBACK_URL} characters long"),
        ));
    }
    let mut parsed = reqwest::Url::parse(url).map_err(|_| invalid("is not an absolute URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("must be an http or https URL"));
    }
    parsed.set_fragment(None);
    Ok(parsed.into())
}

/// Six decimal digits from the OS's cryptographic generator; leading zeros are allowed.
pub fn validation_code() -> String {
    loop {
        let n = u32::from_le_bytes(random_bytes::<4>());
        // Reject the top sliver so every code is equally likely.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

#[derive(Serialize)]
struct ValidationRequestJson<'a> {
    account_sid: &'a str,
    call_sid: &'a str,
    friendly_name: &'a str,
    phone_number: &'a str,
    validation_code: &'a str,
}

#[derive(Serialize)]
struct ValidationRequestXmlDoc<'a> {
    #[serde(rename = "ValidationRequest")]
    item: ValidationRequestXml<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ValidationRequestXml<'a> {
    account_sid: &'a str,
    phone_number: &'a str,
    friendly_name: &'a str,
    validation_code: &'a str,
    call_sid: &'a str,
}

pub async fn create(ctx: &Ctx<'_>, params: &Params) -> Result<Response, ApiError> {
    let request = NewValidationRequest::from_params(params)?;
    let app = ctx.app;
    let behavior = match app.store.behavior(&ctx.account, &request.phone) {
        Some(b) => Behavior::parse(&b),
        None => None,
    }
    .or_else(|| Behavior::for_magic_number(request.phone.as_str()))
    .unwrap_or(Behavior::CorrectCode);

    let now = wire::now_millis();
    let call = Call {
        sid: CallSid::generate().to_string(),
        account_sid: ctx.account.to_string(),
        to_number: request.phone.to_string(),
        friendly_name: request.friendly_name,
        validation_code: validation_code(),
        extension: request.extension,
        call_delay: request.call_delay,
        status_callback: request.status_callback,
        status_callback_method: request.status_callback_method.to_string(),
        behavior: behavior.as_str().to_string(),
        status: "queued".to_string(),
        verification_status: None,
        digits: None,
        next_action_at: Some(app.engine.timing.after(now, request.call_delay as f64)),
        outgoing_caller_id_sid: None,
        date_created: now,
        date_updated: now,
        start_time: None,
        end_time: None,
        duration: None,
    };
    // Steps already due (at time scale 0, the whole call) are taken in the same transaction.
    let mut new = NewCall {
        call: call.clone(),
        events: vec![(
            "queued",
            format!(
                "validation request created; callee behaviour {}, CallDelay {}s",
                behavior.as_str(),
                request.call_delay
            ),
        )],
        create_caller_id: false,
    };
    if call.next_action_at.is_some_and(|at| at <= now) {
        let (steps, to) = machine::steps_due(&call, behavior, &app.engine.timing, now);
        new.create_caller_id = steps.iter().any(|s| s.create_caller_id);
        new.events
            .extend(steps.into_iter().map(|s| (s.status, s.note)));
        new.call = to;
    }
    let ended = new
        .call
        .next_action_at
        .is_none()
        .then(|| new.call.status.clone());
    match app
        .store
        .create_call(new, verification::status_callback, now)
        .await?
    {
        CreateCallOutcome::AlreadyVerified => {
            return Err(ApiError::already_verified(&request.phone))
        }
        CreateCallOutcome::Created(created) => {
            for _ in &created.superseded {
                app.metrics.call_ended("canceled");
            }
            if let Some(status) = &ended {
                app.metrics.call_ended(status);
            }
            if !created.superseded.is_empty() || ended.is_some() {
                app.engine.wake_callbacks();
            }
        }
    }
    if ended.is_none() {
        app.engine.wake_calls();
    }
    app.metrics.validation_requests_created();

    let body = match ctx.format() {
        Format::Json => wire::to_json(&ValidationRequestJson {
            account_sid: &call.account_sid,
            call_sid: &call.sid,
            friendly_name: &call.friendly_name,
            phone_number: &call.to_number,
            validation_code: &call.validation_code,
        }),
        Format::Xml => wire::to_xml(&ValidationRequestXmlDoc {
            item: ValidationRequestXml {
                account_sid: &call.account_sid,
                phone_number: &call.to_number,
                friendly_name: &call.friendly_name,
                validation_code: &call.validation_code,
                call_sid: &call.sid,
            },
        }),
    };
    Ok(respond(StatusCode::OK, ctx.format(), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<NewValidationRequest, u32> {
        NewValidationRequest::from_params(&Params::parse(q.as_bytes()).map_err(|e| e.code)?)
            .map_err(|e| e.code)
    }

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..200 {
            let c = validation_code();
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn parameter_errors() {
        assert_eq!(parse("").err(), Some(20001));
        assert_eq!(parse("PhoneNumber=33").err(), Some(21421));
        let ok = parse("PhoneNumber=%2B14158675309")
            .map_err(|_| ())
            .expect("valid");
        assert_eq!(ok.friendly_name, "(415) 867-5309");
        assert_eq!(ok.status_callback_method, "POST");
        let long = "x".repeat(65);
        assert_eq!(
            parse(&format!("PhoneNumber=4158675309&FriendlyName={long}")).err(),
            Some(20001)
        );
        assert_eq!(
            parse("PhoneNumber=4158675309&CallDelay=61").err(),
            Some(21454)
        );
        assert_eq!(
            parse("PhoneNumber=4158675309&CallDelay=-1").err(),
            Some(21454)
        );
        assert_eq!(
            parse("PhoneNumber=4158675309&CallDelay=1.5").err(),
            Some(21454)
        );
        assert_eq!(
            parse("PhoneNumber=4158675309&Extension=12a").err(),
            Some(20001)
        );
        assert!(parse("PhoneNumber=4158675309&Extension=12w%23").is_ok());
        assert_eq!(
            parse("PhoneNumber=4158675309&StatusCallback=ftp://x/y").err(),
            Some(21456)
        );
        assert_eq!(
            parse("PhoneNumber=4158675309&StatusCallback=/relative").err(),
            Some(21456)
        );
        let long_url = format!("http://example.com/{}", "a".repeat(1000));
        assert_eq!(
            parse(&format!("PhoneNumber=4158675309&StatusCallback={long_url}")).err(),
            Some(21456)
        );
        assert_eq!(
            parse("PhoneNumber=4158675309&StatusCallbackMethod=PUT").err(),
            Some(20001)
        );
        assert!(parse("PhoneNumber=4158675309&StatusCallbackMethod=GET").is_ok());
    }
}
