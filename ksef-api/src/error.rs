//! Typed KSeF errors decoded from raw error responses.
//!
//! The generator sees every error body as raw bytes (normalisation N2); this module turns them into
//! [`ErrorBody`] while always keeping the HTTP status and headers, because `Retry-After` on 429 and
//! `X-System-Warning` matter as much as the body. KSeF answers errors as:
//! - `application/problem+json` (400 with `errors[]`, 401, 403 with `reasonCode`/`security`, 410, 429),
//!   always for 401/403/410 and for 400/429 when `X-Error-Format: problem-details` is sent;
//! - the legacy `ExceptionResponse` (`exception.exceptionDetailList[].exceptionCode`, e.g. 21405);
//! - the legacy 429 body `{"status": {"code": 429, "description", "details"}}`;
//! - anything else a gateway returns (an HTML page), kept as text.

use std::{future::Future, time::Duration};

use bytes::Bytes;
use futures::StreamExt;
use reqwest::{StatusCode, header::HeaderMap};
use serde::Deserialize;

use crate::{ByteStream, RawError, ResponseValue};

/// At most this many bytes of an error body are read.
pub const MAX_ERROR_BODY: usize = 256 * 1024;

/// An error of a KSeF API call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KsefError {
    /// KSeF (or a gateway in front of it) answered with an error status.
    #[error("KSeF answered HTTP {}: {}", .0.status, .0.summary())]
    Api(Box<ErrorResponse>),
    /// The request was not sent: an argument was missing or invalid.
    #[error("the request was not sent: {0}")]
    InvalidRequest(String),
    /// The request was not sent: the client hook refused it (e.g. no token for the operation).
    #[error("the request was not sent: {0}")]
    NotSent(String),
    /// The connection failed, timed out or broke while reading the body.
    #[error("transport failure: {0}")]
    Transport(#[source] reqwest::Error),
    /// A success status came with a body that does not deserialize.
    #[error("KSeF answered HTTP {status} with a body that does not match the spec: {message}")]
    InvalidResponse {
        /// HTTP status.
        status: u16,
        /// What did not match.
        message: String,
        /// The body as received.
        body: Bytes,
    },
    /// The client could not be set up.
    #[error("client setup failed: {0}")]
    Setup(String),
    /// The exchange (request, answer and the body read with it) did not finish within the
    /// client's time limit for one call. Whether the server processed the request is unknown.
    #[error("no complete answer within {after:?}")]
    TimedOut {
        /// The limit that passed.
        after: Duration,
    },
}

impl KsefError {
    /// Decodes a raw progenitor error, reading the error body (at most [`MAX_ERROR_BODY`] bytes).
    pub async fn from_raw(error: RawError<ByteStream>) -> Self {
        match error {
            RawError::ErrorResponse(rv) => {
                let status = rv.status();
                let headers = rv.headers().clone();
                let (body, truncated) = read_limited(rv.into_inner()).await;
                Self::Api(Box::new(ErrorResponse::decode(
                    status, headers, body, truncated,
                )))
            }
            RawError::UnexpectedResponse(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                let (body, truncated) =
                    read_limited(ByteStream::new(Box::pin(response.bytes_stream()))).await;
                if status.is_success() {
                    Self::InvalidResponse {
                        status: status.as_u16(),
                        message: "a success status the spec does not list".into(),
                        body,
                    }
                } else {
                    Self::Api(Box::new(ErrorResponse::decode(
                        status, headers, body, truncated,
                    )))
                }
            }
            RawError::InvalidRequest(m) => Self::InvalidRequest(m),
            RawError::Custom(m) => Self::NotSent(m),
            RawError::CommunicationError(e)
            | RawError::ResponseBodyError(e)
            | RawError::InvalidUpgrade(e) => Self::Transport(e),
            RawError::InvalidResponsePayload(body, e) => Self::InvalidResponse {
                status: 200,
                message: e.to_string(),
                body,
            },
        }
    }

    /// The decoded error response, if the server answered.
    pub fn response(&self) -> Option<&ErrorResponse> {
        match self {
            Self::Api(r) => Some(r),
            _ => None,
        }
    }

    /// HTTP status, if the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        self.response().map(|r| r.status)
    }

    /// Whether any KSeF code of the body equals `code` (e.g. 21470, 21301).
    pub fn has_code(&self, code: i64) -> bool {
        self.response().is_some_and(|r| r.codes().contains(&code))
    }

    /// `Retry-After` of the answer.
    pub fn retry_after(&self) -> Option<Duration> {
        self.response().and_then(|r| parse_retry_after(&r.headers))
    }
}

/// Turns the result of a generated `send()` into one with a decoded [`KsefError`].
pub trait DecodeError<T> {
    /// Decodes the error, if any.
    fn decode_error(self) -> impl Future<Output = Result<ResponseValue<T>, KsefError>> + Send;
}

impl<T: Send> DecodeError<T> for Result<ResponseValue<T>, RawError<ByteStream>> {
    async fn decode_error(self) -> Result<ResponseValue<T>, KsefError> {
        match self {
            Ok(v) => Ok(v),
            Err(e) => Err(KsefError::from_raw(e).await),
        }
    }
}

async fn read_limited(stream: ByteStream) -> (Bytes, bool) {
    let mut inner = stream.into_inner();
    let mut buf = Vec::new();
    while let Some(chunk) = inner.next().await {
        let Ok(chunk) = chunk else { break };
        let room = MAX_ERROR_BODY.saturating_sub(buf.len());
        if chunk.len() > room {
            buf.extend_from_slice(&chunk[..room]);
            return (Bytes::from(buf), true);
        }
        buf.extend_from_slice(&chunk);
    }
    (Bytes::from(buf), false)
}

/// An error answer: status, headers, the decoded body and the raw bytes.
#[derive(Debug, Clone)]
pub struct ErrorResponse {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers (`Retry-After`, `X-System-Warning`, ...).
    pub headers: HeaderMap,
    /// The decoded body.
    pub body: ErrorBody,
    /// The body as received (at most [`MAX_ERROR_BODY`] bytes).
    pub raw: Bytes,
    /// Whether the body was longer than what was read.
    pub truncated: bool,
}

/// The shapes of KSeF error bodies.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorBody {
    /// `application/problem+json`.
    Problem(ProblemDetails),
    /// The legacy `ExceptionResponse`.
    Exception(ExceptionInfo),
    /// The legacy 429 body.
    TooManyRequests(StatusBody),
    /// Not a KSeF JSON body (e.g. an HTML gateway page).
    Other {
        /// `Content-Type` of the answer.
        content_type: Option<String>,
        /// The body as (lossy UTF-8) text.
        text: String,
    },
    /// No body.
    Empty,
}

/// `application/problem+json` (RFC 9457) as KSeF fills it.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProblemDetails {
    /// `type`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `title` (`Bad Request`, `Forbidden`, ...).
    pub title: Option<String>,
    /// `status`.
    pub status: Option<u16>,
    /// `detail`.
    pub detail: Option<String>,
    /// `instance`.
    pub instance: Option<String>,
    /// `traceId`.
    pub trace_id: Option<String>,
    /// `timestamp`.
    pub timestamp: Option<String>,
    /// `errors[]` of a 400.
    pub errors: Vec<ApiErrorEntry>,
    /// `reasonCode` of a 403 (`missing-permissions`, `ip-not-allowed`, ...).
    pub reason_code: Option<String>,
    /// `security` of a 403.
    pub security: Option<serde_json::Value>,
}

/// One entry of `errors[]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiErrorEntry {
    /// KSeF code (e.g. 21405).
    pub code: i64,
    /// Description of the code.
    pub description: Option<String>,
    /// Details.
    #[serde(deserialize_with = "null_as_empty")]
    pub details: Vec<String>,
}

/// `exception` of the legacy `ExceptionResponse`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExceptionInfo {
    /// The errors.
    #[serde(deserialize_with = "null_as_empty")]
    pub exception_detail_list: Vec<ExceptionDetail>,
    /// `referenceNumber`.
    pub reference_number: Option<String>,
    /// `serviceCode` (trace id).
    pub service_code: Option<String>,
    /// `serviceCtx`.
    pub service_ctx: Option<String>,
    /// `serviceName`.
    pub service_name: Option<String>,
    /// `timestamp`.
    pub timestamp: Option<String>,
}

/// One entry of `exceptionDetailList`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExceptionDetail {
    /// KSeF exception code (e.g. 21405).
    pub exception_code: i64,
    /// Description.
    pub exception_description: Option<String>,
    /// Details.
    #[serde(deserialize_with = "null_as_empty")]
    pub details: Vec<String>,
}

/// `status` of the legacy 429 body.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct StatusBody {
    /// Always 429.
    pub code: i64,
    /// Description.
    pub description: Option<String>,
    /// Details.
    #[serde(deserialize_with = "null_as_empty")]
    pub details: Vec<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl ErrorResponse {
    /// Decodes a body by its shape (the content type is a hint only: gateways mislabel bodies).
    pub fn decode(status: StatusCode, headers: HeaderMap, raw: Bytes, truncated: bool) -> Self {
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = decode_body(content_type, &raw);
        Self {
            status,
            headers,
            body,
            raw,
            truncated,
        }
    }

    /// Every KSeF code in the body (exception codes, `errors[].code`).
    pub fn codes(&self) -> Vec<i64> {
        match &self.body {
            ErrorBody::Problem(p) => p.errors.iter().map(|e| e.code).collect(),
            ErrorBody::Exception(e) => e
                .exception_detail_list
                .iter()
                .map(|d| d.exception_code)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The details KSeF gave for one of its codes (empty when the body does not have the code).
    pub fn details_of(&self, code: i64) -> Vec<String> {
        match &self.body {
            ErrorBody::Problem(p) => p
                .errors
                .iter()
                .filter(|e| e.code == code)
                .flat_map(|e| e.details.iter().cloned())
                .collect(),
            ErrorBody::Exception(e) => e
                .exception_detail_list
                .iter()
                .filter(|d| d.exception_code == code)
                .flat_map(|d| d.details.iter().cloned())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(&self.headers)
    }

    /// One line describing the error: codes, descriptions and details.
    pub fn summary(&self) -> String {
        fn entry(code: i64, description: Option<&str>, details: &[String]) -> String {
            let mut s = format!("[{code}] {}", description.unwrap_or(""));
            if !details.is_empty() {
                s.push_str(&format!(" ({})", details.join("; ")));
            }
            s
        }
        match &self.body {
            ErrorBody::Problem(p) if !p.errors.is_empty() => p
                .errors
                .iter()
                .map(|e| entry(e.code, e.description.as_deref(), &e.details))
                .collect::<Vec<_>>()
                .join("; "),
            ErrorBody::Problem(p) => {
                let parts: Vec<&str> = [
                    p.title.as_deref(),
                    p.detail.as_deref(),
                    p.reason_code.as_deref(),
                ]
                .into_iter()
                .flatten()
                .filter(|s| !s.trim().is_empty())
                .collect();
                if parts.is_empty() {
                    "problem details without a title".into()
                } else {
                    parts.join(": ")
                }
            }
            ErrorBody::Exception(e) if e.exception_detail_list.is_empty() => format!(
                "exception without details (service code {})",
                e.service_code.as_deref().unwrap_or("none")
            ),
            ErrorBody::Exception(e) => e
                .exception_detail_list
                .iter()
                .map(|d| {
                    entry(
                        d.exception_code,
                        d.exception_description.as_deref(),
                        &d.details,
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            ErrorBody::TooManyRequests(s) => entry(s.code, s.description.as_deref(), &s.details),
            ErrorBody::Other { content_type, text } => {
                let snippet: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
                format!(
                    "{} body: {snippet}",
                    content_type.as_deref().unwrap_or("untyped")
                )
            }
            ErrorBody::Empty => self
                .status
                .canonical_reason()
                .unwrap_or("no body")
                .to_string(),
        }
    }
}

fn decode_body(content_type: Option<String>, raw: &[u8]) -> ErrorBody {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return ErrorBody::Empty;
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(raw) {
        if let Some(exception) = value.get("exception").filter(|e| e.is_object())
            && let Ok(e) = ExceptionInfo::deserialize(exception)
        {
            return ErrorBody::Exception(e);
        }
        if let Some(status) = value.get("status").filter(|s| s.is_object())
            && let Ok(s) = StatusBody::deserialize(status)
        {
            return ErrorBody::TooManyRequests(s);
        }
        let looks_like_problem = ["title", "detail", "errors", "reasonCode", "traceId"]
            .iter()
            .any(|k| value.get(k).is_some());
        if looks_like_problem && let Ok(p) = ProblemDetails::deserialize(&value) {
            return ErrorBody::Problem(p);
        }
    }
    ErrorBody::Other {
        content_type,
        text: String::from_utf8_lossy(raw).into_owned(),
    }
}

/// Parses `Retry-After`: delay-seconds, or an HTTP date (delay from now, zero if past).
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};

    fn decode(
        status: u16,
        ct: &str,
        body: &str,
        extra: &[(&'static str, &'static str)],
    ) -> ErrorResponse {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        for (k, v) in extra {
            h.insert(*k, HeaderValue::from_static(v));
        }
        ErrorResponse::decode(
            StatusCode::from_u16(status).unwrap(),
            h,
            Bytes::from(body.to_string()),
            false,
        )
    }

    // Bodies below are shaped after the spec's schemas and examples of the official documentation.
    #[test]
    fn problem_400_with_errors() {
        let r = decode(
            400,
            "application/problem+json",
            r#"{"title":"Bad Request","status":400,"instance":"/v2/sessions/online","detail":"Błąd walidacji","errors":[{"code":21405,"description":"Błąd walidacji danych wejściowych.","details":["formCode: wymagane"]}],"timestamp":"2025-10-11T12:23:56Z","traceId":"0af7651916cd43dd8448eb211c80319c"}"#,
            &[],
        );
        assert_eq!(r.codes(), vec![21405]);
        assert_eq!(r.details_of(21405), vec!["formCode: wymagane".to_string()]);
        assert!(
            r.summary().contains("[21405]") && r.summary().contains("formCode"),
            "{}",
            r.summary()
        );
        let ErrorBody::Problem(p) = &r.body else {
            panic!("{:?}", r.body)
        };
        assert_eq!(
            p.trace_id.as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
    }

    #[test]
    fn problem_details_with_empty_texts_still_have_a_summary() {
        let r = decode(
            429,
            "application/problem+json",
            r#"{"title":"","tu$":914}"#,
            &[],
        );
        assert_eq!(r.summary(), "problem details without a title");
    }

    #[test]
    fn an_exception_without_details_still_has_a_summary() {
        for body in [
            r#"{"exception":{"exceptionDetailList":[],"serviceCode":"00-abc-01"}}"#,
            r#"{"exception":{"exceptionDetailList":null}}"#,
        ] {
            let r = decode(400, "application/json", body, &[]);
            assert!(
                r.summary().starts_with("exception without details"),
                "{body}: {}",
                r.summary()
            );
        }
    }

    #[test]
    fn problem_401_403_410() {
        let r = decode(
            401,
            "application/problem+json",
            r#"{"title":"Unauthorized","status":401,"detail":"Token wygasł.","timestamp":"2025-10-11T12:23:56Z"}"#,
            &[],
        );
        assert!(r.summary().contains("Token wygasł"));
        let r = decode(
            403,
            "application/problem+json",
            r#"{"title":"Forbidden","status":403,"detail":"Brak uprawnień.","reasonCode":"missing-permissions","security":{"requiredAnyOfPermissions":["InvoiceWrite"]},"timestamp":"2025-10-11T12:23:56Z"}"#,
            &[],
        );
        let ErrorBody::Problem(p) = &r.body else {
            panic!()
        };
        assert_eq!(p.reason_code.as_deref(), Some("missing-permissions"));
        assert!(p.security.is_some());
        let r = decode(
            410,
            "application/problem+json",
            r#"{"title":"Gone","status":410,"detail":"Status wygasł.","instance":"/v2/auth/x","traceId":"t","timestamp":"2025-10-11T12:23:56Z"}"#,
            &[],
        );
        assert!(matches!(r.body, ErrorBody::Problem(_)));
    }

    #[test]
    fn legacy_exception_response() {
        let r = decode(
            400,
            "application/json",
            r#"{"exception":{"exceptionDetailList":[{"exceptionCode":21470,"exceptionDescription":"Nieznany klucz publiczny.","details":null},{"exceptionCode":21405,"exceptionDescription":"Błąd walidacji.","details":["x"]}],"referenceNumber":null,"serviceCode":"00-abc-01","serviceCtx":"srvABCDA","serviceName":"Undefined","timestamp":"2025-10-11T12:23:56.0154302"}}"#,
            &[],
        );
        assert_eq!(r.codes(), vec![21470, 21405]);
        assert_eq!(r.details_of(21405), vec!["x".to_string()]);
        assert!(r.details_of(21470).is_empty());
        assert!(r.details_of(21001).is_empty());
        let e = KsefError::Api(Box::new(r));
        assert!(e.has_code(21470) && !e.has_code(21301));
        assert!(e.to_string().contains("HTTP 400"));
    }

    #[test]
    fn too_many_requests_with_and_without_retry_after() {
        let r = decode(
            429,
            "application/json",
            r#"{"status":{"code":429,"description":"Too Many Requests","details":["Przekroczono limit 10 żądań na sekundę."]}}"#,
            &[("retry-after", "30")],
        );
        assert!(matches!(r.body, ErrorBody::TooManyRequests(_)));
        assert_eq!(r.retry_after(), Some(Duration::from_secs(30)));
        let r = decode(
            429,
            "application/problem+json",
            r#"{"title":"Too Many Requests","status":429,"detail":"Limit.","instance":"/v2/x","traceId":"t","timestamp":"2025-10-11T12:23:56Z"}"#,
            &[],
        );
        assert!(matches!(r.body, ErrorBody::Problem(_)));
        assert_eq!(r.retry_after(), None);
        let r = decode(
            429,
            "application/json",
            "{}",
            &[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")],
        );
        assert_eq!(r.retry_after(), Some(Duration::ZERO));
    }

    #[test]
    fn html_gateway_page_and_empty_body() {
        let r = decode(
            502,
            "text/html",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            &[],
        );
        let ErrorBody::Other { content_type, text } = &r.body else {
            panic!()
        };
        assert_eq!(content_type.as_deref(), Some("text/html"));
        assert!(text.contains("Bad Gateway"));
        assert!(r.summary().contains("text/html"));
        let r = decode(503, "text/plain", "  ", &[]);
        assert_eq!(r.body, ErrorBody::Empty);
        assert_eq!(r.summary(), "Service Unavailable");
    }

    #[test]
    fn retry_after_header_map() {
        let mut h = HeaderMap::new();
        assert_eq!(parse_retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("nonsense"));
        assert_eq!(parse_retry_after(&h), None);
    }
}
