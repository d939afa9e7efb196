//! The request pipeline every request passes before its handler: client IP, resolving the
//! operation (put into the request's extensions for the handlers), fault injection, rate limits;
//! and after it: the error format (`X-Error-Format`) and the test system warning.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;

use crate::error::ApiError;
use crate::faults::{FaultKey, RequestFaults};
use crate::jwt;
use crate::ops::{self, OperationInfo};
use crate::presign::PresignedRoute;
use crate::state::{AppState, ClientIp};

fn client_ip(state: &AppState, req: &Request) -> IpAddr {
    if state.config.trust_forwarded_for
        && let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return ip;
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// The claims of the request's bearer token when it carries a valid one (read once per
/// request: the rate-limit context and the token-expiry fault use them).
fn request_claims(state: &AppState, req: &Request) -> Option<jwt::Claims> {
    let header = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))?;
    jwt::verify(&state.jwt_secret, token.trim(), state.now().timestamp()).ok()
}

fn aborted_body() -> Body {
    Body::from_stream(futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "ksef-sim: injected connection drop",
        ))
    }))
}

fn truncated(body: Body, limit: u64) -> Body {
    let mut sent: u64 = 0;
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        if sent >= limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "ksef-sim: injected connection drop",
            ));
        }
        let room = limit - sent;
        if (chunk.len() as u64) <= room {
            sent += chunk.len() as u64;
            Ok(chunk)
        } else {
            sent = limit;
            Ok(chunk.slice(..usize::try_from(room).unwrap_or(0)))
        }
    });
    // After the last chunk, if the limit was hit, the stream must still fail: chain an error.
    let tail = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "ksef-sim: injected connection drop",
        ))
    });
    Body::from_stream(stream.chain(tail))
}

/// The operation of a request (none for presigned URLs, the control API and paths outside the
/// spec) and its fault key (none for the control API).
fn resolve(method: &str, path: &str) -> (Option<&'static OperationInfo>, Option<FaultKey>) {
    if path.starts_with("/__sim") {
        return (None, None);
    }
    let Some(rel) = path.strip_prefix("/v2") else {
        return (None, Some(FaultKey::unmatched(method, path)));
    };
    if let Some(route) = PresignedRoute::of_path(rel) {
        // presigned URLs are never rate limited
        return (None, Some(FaultKey::from(route)));
    }
    match ops::resolve(method, rel) {
        Some(op) => (Some(op), Some(FaultKey::from(op))),
        None => (None, Some(FaultKey::unmatched(method, rel))),
    }
}

/// The middleware every request passes.
pub(crate) async fn pipeline(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let ip = client_ip(&state, &req);
    req.extensions_mut().insert(ClientIp(ip));
    let problem = req
        .headers()
        .get("x-error-format")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("problem-details"));
    let warning = req.headers().get("x-test-system-warning").cloned();
    let full_path = req.uri().path().to_string();
    let method = req.method().as_str().to_string();
    let (op, fault_key) = resolve(&method, &full_path);
    if let Some(op) = op {
        req.extensions_mut().insert(op);
    }
    let claims = request_claims(&state, &req);
    let faults = match &fault_key {
        Some(key) => state.faults.for_request(key, claims.is_some()),
        None => RequestFaults::default(),
    };
    let finish = |resp: Response| -> Response {
        finish_response(resp, problem, &full_path, warning.clone(), state.now())
    };

    if let Some(d) = faults.latency {
        tokio::time::sleep(d).await;
    }
    if let Some(status) = faults.server_error {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return finish(
            ApiError::plain(status, "Injected server error (ksef-sim fault injection).")
                .into_response(),
        );
    }
    if let Some(retry) = faults.rate_limit {
        return finish(
            ApiError::too_many_requests(retry, "Przekroczono limit żądań (wstrzyknięty).")
                .into_response(),
        );
    }
    if let Some(op) = op {
        // the context of a valid bearer token, else empty (the IP only)
        let ctx = claims
            .as_ref()
            .map(|c| format!("{}:{}", c.ctt, c.ctv))
            .unwrap_or_default();
        if let Err(retry) = state.rate_limiter.check(op, &ctx, ip) {
            return finish(
                ApiError::too_many_requests(
                    retry,
                    format!("Przekroczono limit żądań dla {}.", op.bucket()),
                )
                .into_response(),
            );
        }
    }
    if faults.token_expired
        && let Some(c) = &claims
    {
        state.faults.expire_token(&c.jti);
        return finish(ApiError::unauthorized("Token wygasł.").into_response());
    }
    if faults.html_page {
        return crate::faults::html_page_response();
    }
    if faults.corrupt_body {
        let (parts, body) = next.run(req).await.into_parts();
        return finish(Response::from_parts(
            parts,
            crate::faults::corrupt_body(body),
        ));
    }
    if let Some(limit) = faults.drop_after {
        let has_body = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
            || req
                .headers()
                .contains_key(axum::http::header::TRANSFER_ENCODING);
        if has_body {
            // Read `limit` bytes of the upload, then kill the connection.
            let mut stream = req.into_body().into_data_stream();
            let mut read: u64 = 0;
            while read < limit {
                match stream.next().await {
                    Some(Ok(c)) => read += c.len() as u64,
                    _ => break,
                }
            }
            let mut resp = Response::new(aborted_body());
            *resp.status_mut() = StatusCode::OK;
            return resp;
        }
        let resp = next.run(req).await;
        let (parts, body) = resp.into_parts();
        return finish(Response::from_parts(parts, truncated(body, limit)));
    }
    let resp = finish(next.run(req).await);
    tracing::debug!(%method, path = %full_path, status = %resp.status(), "ksef-sim request");
    if resp.status().is_success()
        && let Some(key) = &fault_key
        && let Some(replacement) = state.faults.take_answer_lost(key)
    {
        // The operation took effect; its answer is thrown away.
        drop(resp);
        tracing::debug!(%method, path = %full_path, ?replacement, "ksef-sim: answer lost");
        return match replacement {
            Some(status) => {
                let status = StatusCode::from_u16(status)
                    .ok()
                    .filter(StatusCode::is_server_error)
                    .unwrap_or(StatusCode::BAD_GATEWAY);
                finish(
                    ApiError::plain(status, "Injected lost answer (ksef-sim fault injection).")
                        .into_response(),
                )
            }
            None => {
                let mut cut = Response::new(aborted_body());
                *cut.status_mut() = StatusCode::OK;
                cut
            }
        };
    }
    resp
}

/// Renders an error answer for this request (format, path, clock) and echoes the test system
/// warning.
fn finish_response(
    mut resp: Response,
    problem: bool,
    instance: &str,
    warning: Option<HeaderValue>,
    now: chrono::DateTime<chrono::Utc>,
) -> Response {
    if let Some(err) = resp.extensions().get::<ApiError>().cloned() {
        let mut rendered = err.to_response(problem, instance, now);
        rendered.extensions_mut().insert(err);
        resp = rendered;
    }
    if let Some(w) = warning {
        resp.headers_mut().insert("x-system-warning", w);
    }
    resp
}
