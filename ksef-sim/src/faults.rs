//! Fault injection, armed per [`FaultKey`] at run time.
//!
//! The request pipeline applies the generic faults (latency, 5xx, 429 storms, dropped
//! connections, expired access tokens) to every request before its handler, and the lost answer
//! after it; handlers ask for the faults of asynchronous work (`AsyncFailure`,
//! `StuckProcessing`, `ExpiredPresignedUrls`, `SessionUnavailable`) with the operation of their
//! request.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ops::{OperationInfo, normalise};
use crate::presign::{PRESIGNED_PREFIX, PresignedRoute};
use crate::sync::lock;

/// What an armed fault applies to: one operation of the spec, the requests to one kind of
/// presigned URL, or every request.
///
/// Name an operation by its constant (`ksef_sim::ops::BATCH_SESSION_OPEN`), a presigned route by
/// [`PresignedRoute`], every request by [`FaultKey::all`] — or write the key as text:
/// `"POST /sessions/online/{referenceNumber}/invoices"` (parameter names do not matter, a leading
/// `/v2` is allowed), `"PUT /__presigned/batch-part"`, `"*"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FaultKey(String);

impl FaultKey {
    /// Every request.
    pub fn all() -> Self {
        Self("*".to_string())
    }

    /// The key of a request to `path` (below `/v2`) that matches no operation of the spec.
    pub(crate) fn unmatched(method: &str, path: &str) -> Self {
        Self::from(format!("{method} {path}").as_str())
    }
}

impl From<&str> for FaultKey {
    fn from(text: &str) -> Self {
        let text = text.trim();
        if text == "*" {
            return Self::all();
        }
        Self(match text.split_once(' ') {
            Some((method, path)) => {
                let path = path.trim();
                let path = path.strip_prefix("/v2").unwrap_or(path);
                format!("{} {}", method.to_ascii_uppercase(), normalise(path))
            }
            None => normalise(text),
        })
    }
}

impl From<&String> for FaultKey {
    fn from(text: &String) -> Self {
        Self::from(text.as_str())
    }
}

impl From<String> for FaultKey {
    fn from(text: String) -> Self {
        Self::from(text.as_str())
    }
}

impl From<&OperationInfo> for FaultKey {
    fn from(op: &OperationInfo) -> Self {
        Self(format!("{} {}", op.method, normalise(op.path)))
    }
}

impl From<PresignedRoute> for FaultKey {
    fn from(route: PresignedRoute) -> Self {
        Self(format!(
            "{} {PRESIGNED_PREFIX}{}",
            route.method(),
            route.segment()
        ))
    }
}

impl From<&FaultKey> for FaultKey {
    fn from(key: &FaultKey) -> Self {
        key.clone()
    }
}

impl fmt::Display for FaultKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Fault {
    /// Answer the next `count` requests with this 5xx status (500, 502, 503, 504...).
    ServerError {
        /// HTTP status.
        status: u16,
        /// How many requests.
        count: u32,
    },
    /// Answer the next `count` requests with 429 and `Retry-After: retry_after`.
    RateLimitStorm {
        /// How many requests.
        count: u32,
        /// Retry-After in seconds.
        #[serde(rename = "retryAfter")]
        retry_after: u64,
    },
    /// Delay the next `count` requests (all when `count` is `None`) by `delay_ms`.
    Latency {
        /// Delay in milliseconds.
        #[serde(rename = "delayMs")]
        delay_ms: u64,
        /// How many requests (`None` = until cleared).
        count: Option<u32>,
    },
    /// Drop the connection after `after_bytes` bytes of the request body (when the request has
    /// a body) or of the response body, for the next `count` requests.
    DropConnection {
        /// Bytes transferred before the connection is cut.
        #[serde(rename = "afterBytes")]
        after_bytes: u64,
        /// How many requests.
        count: u32,
    },
    /// Presigned URLs issued by the next `count` requests of the operation are already expired.
    ExpiredPresignedUrls {
        /// How many requests.
        count: u32,
    },
    /// The next `count` asynchronous operations started by this operation end with status 550.
    AsyncFailure {
        /// How many operations.
        count: u32,
    },
    /// The next `count` invoice sends to an open online session answer 400 with 21184 (the
    /// session is temporarily unavailable during maintenance; the invoice is not accepted).
    SessionUnavailable {
        /// How many requests.
        count: u32,
    },
    /// Answer the next `count` requests with `200 OK` and an HTML page instead of the real body,
    /// as a proxy, a captive portal or a misrouted storage gateway does.
    HtmlPage {
        /// How many requests.
        count: u32,
    },
    /// Flip one byte of the body of the next `count` responses: the transfer completes normally
    /// but the content no longer matches its hashes.
    CorruptBody {
        /// How many requests.
        count: u32,
    },
    /// The next `count` asynchronous operations started by this operation stay in processing
    /// (100/150) for `duration_ms` longer.
    StuckProcessing {
        /// Extra processing time in milliseconds.
        #[serde(rename = "durationMs")]
        duration_ms: u64,
        /// How many operations.
        count: u32,
    },
    /// The next `count` requests that succeed take effect, but their answer never reaches the
    /// client: it is replaced by this 5xx status, or, when `status` is `None`, the connection is
    /// cut before the answer is complete. The operation is registered (an invoice accepted, a
    /// session opened or closed, an export started) and the client cannot tell.
    AnswerLost {
        /// How many successful requests.
        count: u32,
        /// The status sent instead of the answer (`None`: the connection is cut).
        #[serde(default)]
        status: Option<u16>,
    },
    /// The bearer token of the next `count` requests expires now: the request is answered
    /// 401 "Token wygasł." and every later request with the same token too, as if its lifetime
    /// had ended in the middle of the run.
    TokenExpired {
        /// How many requests.
        count: u32,
    },
}

/// Most tokens a [`Fault::TokenExpired`] remembers as expired (the oldest are forgotten first;
/// a real expiry of theirs follows within the token lifetime anyway).
const MAX_EXPIRED_TOKENS: usize = 10_000;

/// Longest delay a fault may add (one day): a longer one is refused over HTTP and shortened
/// to this in-process.
pub(crate) const MAX_FAULT_DELAY_MS: u64 = 24 * 3600 * 1000;

/// What the request pipeline must do for one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RequestFaults {
    pub latency: Option<Duration>,
    pub server_error: Option<u16>,
    pub rate_limit: Option<u64>,
    pub drop_after: Option<u64>,
    pub html_page: bool,
    pub corrupt_body: bool,
    pub token_expired: bool,
}

#[derive(Debug, Clone)]
struct Armed {
    fault: Fault,
    /// remaining uses (None = unlimited)
    remaining: Option<u32>,
}

/// Registry of armed faults.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    armed: Mutex<HashMap<FaultKey, Vec<Armed>>>,
    expired_tokens: Mutex<ExpiredTokens>,
}

/// Token ids (`jti`) a [`Fault::TokenExpired`] expired, at most [`MAX_EXPIRED_TOKENS`].
#[derive(Debug, Default)]
struct ExpiredTokens {
    ids: HashSet<String>,
    order: VecDeque<String>,
}

impl Faults {
    /// Arms a fault (a delay longer than a day is shortened to a day).
    pub(crate) fn inject(&self, key: FaultKey, mut fault: Fault) {
        match &mut fault {
            Fault::Latency { delay_ms: ms, .. }
            | Fault::StuckProcessing {
                duration_ms: ms, ..
            } => {
                *ms = (*ms).min(MAX_FAULT_DELAY_MS);
            }
            _ => {}
        }
        let remaining = match &fault {
            Fault::ServerError { count, .. }
            | Fault::RateLimitStorm { count, .. }
            | Fault::DropConnection { count, .. }
            | Fault::ExpiredPresignedUrls { count }
            | Fault::AsyncFailure { count }
            | Fault::SessionUnavailable { count }
            | Fault::HtmlPage { count }
            | Fault::CorruptBody { count }
            | Fault::StuckProcessing { count, .. }
            | Fault::AnswerLost { count, .. }
            | Fault::TokenExpired { count } => Some(*count),
            Fault::Latency { count, .. } => *count,
        };
        lock(&self.armed)
            .entry(key)
            .or_default()
            .push(Armed { fault, remaining });
    }

    /// Removes all faults (those of one key when `key` is given).
    pub(crate) fn clear(&self, key: Option<&FaultKey>) {
        let mut armed = lock(&self.armed);
        match key {
            Some(key) => {
                armed.remove(key);
            }
            None => armed.clear(),
        }
    }

    /// How many uses of counted faults are armed and not yet consumed.
    pub(crate) fn unfired(&self) -> u64 {
        lock(&self.armed)
            .values()
            .flatten()
            .filter_map(|a| a.remaining)
            .map(u64::from)
            .sum()
    }

    /// Consumes one use of the first armed fault matching `pred` for `key` (or every request).
    fn take<T>(&self, key: &FaultKey, mut pred: impl FnMut(&Fault) -> Option<T>) -> Option<T> {
        let mut armed = lock(&self.armed);
        for key in [key.clone(), FaultKey::all()] {
            let Some(list) = armed.get_mut(&key) else {
                continue;
            };
            for i in 0..list.len() {
                let Some(entry) = list.get_mut(i) else { break };
                if entry.remaining == Some(0) {
                    continue;
                }
                if let Some(v) = pred(&entry.fault) {
                    if let Some(r) = entry.remaining.as_mut() {
                        *r = r.saturating_sub(1);
                    }
                    list.retain(|a| a.remaining != Some(0));
                    return Some(v);
                }
            }
        }
        None
    }

    /// Faults the request pipeline applies to one request of `op`.
    pub(crate) fn for_request(&self, op: &FaultKey, bearer: bool) -> RequestFaults {
        RequestFaults {
            latency: self.take(op, |f| match f {
                Fault::Latency { delay_ms, .. } => Some(Duration::from_millis(*delay_ms)),
                _ => None,
            }),
            server_error: self.take(op, |f| match f {
                Fault::ServerError { status, .. } => Some(*status),
                _ => None,
            }),
            rate_limit: self.take(op, |f| match f {
                Fault::RateLimitStorm { retry_after, .. } => Some(*retry_after),
                _ => None,
            }),
            drop_after: self.take(op, |f| match f {
                Fault::DropConnection { after_bytes, .. } => Some(*after_bytes),
                _ => None,
            }),
            html_page: self
                .take(op, |f| matches!(f, Fault::HtmlPage { .. }).then_some(()))
                .is_some(),
            corrupt_body: self
                .take(op, |f| matches!(f, Fault::CorruptBody { .. }).then_some(()))
                .is_some(),
            // a token can only expire on a request that carries a valid one: the fault waits
            token_expired: bearer
                && self
                    .take(op, |f| {
                        matches!(f, Fault::TokenExpired { .. }).then_some(())
                    })
                    .is_some(),
        }
    }

    /// Whether the successful answer to this request of `op` must be lost (consumes one use):
    /// `Some(Some(status))` replaces it with `status`, `Some(None)` cuts the connection.
    pub(crate) fn take_answer_lost(&self, op: &FaultKey) -> Option<Option<u16>> {
        self.take(op, |f| match f {
            Fault::AnswerLost { status, .. } => Some(*status),
            _ => None,
        })
    }

    /// Records that the token with this `jti` has expired.
    pub(crate) fn expire_token(&self, jti: &str) {
        let mut expired = lock(&self.expired_tokens);
        if expired.ids.insert(jti.to_string()) {
            expired.order.push_back(jti.to_string());
        }
        while expired.order.len() > MAX_EXPIRED_TOKENS {
            if let Some(oldest) = expired.order.pop_front() {
                expired.ids.remove(&oldest);
            }
        }
    }

    /// Whether a [`Fault::TokenExpired`] expired the token with this `jti`.
    pub(crate) fn token_expired(&self, jti: &str) -> bool {
        lock(&self.expired_tokens).ids.contains(jti)
    }

    /// Whether a presigned URL issued now by `op` must be already expired (consumes one use).
    pub(crate) fn take_expired_presigned(&self, op: impl Into<FaultKey>) -> bool {
        self.take(&op.into(), |f| {
            matches!(f, Fault::ExpiredPresignedUrls { .. }).then_some(())
        })
        .is_some()
    }

    /// Whether an asynchronous operation started now by `op` must end with 550 (consumes one use).
    pub(crate) fn take_async_failure(&self, op: impl Into<FaultKey>) -> bool {
        self.take(&op.into(), |f| {
            matches!(f, Fault::AsyncFailure { .. }).then_some(())
        })
        .is_some()
    }

    /// Whether this request of `op` finds its session temporarily unavailable (consumes one use).
    pub(crate) fn take_session_unavailable(&self, op: impl Into<FaultKey>) -> bool {
        self.take(&op.into(), |f| {
            matches!(f, Fault::SessionUnavailable { .. }).then_some(())
        })
        .is_some()
    }

    /// Extra processing time for an asynchronous operation started now by `op` (consumes one use).
    pub(crate) fn take_stuck_processing(&self, op: impl Into<FaultKey>) -> Option<Duration> {
        self.take(&op.into(), |f| match f {
            Fault::StuckProcessing { duration_ms, .. } => Some(Duration::from_millis(*duration_ms)),
            _ => None,
        })
    }
}

/// The answer of an [`Fault::HtmlPage`]: `200 OK`, `text/html`, a gateway's error page.
pub(crate) fn html_page_response() -> axum::response::Response {
    let mut resp = axum::response::Response::new(axum::body::Body::from(
        "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>\n\
         <body><h1>The service is temporarily unavailable</h1>\n\
         <p>ksef-sim: injected HTML page.</p></body></html>\n",
    ));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// The body of a [`Fault::CorruptBody`]: the same bytes with the first one flipped.
pub(crate) fn corrupt_body(body: axum::body::Body) -> axum::body::Body {
    use futures::StreamExt as _;
    let mut flipped = false;
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        if flipped || chunk.is_empty() {
            return Ok(chunk);
        }
        flipped = true;
        let mut v = chunk.to_vec();
        if let Some(b) = v.first_mut() {
            *b ^= 0x5A;
        }
        Ok::<_, std::io::Error>(bytes::Bytes::from(v))
    });
    axum::body::Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops;

    #[test]
    fn keys_written_as_text_name_the_same_operation_as_its_constant() {
        let typed = FaultKey::from(ops::ONLINE_SESSION_SEND_INVOICE);
        for text in [
            "POST /sessions/online/{referenceNumber}/invoices",
            "post /v2/sessions/online/{x}/invoices",
            " POST  /sessions/online/{ref}/invoices ",
        ] {
            assert_eq!(FaultKey::from(text), typed, "{text}");
        }
        assert_ne!(FaultKey::from(ops::ONLINE_SESSION_CLOSE), typed);
        assert_eq!(
            FaultKey::from(PresignedRoute::BatchPart),
            FaultKey::from("PUT /__presigned/batch-part")
        );
        assert_eq!(FaultKey::from("*"), FaultKey::all());
    }

    #[test]
    fn counts_and_wildcards() {
        let f = Faults::default();
        f.inject(
            "post /v2/sessions/online/{x}/invoices".into(),
            Fault::ServerError {
                status: 503,
                count: 2,
            },
        );
        let op = FaultKey::from(ops::ONLINE_SESSION_SEND_INVOICE);
        assert_eq!(f.for_request(&op, false).server_error, Some(503));
        assert_eq!(f.for_request(&op, false).server_error, Some(503));
        assert_eq!(f.for_request(&op, false).server_error, None);
        f.inject(FaultKey::all(), Fault::AsyncFailure { count: 1 });
        assert!(f.take_async_failure(ops::BATCH_SESSION_OPEN));
        assert!(!f.take_async_failure(ops::BATCH_SESSION_OPEN));
        let x = FaultKey::from("GET /x");
        f.inject(
            x.clone(),
            Fault::Latency {
                delay_ms: 5,
                count: None,
            },
        );
        for _ in 0..3 {
            assert_eq!(
                f.for_request(&x, false).latency,
                Some(Duration::from_millis(5))
            );
        }
        f.clear(None);
        assert_eq!(f.for_request(&x, false), RequestFaults::default());
    }

    #[test]
    fn lost_answers_and_expired_tokens() {
        let lost: Fault =
            serde_json::from_str(r#"{"kind":"answerLost","count":2,"status":502}"#).unwrap();
        assert_eq!(
            lost,
            Fault::AnswerLost {
                count: 2,
                status: Some(502)
            }
        );
        let cut: Fault = serde_json::from_str(r#"{"kind":"answerLost","count":1}"#).unwrap();
        assert_eq!(
            cut,
            Fault::AnswerLost {
                count: 1,
                status: None
            }
        );
        let expiry: Fault = serde_json::from_str(r#"{"kind":"tokenExpired","count":1}"#).unwrap();
        let f = Faults::default();
        let op = FaultKey::from(ops::ONLINE_SESSION_SEND_INVOICE);
        f.inject(op.clone(), cut);
        f.inject(op.clone(), lost);
        f.inject(op.clone(), expiry);
        assert_eq!(f.unfired(), 4);
        // the pipeline asks before the handler for the token, after it for the answer; a
        // request without a valid token leaves the token fault armed
        assert!(!f.for_request(&op, false).token_expired);
        assert_eq!(f.unfired(), 4);
        assert!(f.for_request(&op, true).token_expired);
        assert_eq!(f.take_answer_lost(&op), Some(None));
        assert_eq!(f.take_answer_lost(&op), Some(Some(502)));
        assert_eq!(f.take_answer_lost(&op), Some(Some(502)));
        assert_eq!(f.take_answer_lost(&op), None);
        assert_eq!(f.unfired(), 0);
        assert!(!f.for_request(&op, true).token_expired);
        // an expired token stays expired; the memory of them is bounded
        f.expire_token("a");
        assert!(f.token_expired("a") && !f.token_expired("b"));
        for i in 0..MAX_EXPIRED_TOKENS {
            f.expire_token(&i.to_string());
        }
        assert!(!f.token_expired("a"));
        assert_eq!(lock(&f.expired_tokens).ids.len(), MAX_EXPIRED_TOKENS);
    }
}
