//! Upload of one encrypted part to its presigned URL: exactly the method and headers KSeF gave
//! (never an `Authorization` header), the raw bytes streamed from the part file, retried with
//! capped backoff after 5xx/408/429 answers, dropped connections and timeouts.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{CONTENT_LENGTH, HeaderName, HeaderValue};

use super::progress::{BatchEvent, Progress};
use super::state::UploadTarget;
use crate::error::FlowError;
use crate::retry::RetryPolicy;

/// One part to upload.
#[derive(Debug, Clone)]
pub(crate) struct PartUpload {
    pub(crate) ordinal: u32,
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    pub(crate) target: UploadTarget,
}

/// How one attempt ended.
enum Attempt {
    Done,
    /// Worth another try; with the server's `Retry-After` when it sent one.
    Transient {
        status: Option<u16>,
        reason: String,
        retry_after: Option<Duration>,
    },
    Failed(FlowError),
}

fn short(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let t = text.trim();
    match t.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", t.get(..i).unwrap_or(t)),
        None => t.to_string(),
    }
}

async fn attempt(http: &reqwest::Client, part: &PartUpload) -> Attempt {
    let io = |source: std::io::Error| {
        Attempt::Failed(FlowError::batch_io("reading a part file", source))
    };
    let file = match tokio::fs::File::open(&part.path).await {
        Ok(f) => f,
        Err(e) => return io(e),
    };
    match file.metadata().await {
        Ok(m) if m.len() == part.size => {}
        Ok(m) => {
            return io(std::io::Error::other(format!(
                "{} has {} bytes, the plan says {}",
                part.path.display(),
                m.len(),
                part.size
            )));
        }
        Err(e) => return io(e),
    }
    let method = match reqwest::Method::from_bytes(part.target.method.as_bytes()) {
        Ok(m) => m,
        Err(_) => {
            return Attempt::Failed(FlowError::UploadPart {
                ordinal: part.ordinal,
                status: None,
                detail: format!(
                    "KSeF asked for an invalid HTTP method {:?}",
                    part.target.method
                ),
            });
        }
    };
    let mut headers = reqwest::header::HeaderMap::new();
    for (k, v) in &part.target.headers {
        match (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            (Ok(k), Ok(v)) => {
                headers.insert(k, v);
            }
            _ => {
                return Attempt::Failed(FlowError::UploadPart {
                    ordinal: part.ordinal,
                    status: None,
                    detail: format!("KSeF asked for an invalid header {k:?}"),
                });
            }
        }
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(part.size));
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
        file,
        256 * 1024,
    ));
    let sent = http
        .request(method, &part.target.url)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            return Attempt::Transient {
                status: None,
                reason: e.without_url().to_string(),
                retry_after: None,
            };
        }
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // Read the whole answer: a connection dropped after the status line is not a success.
    let body = match response.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return Attempt::Transient {
                status: Some(status.as_u16()),
                reason: format!("answer cut off: {}", e.without_url()),
                retry_after,
            };
        }
    };
    let code = status.as_u16();
    if status.is_success() {
        return Attempt::Done;
    }
    match code {
        401 | 403 => Attempt::Failed(FlowError::PartUrlExpired {
            ordinal: part.ordinal,
            status: code,
            detail: short(&body),
        }),
        408 | 429 | 500..=599 => Attempt::Transient {
            status: Some(code),
            reason: format!("HTTP {status}"),
            retry_after,
        },
        _ => Attempt::Failed(FlowError::UploadPart {
            ordinal: part.ordinal,
            status: Some(code),
            detail: short(&body),
        }),
    }
}

/// Uploads one part, retrying transient failures.
pub(crate) async fn upload(
    http: &reqwest::Client,
    part: &PartUpload,
    retry: &RetryPolicy,
    progress: &Progress,
) -> Result<(), FlowError> {
    let span = tracing::info_span!(
        "ksef_batch_upload_part",
        ordinal = part.ordinal,
        size = part.size
    );
    tracing::Instrument::instrument(
        async {
            let max = retry.max_attempts.max(1);
            let mut n = 0;
            loop {
                n += 1;
                progress.emit(BatchEvent::PartUploading {
                    ordinal: part.ordinal,
                    attempt: n,
                });
                match attempt(http, part).await {
                    Attempt::Done => {
                        tracing::debug!(attempts = n, "part uploaded");
                        return Ok(());
                    }
                    Attempt::Failed(e) => {
                        tracing::warn!(error = %e, "part upload failed");
                        return Err(e);
                    }
                    Attempt::Transient {
                        status,
                        reason,
                        retry_after,
                    } => {
                        if n >= max {
                            tracing::warn!(attempts = n, %reason, "part upload failed; no attempts left");
                            return Err(FlowError::UploadPart {
                                ordinal: part.ordinal,
                                status,
                                detail: format!("{reason} (after {n} attempts)"),
                            });
                        }
                        let wait = match retry_after {
                            Some(ra) => ra.min(retry.max_retry_after),
                            None => retry.backoff(n),
                        };
                        tracing::warn!(attempt = n, %reason, wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "part upload failed; retrying");
                        progress.emit(BatchEvent::PartRetry {
                            ordinal: part.ordinal,
                            attempt: n,
                            wait,
                            reason,
                        });
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        },
        span,
    )
    .await
}
