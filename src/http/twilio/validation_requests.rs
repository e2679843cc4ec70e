//! `POST …/OutgoingCallerIds`: a validation request. Returns the code the callee must key and
//! the CallSid of the verification call, which the verification engine then plays out.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use crate::domain::call::ValidationRequest;
use crate::domain::callback::CallbackMethod;
use crate::domain::caller_id::FriendlyName;
use crate::domain::PhoneNumber;
use crate::http::context::{CallerIdList, TwilioRequest};
use crate::http::error::ApiError;
use crate::http::form::Params;
use crate::http::format::Format;
use crate::http::{render, respond, AppState};

/// The longest StatusCallback URL Twilio accepts.
pub const MAX_CALLBACK_URL: usize = 1000;
/// The longest Extension accepted.
pub const MAX_EXTENSION: usize = 32;

/// Reads and checks the form parameters, in the order Twilio reports their errors.
pub fn parse_request(params: &Params) -> Result<ValidationRequest, ApiError> {
    let nonempty = |name: &str| -> Result<Option<&str>, ApiError> {
        Ok(params.get(name)?.filter(|v| !v.trim().is_empty()))
    };
    let raw_phone =
        nonempty("PhoneNumber")?.ok_or_else(|| ApiError::missing_parameter("PhoneNumber"))?;
    let phone =
        PhoneNumber::parse(raw_phone).ok_or_else(|| ApiError::invalid_phone_number(raw_phone))?;
    let friendly_name = match params.get("FriendlyName")?.filter(|v| !v.is_empty()) {
        Some(name) => FriendlyName::parse(name)?,
        None => FriendlyName::of_number(&phone),
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
        Some(url) => Some(checked_callback_url(url)?),
    };
    let status_callback_method = match nonempty("StatusCallbackMethod")? {
        None => CallbackMethod::Post,
        Some(m) => CallbackMethod::parse(m).ok_or_else(|| {
            ApiError::invalid_parameter("StatusCallbackMethod must be GET or POST")
        })?,
    };
    Ok(ValidationRequest {
        phone,
        friendly_name,
        call_delay,
        extension,
        status_callback,
        status_callback_method,
    })
}

thread_local! {
    /// The StatusCallback URL accepted last on this thread, and the URL it is kept as: an
    /// app's validation requests mostly name one.
    static LAST_ACCEPTED: std::cell::RefCell<(String, String)> = const {
        std::cell::RefCell::new((String::new(), String::new()))
    };
}

/// [`check_callback_url`], without parsing again the URL accepted last on this thread.
fn checked_callback_url(url: &str) -> Result<String, ApiError> {
    let last = LAST_ACCEPTED.with_borrow(|(given, kept)| (given == url).then(|| kept.clone()));
    if let Some(kept) = last {
        return Ok(kept);
    }
    let kept = check_callback_url(url)?;
    LAST_ACCEPTED.with_borrow_mut(|last| *last = (url.to_string(), kept.clone()));
    Ok(kept)
}

/// A StatusCallback must be an absolute http(s) URL of at most 1,000 characters. It is kept
/// normalized (as the callback request will carry it: `http://host` gets its `/`, spaces and
/// non-ASCII characters are percent-encoded) and without its fragment, which is never sent, so
/// that the signature covers exactly the URL the receiver sees.
pub fn check_callback_url(url: &str) -> Result<String, ApiError> {
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
    // The limit holds for the URL as stored and sent too: percent-encoding can make a URL of
    // 400 characters three times as long, and one over the limit would not pass this check
    // again.
    let normal: String = parsed.into();
    if normal.chars().count() > MAX_CALLBACK_URL {
        return Err(ApiError::bad_request(
            21456,
            format!(
                "StatusCallback must be at most {MAX_CALLBACK_URL} characters long once \
                 percent-encoded"
            ),
        ));
    }
    Ok(normal)
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

pub async fn create(
    app: &AppState,
    request: &TwilioRequest<CallerIdList>,
    params: &Params,
) -> Result<Response, ApiError> {
    let validation = parse_request(params)?;
    let call = app
        .service
        .create_validation_request(&request.account, validation)
        .await?;
    let body = match request.format() {
        Format::Json => render::to_json(&ValidationRequestJson {
            account_sid: call.account_sid.as_str(),
            call_sid: call.sid.as_str(),
            friendly_name: call.friendly_name.as_str(),
            phone_number: call.to.as_str(),
            validation_code: &call.validation_code,
        }),
        Format::Xml => render::to_xml(&ValidationRequestXmlDoc {
            item: ValidationRequestXml {
                account_sid: call.account_sid.as_str(),
                phone_number: call.to.as_str(),
                friendly_name: call.friendly_name.as_str(),
                validation_code: &call.validation_code,
                call_sid: call.sid.as_str(),
            },
        }),
    };
    Ok(respond(StatusCode::OK, request.format(), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<ValidationRequest, u32> {
        parse_request(&Params::parse(q.as_bytes()).map_err(|e| e.code)?).map_err(|e| e.code)
    }

    #[test]
    fn parameter_errors() {
        assert_eq!(parse("").err(), Some(20001));
        assert_eq!(parse("PhoneNumber=33").err(), Some(21421));
        let ok = parse("PhoneNumber=%2B14158675309")
            .map_err(|_| ())
            .expect("valid");
        assert_eq!(ok.friendly_name.as_str(), "(415) 867-5309");
        assert_eq!(ok.status_callback_method, CallbackMethod::Post);
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

    /// A URL accepted a moment ago is kept as it was; another one, or a bad one, is checked.
    #[test]
    fn the_url_accepted_last_is_kept_as_checked() {
        let kept = |q: &str| parse(q).map(|r| r.status_callback);
        let first = "PhoneNumber=4158675309&StatusCallback=http://h/a b#f";
        for _ in 0..2 {
            assert_eq!(kept(first), Ok(Some("http://h/a%20b".to_string())));
        }
        let other = "PhoneNumber=4158675309&StatusCallback=http://h/c";
        assert_eq!(kept(other), Ok(Some("http://h/c".to_string())));
        let bad = "PhoneNumber=4158675309&StatusCallback=ftp://h/c";
        for _ in 0..2 {
            assert_eq!(kept(bad), Err(21456));
        }
        assert_eq!(kept(first), Ok(Some("http://h/a%20b".to_string())));
    }

    /// Found by the callback_url fuzz target: a URL under the limit whose normalised form was
    /// over it was kept, and the kept URL did not pass the check again.
    #[test]
    fn callback_url_limit_holds_after_percent_encoding() {
        let raw = format!("http://example.com/{}", "`".repeat(400));
        assert!(raw.chars().count() <= MAX_CALLBACK_URL);
        assert_eq!(check_callback_url(&raw).map_err(|e| e.code), Err(21456));
        let fits = format!("http://example.com/{}", "`".repeat(300));
        let normal = check_callback_url(&fits).map_err(|_| ()).expect("fits");
        assert_eq!(normal.len(), "http://example.com/".len() + 900);
        assert_eq!(
            check_callback_url(&normal).ok().as_deref(),
            Some(normal.as_str())
        );
    }
}
