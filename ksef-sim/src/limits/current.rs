//! The effective limits of the caller's context and subject.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::store::ContextLimits;
use crate::auth::context::AuthContext;
use crate::ratelimit::RateLimitValues;
use crate::state::AppState;

pub(crate) async fn context(
    State(state): State<AppState>,
    ctx: AuthContext,
) -> Json<ContextLimits> {
    Json(state.limits.context(&ctx.context_key()))
}

pub(crate) async fn subject(State(state): State<AppState>, ctx: AuthContext) -> Json<Value> {
    let (e, c) = state.limits.subject(&ctx.subject_key());
    Json(json!({ "enrollment": { "maxEnrollments": e }, "certificate": { "maxCertificates": c } }))
}

pub(crate) async fn rate_limits(
    State(state): State<AppState>,
    ctx: AuthContext,
) -> Json<BTreeMap<String, RateLimitValues>> {
    Json(state.rate_limiter.effective(&ctx.context_key()))
}
