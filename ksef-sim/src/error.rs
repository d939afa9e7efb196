//! Error bodies in the formats KSeF uses.
//!
//! Handlers return [`ApiError`]. Its `IntoResponse` writes the legacy `ExceptionResponse` for 400
//! (and the legacy `TooManyRequestsResponse` for 429) and always `application/problem+json` for
//! 401/403/410. The response carries the structured error as an extension; the middleware in
//! [`crate::server`] rewrites 400/429 to problem+json when the request had
//! `X-Error-Format: problem-details`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Error of the simulator crate itself (start-up, configuration, key generation).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Binding the listening socket failed.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Creating the data directory failed.
    #[error("cannot create the data directory: {0}")]
    DataDir(std::io::Error),
    /// Generating a key or certificate failed.
    #[error("cannot generate a key or certificate: {0}")]
    KeyGeneration(String),
    /// An invalid control request.
    #[error("invalid control request: {0}")]
    Control(String),
}

/// One error entry: KSeF exception code, description and details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorEntry {
    /// KSeF exception code (e.g. 21405).
    pub code: i64,
    /// Human-readable description.
    pub description: String,
    /// Additional details.
    pub details: Vec<String>,
}

/// What kind of error body to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// 400 (or other status) with ExceptionResponse / BadRequestProblemDetails.
    Exception(Vec<ErrorEntry>),
    /// 401, always problem+json.
    Unauthorized(String),
    /// 403, always problem+json, with a reasonCode.
    Forbidden {
        reason_code: String,
        detail: String,
        security: Option<Value>,
    },
    /// 410, always problem+json.
    Gone(String),
    /// 429 with Retry-After (seconds).
    TooManyRequests { retry_after: u64, detail: String },
    /// Any other status with a short plain problem body (500, 503, 404 for unknown paths).
    Plain(String),
}

/// An error answer of the simulator. Build it with the constructors; return it from handlers.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) kind: ErrorKind,
}

impl ApiError {
    /// 400 with one KSeF exception code, e.g. `ApiError::bad_request(21405, "Błąd walidacji", ["..."])`.
    pub fn bad_request<I, S>(code: i64, description: impl Into<String>, details: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::exception(StatusCode::BAD_REQUEST, code, description, details)
    }

    /// An ExceptionResponse with an arbitrary status.
    pub fn exception<I, S>(
        status: StatusCode,
        code: i64,
        description: impl Into<String>,
        details: I,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            status,
            kind: ErrorKind::Exception(vec![ErrorEntry {
                code,
                description: description.into(),
                details: details.into_iter().map(Into::into).collect(),
            }]),
        }
    }

    /// 400/21405 request validation error with a reason.
    pub fn validation(reason: impl Into<String>) -> Self {
        Self::bad_request(21405, "Błąd walidacji danych wejściowych.", [reason.into()])
    }

    /// 400 with 21001: the request body cannot be read (not JSON at all).
    pub fn unreadable(detail: impl Into<String>) -> Self {
        Self::bad_request(21001, "Nieczytelna treść.", [detail.into()])
    }

    /// The answer to a JSON body serde refused: 21001 when it is not JSON (syntax, truncated),
    /// 21405 when it is JSON of the wrong shape.
    pub(crate) fn from_json(e: &serde_json::Error) -> Self {
        if e.is_syntax() || e.is_eof() || e.is_io() {
            Self::unreadable(format!("Invalid JSON: {e}"))
        } else {
            Self::validation(format!("Invalid request body: {e}"))
        }
    }

    /// 401 problem+json.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            kind: ErrorKind::Unauthorized(detail.into()),
        }
    }

    /// 403 problem+json with a `reasonCode` (missing-permissions, ip-not-allowed,
    /// insufficient-resource-access, auth-method-not-allowed, security-service-blocked,
    /// context-type-not-allowed).
    pub fn forbidden(reason_code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            kind: ErrorKind::Forbidden {
                reason_code: reason_code.into(),
                detail: detail.into(),
                security: None,
            },
        }
    }

    /// 403 missing-permissions listing the permissions of which one was required.
    pub fn missing_permissions(required: &[&str]) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            kind: ErrorKind::Forbidden {
                reason_code: "missing-permissions".into(),
                detail: "Brak wymaganych uprawnień do wykonania operacji w bieżącym kontekście."
                    .into(),
                security: Some(json!({ "requiredAnyOfPermissions": required })),
            },
        }
    }

    /// 410 problem+json.
    pub fn gone(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::GONE,
            kind: ErrorKind::Gone(detail.into()),
        }
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(retry_after: u64, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            kind: ErrorKind::TooManyRequests {
                retry_after,
                detail: detail.into(),
            },
        }
    }

    /// Any status with a short problem body (used for injected 5xx and 404 of unknown resources).
    pub fn plain(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind: ErrorKind::Plain(detail.into()),
        }
    }

    /// 500 internal error.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::plain(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }

    /// HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The KSeF exception codes carried by this error (empty for 401/403/410/429).
    pub fn codes(&self) -> Vec<i64> {
        match &self.kind {
            ErrorKind::Exception(e) => e.iter().map(|e| e.code).collect(),
            _ => Vec::new(),
        }
    }

    fn legacy_body(&self, now_utc: DateTime<Utc>) -> Value {
        let now = ksef_time::format_utc_millis(now_utc);
        match &self.kind {
            ErrorKind::Exception(entries) => json!({
                "exception": {
                    "exceptionDetailList": entries.iter().map(|e| json!({
                        "exceptionCode": e.code,
                        "exceptionDescription": e.description,
                        "details": e.details,
                    })).collect::<Vec<_>>(),
                    "referenceNumber": uuid::Uuid::new_v4().to_string(),
                    "serviceCode": format!("00-{}-{}-00", hex32(), hex16()),
                    "serviceCtx": "srvKSEFSIM",
                    "serviceName": "ksef-sim",
                    "timestamp": now,
                }
            }),
            ErrorKind::TooManyRequests {
                retry_after,
                detail,
            } => json!({
                "status": {
                    "code": 429,
                    "description": "Too Many Requests",
                    "details": [format!("{detail} Spróbuj ponownie po {retry_after} sekundach.")],
                }
            }),
            _ => self.problem_body("/", now_utc),
        }
    }

    pub(crate) fn problem_body(&self, instance: &str, now: DateTime<Utc>) -> Value {
        let now = ksef_time::format_utc_millis(now);
        let trace = hex32();
        match &self.kind {
            ErrorKind::Exception(entries) => json!({
                "title": "Bad Request",
                "status": self.status.as_u16(),
                "instance": instance,
                "detail": entries.first().map(|e| e.description.clone()).unwrap_or_default(),
                "errors": entries.iter().map(|e| json!({
                    "code": e.code,
                    "description": e.description,
                    "details": e.details,
                })).collect::<Vec<_>>(),
                "timestamp": now,
                "traceId": trace,
            }),
            ErrorKind::Unauthorized(d) => json!({
                "title": "Unauthorized", "status": 401, "detail": d, "instance": instance,
                "traceId": trace, "timestamp": now,
            }),
            ErrorKind::Forbidden {
                reason_code,
                detail,
                security,
            } => {
                let mut v = json!({
                    "title": "Forbidden", "status": 403, "detail": detail, "instance": instance,
                    "reasonCode": reason_code, "timestamp": now, "traceId": trace,
                });
                if let (Some(sec), Some(obj)) = (security, v.as_object_mut()) {
                    obj.insert("security".into(), sec.clone());
                }
                v
            }
            ErrorKind::Gone(d) => json!({
                "title": "Gone", "status": 410, "instance": instance, "detail": d,
                "timestamp": now, "traceId": trace,
            }),
            ErrorKind::TooManyRequests {
                retry_after,
                detail,
            } => json!({
                "title": "Too Many Requests", "status": 429, "instance": instance,
                "detail": format!("{detail} Spróbuj ponownie po {retry_after} sekundach."),
                "timestamp": now, "traceId": trace,
            }),
            ErrorKind::Plain(d) => json!({
                "title": self.status.canonical_reason().unwrap_or("Error"),
                "status": self.status.as_u16(), "instance": instance, "detail": d,
                "timestamp": now, "traceId": trace,
            }),
        }
    }

    /// Whether this status is always written as problem+json.
    fn always_problem(&self) -> bool {
        !matches!(
            self.kind,
            ErrorKind::Exception(_) | ErrorKind::TooManyRequests { .. }
        )
    }

    /// Builds the response in the requested format, for the request path `instance`, stamped
    /// with `now`.
    pub(crate) fn to_response(
        &self,
        problem_details: bool,
        instance: &str,
        now: DateTime<Utc>,
    ) -> Response {
        let problem = problem_details || self.always_problem();
        let body = if problem {
            self.problem_body(instance, now)
        } else {
            self.legacy_body(now)
        };
        let ctype = if problem {
            "application/problem+json"
        } else {
            "application/json"
        };
        let mut resp = (self.status, body.to_string()).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        if let ErrorKind::TooManyRequests { retry_after, .. } = &self.kind
            && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}", self.status, self.kind)
    }
}

impl IntoResponse for ApiError {
    /// A provisional rendering: the request pipeline renders every error again with the request
    /// path, the requested format and the simulator's clock.
    fn into_response(self) -> Response {
        let mut resp = self.to_response(false, "/", chrono::Utc::now());
        resp.extensions_mut().insert(self);
        resp
    }
}

fn hex32() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn hex16() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    u.get(..16).unwrap_or_default().to_string()
}
