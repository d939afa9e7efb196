//! Fault injection, configurable per operation at run time.
//!
//! Operation keys are `"METHOD /path/template"` as in the spec (without `/v2`), e.g.
//! `"POST /sessions/online/{referenceNumber}/invoices"`, or the key of a presigned route
//! (`"PUT /__presigned/..."`), or `"*"` for every operation. Parameter names do not matter.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ops::normalise;
use crate::sync::lock;

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
}

/// What the request pipeline must do for one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RequestFaults {
    pub latency: Option<Duration>,
    pub server_error: Option<u16>,
    pub rate_limit: Option<u64>,
    pub drop_after: Option<u64>,
    pub html_page: bool,
    pub corrupt_body: bool,
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
    armed: Mutex<HashMap<String, Vec<Armed>>>,
}

fn key_of(op: &str) -> String {
    let op = op.trim();
    if op == "*" {
        return "*".to_string();
    }
    match op.split_once(' ') {
        Some((m, p)) => {
            let p = p.trim();
            let p = p.strip_prefix("/v2").unwrap_or(p);
            format!("{} {}", m.to_ascii_uppercase(), normalise(p))
        }
        None => normalise(op),
    }
}

impl Faults {
    /// Arms a fault for an operation key.
    pub(crate) fn inject(&self, op: &str, fault: Fault) {
        let remaining = match &fault {
            Fault::ServerError { count, .. }
            | Fault::RateLimitStorm { count, .. }
            | Fault::DropConnection { count, .. }
            | Fault::ExpiredPresignedUrls { count }
            | Fault::AsyncFailure { count }
            | Fault::SessionUnavailable { count }
            | Fault::HtmlPage { count }
            | Fault::CorruptBody { count }
            | Fault::StuckProcessing { count, .. } => Some(*count),
            Fault::Latency { count, .. } => *count,
        };
        lock(&self.armed)
            .entry(key_of(op))
            .or_default()
            .push(Armed { fault, remaining });
    }

    /// Removes all faults (of one operation when `op` is given).
    pub(crate) fn clear(&self, op: Option<&str>) {
        let mut armed = lock(&self.armed);
        match op {
            Some(op) => {
                armed.remove(&key_of(op));
            }
            None => armed.clear(),
        }
    }

    /// Consumes one use of the first armed fault matching `pred` for `op` (or `*`).
    fn take<T>(&self, op: &str, mut pred: impl FnMut(&Fault) -> Option<T>) -> Option<T> {
        let mut armed = lock(&self.armed);
        for key in [key_of(op), "*".to_string()] {
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

    /// Faults the generic request pipeline applies to one request of `op`.
    pub(crate) fn for_request(&self, op: &str) -> RequestFaults {
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
        }
    }

    /// Whether a presigned URL issued now by `op` must be already expired (consumes one use).
    pub(crate) fn take_expired_presigned(&self, op: &str) -> bool {
        self.take(op, |f| {
            matches!(f, Fault::ExpiredPresignedUrls { .. }).then_some(())
        })
        .is_some()
    }

    /// Whether an asynchronous operation started now by `op` must end with 550 (consumes one use).
    pub fn take_async_failure(&self, op: &str) -> bool {
        self.take(op, |f| {
            matches!(f, Fault::AsyncFailure { .. }).then_some(())
        })
        .is_some()
    }

    /// Whether this request of `op` finds its session temporarily unavailable (consumes one use).
    pub fn take_session_unavailable(&self, op: &str) -> bool {
        self.take(op, |f| {
            matches!(f, Fault::SessionUnavailable { .. }).then_some(())
        })
        .is_some()
    }

    /// Extra processing time for an asynchronous operation started now by `op` (consumes one use).
    pub fn take_stuck_processing(&self, op: &str) -> Option<Duration> {
        self.take(op, |f| match f {
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

    #[test]
    fn counts_and_wildcards() {
        let f = Faults::default();
        f.inject(
            "post /v2/sessions/online/{x}/invoices",
            Fault::ServerError {
                status: 503,
                count: 2,
            },
        );
        let op = "POST /sessions/online/{referenceNumber}/invoices";
        assert_eq!(f.for_request(op).server_error, Some(503));
        assert_eq!(f.for_request(op).server_error, Some(503));
        assert_eq!(f.for_request(op).server_error, None);
        f.inject("*", Fault::AsyncFailure { count: 1 });
        assert!(f.take_async_failure("POST /sessions/batch"));
        assert!(!f.take_async_failure("POST /sessions/batch"));
        f.inject(
            "GET /x",
            Fault::Latency {
                delay_ms: 5,
                count: None,
            },
        );
        for _ in 0..3 {
            assert_eq!(
                f.for_request("GET /x").latency,
                Some(Duration::from_millis(5))
            );
        }
        f.clear(None);
        assert_eq!(f.for_request("GET /x"), RequestFaults::default());
    }
}
