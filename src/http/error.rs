//! The one error type. Every failure, from a bad form body to a database fault, leaves the
//! server as Twilio's error body: JSON `{"code", "detail"?, "message", "more_info", "status"}`
//! or XML `<RestException>`, chosen by the request path's suffix in [`render_pending`].
//! Service errors map onto Twilio's codes here, and only here.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::format::Format;
use super::render::{self, json_and_xml};
use crate::domain::caller_id::FriendlyNameError;
use crate::domain::PhoneNumber;
use crate::service::ServiceError;

/// Why a request was not authenticated; each has Twilio's own message.
#[derive(Clone, Copy, Debug)]
pub enum AuthFailure {
    NoCredentials,
    InvalidUsername,
    WrongPassword,
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
    pub detail: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            detail: None,
        }
    }

    /// 400 with code 20001, Twilio's generic code for a bad or missing parameter.
    pub fn invalid_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, 20001, message)
    }

    /// 400 with a specific code from Twilio's error dictionary.
    pub fn bad_request(code: u32, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 400 21421: what the client sent is not a phone number.
    pub fn invalid_phone_number(raw: &str) -> ApiError {
        ApiError::bad_request(21421, format!("{raw} is not a valid phone number"))
    }

    /// 400 21450: the number is a verified caller ID of the account already.
    pub fn already_verified(phone: &PhoneNumber) -> ApiError {
        ApiError::bad_request(
            21450,
            format!("Phone number {phone} is already verified on your account"),
        )
    }

    pub fn missing_parameter(name: &str) -> ApiError {
        ApiError::invalid_parameter(format!(
            "Missing required parameter {name} in the post body"
        ))
    }

    /// 404 20404 naming the requested path, suffix included, as Twilio does.
    pub fn not_found(path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            20404,
            format!("The requested resource {path} was not found"),
        )
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, 20004, "Method not allowed")
    }

    pub fn unauthenticated(why: AuthFailure) -> ApiError {
        let message = match why {
            AuthFailure::NoCredentials => "Authentication Error - No credentials provided",
            AuthFailure::InvalidUsername => "Authentication Error - invalid username",
            AuthFailure::WrongPassword => "Authenticate",
        };
        ApiError {
            detail: Some("Your AccountSid or AuthToken was incorrect.".to_string()),
            ..ApiError::new(StatusCode::UNAUTHORIZED, 20003, message)
        }
    }

    /// 401 20005: the account acting, or the account reached, is suspended or closed.
    pub fn not_active() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, 20005, "Account not active")
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, 20409, message)
    }

    pub fn payload_too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            20001,
            format!("The request body is larger than the limit of {limit} bytes"),
        )
    }

    pub fn timeout() -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            20001,
            "The request took too long and was cancelled",
        )
    }

    /// A fault of ours. Logged in full here; the client sees only a generic 500.
    pub fn internal(err: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %err, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            20500,
            "An internal server error occurred",
        )
    }

    fn more_info(&self) -> String {
        format!("https://www.twilio.com/docs/errors/{}", self.code)
    }

    /// The error body in the given format. Characters XML 1.0 cannot carry (control characters
    /// echoed from a client's input) become U+FFFD, so the document always parses.
    pub fn body(&self, format: Format) -> Vec<u8> {
        let safe = render::xml_safe(&self.message);
        let fields = |message| JsonError {
            code: self.code,
            detail: self.detail.as_deref(),
            message,
            more_info: self.more_info(),
            status: self.status.as_u16(),
        };
        match format {
            Format::Json => render::to_json(&fields(&self.message)),
            Format::Xml => render::to_xml(&XmlError {
                rest_exception: fields(&safe).into(),
            }),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> ApiError {
        match err {
            ServiceError::AlreadyVerified(phone) => ApiError::already_verified(&phone),
            ServiceError::AccountExists(sid) => {
                ApiError::conflict(format!("Account {sid} already exists"))
            }
            ServiceError::NoSuchAccount(sid) => {
                ApiError::invalid_parameter(format!("Account {sid} does not exist"))
            }
            ServiceError::AccountClosed(sid) => ApiError::bad_request(
                21479,
                format!("Account {sid} is closed; its status cannot be changed"),
            ),
            ServiceError::SubaccountCannotCreate(_) => ApiError::new(
                StatusCode::FORBIDDEN,
                21100,
                "Subaccounts cannot create subaccounts; use the main account's credentials",
            ),
            ServiceError::CallEnded {
                sid,
                status: Some(status),
            } => ApiError::conflict(format!(
                "Call {sid} has ended ({}); it takes no more digits",
                status.as_str()
            )),
            ServiceError::CallEnded { sid, status: None } => {
                ApiError::conflict(format!("Call {sid} has ended; it takes no more digits"))
            }
            ServiceError::ForeignPageToken(sid) => ApiError::bad_request(
                21481,
                format!("Invalid PageToken: {sid} is not in this list"),
            ),
            ServiceError::Store(e) => ApiError::internal(e),
        }
    }
}

impl From<FriendlyNameError> for ApiError {
    fn from(err: FriendlyNameError) -> ApiError {
        ApiError::invalid_parameter(err.to_string())
    }
}

json_and_xml! {
    /// Twilio's error body.
    JsonError, XmlException<'a> {
        code: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<&'a str>,
        message: &'a str,
        more_info: String,
        status: u16,
    }
}

#[derive(Serialize)]
struct XmlError<'a> {
    #[serde(rename = "RestException")]
    rest_exception: XmlException<'a>,
}

/// An error response waiting for [`render_pending`] to give it a body in the request's format.
#[derive(Clone)]
pub struct PendingError(pub ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = self.status;
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        response.extensions_mut().insert(PendingError(self));
        response
    }
}

/// Gives an error response its body in `format`: the Twilio namespace answers in the format of
/// the path's suffix, the control API always in JSON. [`crate::http::middleware::observe`] calls this
/// for every response. Returns the Twilio error code of the body it rendered, `None` for a
/// response that was not an error.
pub fn render_pending(response: &mut Response, format: Format) -> Option<u32> {
    let PendingError(err) = response.extensions_mut().remove::<PendingError>()?;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response.headers_mut().remove(header::CONTENT_LENGTH);
    *response.body_mut() = Body::from(err.body(format));
    Some(err.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_error_bodies_match_twilio_byte_for_byte() {
        let err = ApiError::unauthenticated(AuthFailure::WrongPassword);
        let json = err.body(Format::Json);
        assert_eq!(
            String::from_utf8_lossy(&json),
            r#"{"code": 20003, "detail": "Your AccountSid or AuthToken was incorrect.", "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}"#
        );
        assert_eq!(json.len(), 171);
        let xml = err.body(Format::Xml);
        assert_eq!(
            String::from_utf8_lossy(&xml),
            "<?xml version='1.0' encoding='UTF-8'?>\n<TwilioResponse><RestException><Code>20003</Code><Detail>Your AccountSid or AuthToken was incorrect.</Detail><Message>Authenticate</Message><MoreInfo>https://www.twilio.com/docs/errors/20003</MoreInfo><Status>401</Status></RestException></TwilioResponse>"
        );
        assert_eq!(xml.len(), 293);
    }
}
