//! Small helpers shared by the invoicing handlers.

use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
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

/// API date-times: RFC 3339, or Warsaw local time when the value has no offset.
pub(crate) use ksef_time::parse_api_datetime;

#[cfg(test)]
mod tests {
    use super::*;

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
