//! Small helpers shared by the invoicing handlers.

use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc, Weekday,
};
use serde::de::DeserializeOwned;

use super::store::{Session, SessionKind, Store};
use crate::auth::AuthContext;
use crate::error::ApiError;

/// RFC 3339 with milliseconds and `Z`.
pub(crate) fn ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A JSON response with `status`.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut resp = (status, Body::from(value.to_string())).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An XML response with the `x-ms-meta-hash` header (Base64 SHA-256 of the body).
pub(crate) fn xml_with_hash(body: Vec<u8>) -> Response {
    let hash = super::crypto::sha256_b64(&body);
    let mut resp = (StatusCode::OK, Body::from(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    if let Ok(v) = HeaderValue::from_str(&hash) {
        resp.headers_mut().insert("x-ms-meta-hash", v);
    }
    resp
}

/// Parses a JSON request body; 21405 with the reason when it does not fit.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::from_json(&e))
}

/// 403 unless the caller holds one of the permissions the spec requires for the operation.
pub(crate) fn require(ctx: &AuthContext, method: &str, template: &str) -> Result<(), ApiError> {
    match crate::ops::find(method, template) {
        Some(op) => ctx.require_any(op.required_permissions),
        None => Ok(()),
    }
}

/// 21173: no session with this reference number (in this context).
/// The caller's session `reference` of `kind` while it is open (status 100): 21173 when the caller
/// has no such session, 21180 naming `action` when its status forbids the operation.
pub(crate) fn open_session_mut<'a>(
    store: &'a mut Store,
    ctx: &AuthContext,
    reference: &str,
    kind: SessionKind,
    now: Instant,
    action: &str,
) -> Result<&'a mut Session, ApiError> {
    let context_key = ctx.context_key();
    let sess = store
        .sessions
        .get_mut(reference)
        .filter(|x| x.kind == kind && x.context_key == context_key)
        .ok_or_else(|| no_session(reference))?;
    let code = sess.status(now).code;
    if code != 100 {
        return Err(session_status_forbids(code, action));
    }
    Ok(sess)
}

/// 21180: the session's status does not allow `action`.
pub(crate) fn session_status_forbids(code: i32, action: &str) -> ApiError {
    ApiError::bad_request(
        21180,
        "Status sesji nie pozwala na wykonanie operacji.",
        [format!("Status sesji {code} uniemożliwia {action}.")],
    )
}

pub(crate) fn no_session(reference: &str) -> ApiError {
    ApiError::bad_request(
        21173,
        "Brak sesji o wskazanym numerze referencyjnym.",
        [format!(
            "Sesja o numerze referencyjnym {reference} nie została znaleziona."
        )],
    )
}

/// Reads `x-continuation-token` as an offset.
pub(crate) fn continuation_offset(headers: &HeaderMap) -> Result<usize, ApiError> {
    match headers
        .get("x-continuation-token")
        .and_then(|v| v.to_str().ok())
    {
        None | Some("") => Ok(0),
        Some(t) => t
            .strip_prefix("sim-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiError::validation("Invalid x-continuation-token.")),
    }
}

/// The continuation token for the next page starting at `offset`.
pub(crate) fn continuation_token(offset: usize) -> String {
    format!("sim-{offset}")
}

/// Validates an optional page size against `[min, max]`, with `default`.
pub(crate) fn page_size(
    v: Option<i64>,
    min: i64,
    max: i64,
    default: i64,
) -> Result<usize, ApiError> {
    let n = v.unwrap_or(default);
    if n < min || n > max {
        return Err(ApiError::validation(format!(
            "pageSize must be between {min} and {max}."
        )));
    }
    usize::try_from(n).map_err(|_| ApiError::validation("Invalid pageSize."))
}

fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    let first_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    let mut d = first_next.pred_opt()?;
    while d.weekday() != Weekday::Sun {
        d = d.pred_opt()?;
    }
    Some(d)
}

/// Offset of Europe/Warsaw (CET/CEST, EU rules: summer time from the last Sunday
/// of March 01:00 UTC to the last Sunday of October 01:00 UTC) at local time `local`.
fn warsaw_offset(local: &NaiveDateTime) -> FixedOffset {
    let year = local.year();
    let summer = match (last_sunday(year, 3), last_sunday(year, 10)) {
        (Some(start), Some(end)) => {
            // Transitions at 02:00 local (CET) and 03:00 local (CEST).
            let start = start.and_hms_opt(2, 0, 0);
            let end = end.and_hms_opt(3, 0, 0);
            matches!((start, end), (Some(s), Some(e)) if *local >= s && *local < e)
        }
        _ => false,
    };
    let secs = if summer { 7200 } else { 3600 };
    FixedOffset::east_opt(secs).unwrap_or(Utc.fix())
}

/// The calendar date in Europe/Warsaw at the instant `t` (summer time from the
/// last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC).
pub(crate) fn warsaw_date(t: &DateTime<Utc>) -> NaiveDate {
    let year = t.year();
    let summer = match (last_sunday(year, 3), last_sunday(year, 10)) {
        (Some(s), Some(e)) => match (s.and_hms_opt(1, 0, 0), e.and_hms_opt(1, 0, 0)) {
            (Some(s), Some(e)) => t.naive_utc() >= s && t.naive_utc() < e,
            _ => false,
        },
        _ => false,
    };
    let hours = if summer { 2 } else { 1 };
    (*t + chrono::Duration::hours(hours)).date_naive()
}

/// Parses an API date-time; values without an offset are Europe/Warsaw time.
pub(crate) fn parse_api_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let local = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .ok()?;
    let off = warsaw_offset(&local);
    off.from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warsaw_times() {
        let winter = parse_api_datetime("2026-01-15T12:00:00").unwrap();
        assert_eq!(ts(&winter), "2026-01-15T11:00:00.000Z");
        let summer = parse_api_datetime("2025-08-28T09:22:13.388").unwrap();
        assert_eq!(ts(&summer), "2025-08-28T07:22:13.388Z");
        let explicit = parse_api_datetime("2025-08-28T09:22:13.388+00:00").unwrap();
        assert_eq!(ts(&explicit), "2025-08-28T09:22:13.388Z");
        // 2026-03-29 is the last Sunday of March: 01:59 CET, 03:00 CEST.
        assert_eq!(
            ts(&parse_api_datetime("2026-03-29T01:59:00").unwrap()),
            "2026-03-29T00:59:00.000Z"
        );
        assert_eq!(
            ts(&parse_api_datetime("2026-03-29T03:00:00").unwrap()),
            "2026-03-29T01:00:00.000Z"
        );
        assert!(parse_api_datetime("yesterday").is_none());
        let late = DateTime::parse_from_rfc3339("2026-01-15T23:30:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            warsaw_date(&late),
            NaiveDate::from_ymd_opt(2026, 1, 16).unwrap()
        );
        let summer = DateTime::parse_from_rfc3339("2026-07-15T22:30:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            warsaw_date(&summer),
            NaiveDate::from_ymd_opt(2026, 7, 16).unwrap()
        );
        let early = DateTime::parse_from_rfc3339("2026-07-15T21:30:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            warsaw_date(&early),
            NaiveDate::from_ymd_opt(2026, 7, 15).unwrap()
        );
    }

    #[test]
    fn continuation_tokens_roundtrip() {
        let mut h = HeaderMap::new();
        assert_eq!(continuation_offset(&h).unwrap(), 0);
        h.insert(
            "x-continuation-token",
            HeaderValue::from_str(&continuation_token(30)).unwrap(),
        );
        assert_eq!(continuation_offset(&h).unwrap(), 30);
        h.insert("x-continuation-token", HeaderValue::from_static("garbage"));
        assert!(continuation_offset(&h).is_err());
    }
}
