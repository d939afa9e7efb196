//! Test-data overrides of the limits: `/testdata/limits/context/session`,
//! `/testdata/limits/subject/certificate`, `/testdata/rate-limits`,
//! `/testdata/rate-limits/production`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::store::{ContextLimits, SubjectLimits};
use crate::auth::context::AuthContext;
use crate::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::ratelimit::RateLimitValues;
use crate::state::AppState;

pub(crate) async fn set_session_limits(
    State(state): State<AppState>,
    ctx: AuthContext,
    JsonBody(req): JsonBody<ContextLimits>,
) -> Result<StatusCode, ApiError> {
    for (name, l) in [
        ("onlineSession", req.online_session),
        ("batchSession", req.batch_session),
    ] {
        if l.max_invoice_size_mb > 5
            || l.max_invoice_with_attachment_size_mb > 10
            || l.max_invoices > 100_000
        {
            return Err(ApiError::validation(format!("{name}: value out of range.")));
        }
    }
    if !(2..=5000).contains(&req.collective_identifier.max_invoices) {
        return Err(ApiError::validation(
            "collectiveIdentifier.maxInvoices must be between 2 and 5000.",
        ));
    }
    state.limits.set_context(&ctx.context_key(), Some(req));
    Ok(StatusCode::OK)
}

pub(crate) async fn reset_session_limits(
    State(state): State<AppState>,
    ctx: AuthContext,
) -> StatusCode {
    state.limits.set_context(&ctx.context_key(), None);
    StatusCode::OK
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SubjectLimitsReq {
    #[serde(default)]
    enrollment: Option<EnrollmentLimit>,
    #[serde(default)]
    certificate: Option<CertificateLimit>,
}
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnrollmentLimit {
    max_enrollments: Option<u32>,
}
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CertificateLimit {
    max_certificates: Option<u32>,
}

pub(crate) async fn set_subject_limits(
    State(state): State<AppState>,
    ctx: AuthContext,
    JsonBody(req): JsonBody<SubjectLimitsReq>,
) -> StatusCode {
    state.limits.set_subject(
        &ctx.subject_key(),
        Some(SubjectLimits {
            max_enrollments: req.enrollment.and_then(|e| e.max_enrollments),
            max_certificates: req.certificate.and_then(|c| c.max_certificates),
        }),
    );
    StatusCode::OK
}

pub(crate) async fn reset_subject_limits(
    State(state): State<AppState>,
    ctx: AuthContext,
) -> StatusCode {
    state.limits.set_subject(&ctx.subject_key(), None);
    StatusCode::OK
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetRateLimitsRequest {
    rate_limits: BTreeMap<String, RateLimitValues>,
}

pub(crate) async fn set_rate_limits(
    State(state): State<AppState>,
    ctx: AuthContext,
    JsonBody(req): JsonBody<SetRateLimitsRequest>,
) -> Result<StatusCode, ApiError> {
    use crate::ops::{OVERRIDABLE_GROUPS, REQUIRED_OVERRIDE_GROUPS};
    if let Some(missing) = REQUIRED_OVERRIDE_GROUPS
        .iter()
        .find(|g| !req.rate_limits.contains_key(**g))
    {
        return Err(ApiError::validation(format!(
            "rateLimits.{missing} is required."
        )));
    }
    // Groups `GET /rate-limits` reports but the override schema lacks (the close groups,
    // anonymous, global) are ignored like any property the schema does not define; a name no
    // group has is refused.
    let groups = crate::ratelimit::default_group_limits();
    if let Some(unknown) = req.rate_limits.keys().find(|g| !groups.contains_key(*g)) {
        return Err(ApiError::validation(format!(
            "rateLimits.{unknown} is not a rate-limit group."
        )));
    }
    let overrides = req
        .rate_limits
        .into_iter()
        .filter(|(g, _)| OVERRIDABLE_GROUPS.contains(&g.as_str()))
        .collect();
    state
        .rate_limiter
        .set_overrides(&ctx.context_key(), overrides);
    Ok(StatusCode::OK)
}

pub(crate) async fn reset_rate_limits(
    State(state): State<AppState>,
    ctx: AuthContext,
) -> StatusCode {
    state.rate_limiter.clear_overrides(&ctx.context_key());
    StatusCode::OK
}

pub(crate) async fn production_rate_limits(
    State(state): State<AppState>,
    ctx: AuthContext,
) -> StatusCode {
    state
        .rate_limiter
        .set_overrides(&ctx.context_key(), crate::ratelimit::default_group_limits());
    StatusCode::OK
}
