//! Twilio's list paging: `PageSize`, `Page` and `PageToken` in, the envelope's URIs out.
//!
//! A `PageToken` is `PA` + the sid of the last row of the page before (read forwards) or `PB` +
//! the sid of the first row of the page after (read backwards). Generated URIs repeat the
//! caller's filters in the order given, then `PageSize`, `Page` and `PageToken`.

use super::error::ApiError;
use super::form::{encode, Params};
use crate::domain::caller_id::Cursor;
use crate::domain::sid::CallerIdSid;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 1000;

#[derive(Clone, Debug)]
pub struct PageRequest {
    pub page_size: u32,
    pub page: u32,
    pub cursor: Cursor,
}

impl PageRequest {
    pub fn parse(query: &Params) -> Result<PageRequest, ApiError> {
        let (page_size, page) = size_and_page(query)?;
        let cursor = match query.get("PageToken")? {
            None | Some("") => Cursor::Start,
            Some(token) => parse_token(token).ok_or_else(|| {
                ApiError::bad_request(21481, format!("Invalid PageToken {token:?}"))
            })?,
        };
        if page > 0 && matches!(cursor, Cursor::Start) {
            return Err(ApiError::invalid_parameter(
                "PageToken is required for paging.",
            ));
        }
        Ok(PageRequest {
            page_size,
            page,
            cursor,
        })
    }
}

/// `PageSize` and `Page` of a list request.
fn size_and_page(query: &Params) -> Result<(u32, u32), ApiError> {
    let page_size = match query.get("PageSize")? {
        None | Some("") => DEFAULT_PAGE_SIZE,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if n >= 1 => n.min(i64::from(MAX_PAGE_SIZE)) as u32,
            _ => {
                return Err(ApiError::invalid_parameter(format!(
                    "PageSize must be a whole number from 1 to {MAX_PAGE_SIZE}, not {raw:?}"
                )))
            }
        },
    };
    let page = match query.get("Page")? {
        None | Some("") => 0,
        Some(raw) => raw.trim().parse::<u32>().map_err(|e| {
            // A whole number too large for a page index is still a whole number: say so.
            ApiError::invalid_parameter(match e.kind() {
                std::num::IntErrorKind::PosOverflow => {
                    format!("Page must be at most {}, not {raw:?}", u32::MAX)
                }
                _ => format!("Page must be a whole number from 0, not {raw:?}"),
            })
        })?,
    };
    Ok((page_size, page))
}

/// A page of a list kept in memory in sid order (the Accounts and Keys lists), with the
/// same `PageSize`, `Page` and `PageToken` rules as the caller-ID list.
#[derive(Clone, Debug)]
pub struct SidPageRequest {
    pub page_size: u32,
    pub page: u32,
    /// The `PageToken`: `PA`/`PB` and a sid that `well_formed` accepted.
    pub token: Option<(bool, String)>,
}

impl SidPageRequest {
    /// `well_formed` tells the list's sids (lower-cased) from anything else.
    pub fn parse(
        query: &Params,
        well_formed: fn(&str) -> Option<String>,
    ) -> Result<SidPageRequest, ApiError> {
        let (page_size, page) = size_and_page(query)?;
        let token = match query.get("PageToken")? {
            None | Some("") => None,
            Some(token) => {
                let parsed = token.split_at_checked(2).and_then(|(dir, sid)| {
                    let after = match dir {
                        "PA" => true,
                        "PB" => false,
                        _ => return None,
                    };
                    Some((after, well_formed(sid)?))
                });
                Some(parsed.ok_or_else(|| {
                    ApiError::bad_request(21481, format!("Invalid PageToken {token:?}"))
                })?)
            }
        };
        if page > 0 && token.is_none() {
            return Err(ApiError::invalid_parameter(
                "PageToken is required for paging.",
            ));
        }
        Ok(SidPageRequest {
            page_size,
            page,
            token,
        })
    }

    /// The token this request carried, echoed into its own `uri`.
    pub fn token(&self) -> Option<String> {
        self.token
            .as_ref()
            .map(|(after, sid)| format!("{}{sid}", if *after { "PA" } else { "PB" }))
    }

    /// This request's page of `rows` (in sid order), with whether rows exist before and
    /// after it.
    pub fn slice<'r, T>(&self, rows: &'r [T], sid: fn(&T) -> &str) -> (&'r [T], bool, bool) {
        let size = self.page_size as usize;
        let (start, end) = match &self.token {
            None => (0, size.min(rows.len())),
            Some((true, after)) => {
                let start = rows.partition_point(|r| sid(r) <= after.as_str());
                (start, (start + size).min(rows.len()))
            }
            Some((false, before)) => {
                let end = rows.partition_point(|r| sid(r) < before.as_str());
                (end.saturating_sub(size), end)
            }
        };
        (&rows[start..end], start > 0, end < rows.len())
    }
}

/// The paging fields of a list response.
pub struct Envelope {
    pub uri: String,
    pub first_page_uri: String,
    pub next_page_uri: Option<String>,
    pub previous_page_uri: Option<String>,
    pub start: u64,
    pub end: u64,
}

impl Envelope {
    /// The envelope of `rows`, the page `paging` asked for, `before`/`after` saying whether
    /// rows exist beyond each end.
    pub fn of<T>(
        uris: &UriBuilder<'_>,
        paging: &SidPageRequest,
        rows: &[T],
        sid: fn(&T) -> &str,
        before: bool,
        after: bool,
    ) -> Envelope {
        let next_page_uri = match (after, rows.last()) {
            (true, Some(last)) => Some(uris.after(paging.page + 1, sid(last))),
            _ => None,
        };
        let previous_page_uri = match (before, rows.first()) {
            (true, Some(first)) if paging.page > 0 => {
                Some(uris.before(paging.page - 1, sid(first)))
            }
            _ => None,
        };
        let start = u64::from(paging.page) * u64::from(paging.page_size);
        let end = (start + rows.len() as u64).saturating_sub(1).max(start);
        Envelope {
            uri: uris.uri(paging.page, paging.token()),
            first_page_uri: uris.uri(0, None),
            next_page_uri,
            previous_page_uri,
            start,
            end,
        }
    }
}

fn parse_token(token: &str) -> Option<Cursor> {
    let (direction, sid) = token.split_at_checked(2)?;
    let sid = CallerIdSid::parse(sid)?;
    match direction {
        "PA" => Some(Cursor::After(sid)),
        "PB" => Some(Cursor::Before(sid)),
        _ => None,
    }
}

/// Builds the URIs of one list response.
pub struct UriBuilder<'a> {
    /// The list path with the request's suffix, e.g. `/2010-04-01/Accounts/AC…/OutgoingCallerIds.json`.
    pub path: &'a str,
    /// The filters as the caller sent them, in order.
    pub filters: &'a [(&'a str, &'a str)],
    pub page_size: u32,
}

impl UriBuilder<'_> {
    pub fn uri(&self, page: u32, token: Option<String>) -> String {
        let mut uri = String::with_capacity(self.path.len() + 96);
        uri.push_str(self.path);
        let mut sep = '?';
        for (name, value) in self.filters {
            uri.push(sep);
            uri.push_str(name);
            uri.push('=');
            uri.push_str(&encode(value));
            sep = '&';
        }
        uri.push(sep);
        uri.push_str(&format!("PageSize={}&Page={page}", self.page_size));
        if let Some(token) = token {
            uri.push_str("&PageToken=");
            uri.push_str(&token);
        }
        uri
    }

    pub fn after(&self, page: u32, sid: &str) -> String {
        self.uri(page, Some(format!("PA{sid}")))
    }

    pub fn before(&self, page: u32, sid: &str) -> String {
        self.uri(page, Some(format!("PB{sid}")))
    }
}

/// The token a request carried, echoed into its own `uri`.
pub fn token_of(cursor: &Cursor) -> Option<String> {
    match cursor {
        Cursor::Start => None,
        Cursor::After(sid) => Some(format!("PA{sid}")),
        Cursor::Before(sid) => Some(format!("PB{sid}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<PageRequest, ApiError> {
        PageRequest::parse(&Params::parse(q.as_bytes()).expect("query"))
    }

    #[test]
    fn defaults_and_caps() {
        let p = parse("").expect("ok");
        assert_eq!((p.page_size, p.page), (50, 0));
        assert_eq!(parse("PageSize=5000").expect("ok").page_size, 1000);
        assert_eq!(parse("PageSize=0").map_err(|e| e.code).err(), Some(20001));
        assert_eq!(parse("PageSize=x").map_err(|e| e.code).err(), Some(20001));
        assert_eq!(parse("Page=2").map_err(|e| e.code).err(), Some(20001));
        assert_eq!(parse("Page=-1").map_err(|e| e.code).err(), Some(20001));
        let huge = parse("Page=68135572953175832&PageToken=PAPN0123456789abcdef0123456789abcdef");
        assert!(huge
            .err()
            .is_some_and(|e| e.message.contains("at most 4294967295")));
        assert_eq!(
            parse("PageToken=PAxyz").map_err(|e| e.code).err(),
            Some(21481)
        );
        let p = parse("Page=1&PageToken=PAPN0123456789abcdef0123456789abcdef").expect("ok");
        assert!(matches!(p.cursor, Cursor::After(_)));
    }

    #[test]
    fn uris_follow_twilio_order() {
        let b = UriBuilder {
            path: "/2010-04-01/Accounts/AC1/OutgoingCallerIds.json",
            filters: &[("PhoneNumber", "+14158675309")],
            page_size: 2,
        };
        assert_eq!(
            b.after(1, "PN9"),
            "/2010-04-01/Accounts/AC1/OutgoingCallerIds.json?PhoneNumber=%2B14158675309&PageSize=2&Page=1&PageToken=PAPN9"
        );
        let b = UriBuilder {
            path: "/x",
            filters: &[],
            page_size: 50,
        };
        assert_eq!(b.uri(0, None), "/x?PageSize=50&Page=0");
    }
}
