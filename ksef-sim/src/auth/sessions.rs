//! Active authentication sessions: `GET /auth/sessions`, `DELETE /auth/sessions/current` and
//! `DELETE /auth/sessions/{referenceNumber}` (revoking a session's refresh token).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::context::AuthContext;
use super::store::{operation_json, unknown_operation};
use crate::error::ApiError;
use crate::http::paging::{ContinuationPage, PageSizes};
use crate::identifiers;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageQuery {
    page_size: Option<i64>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    ctx: AuthContext,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let mut ops = state.auth.filter(|o| {
        o.context_type == ctx.context_type
            && o.context_value == ctx.context_value
            && o.redeemed
            && !o.revoked_refresh
    });
    ops.sort_by_key(|o| std::cmp::Reverse(o.start));
    let page = ContinuationPage::read(&headers, q.page_size, PageSizes::new(10, 100, 10))?;
    let (page, next) = page.of(&ops);
    let items: Vec<Value> = page
        .iter()
        .map(|o| {
            let mut v = operation_json(o, state.now());
            if let Some(m) = v.as_object_mut() {
                m.insert("referenceNumber".into(), json!(o.reference));
                m.insert("isCurrent".into(), json!(o.reference == ctx.auth_reference));
            }
            v
        })
        .collect();
    let mut body = json!({ "items": items });
    if let (Some(n), Some(m)) = (next, body.as_object_mut()) {
        m.insert("continuationToken".into(), json!(n));
    }
    Ok(Json(body))
}

fn revoke_refresh(state: &AppState, reference: &str) -> bool {
    state
        .auth
        .update(reference, |o| {
            o.revoked_refresh = true;
        })
        .is_some()
}

pub(crate) async fn revoke_current(State(state): State<AppState>, ctx: AuthContext) -> StatusCode {
    revoke_refresh(&state, &ctx.auth_reference);
    StatusCode::NO_CONTENT
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(reference): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !identifiers::is_reference_number(&reference, None) {
        return Err(ApiError::validation(format!(
            "Invalid reference number '{reference}'."
        )));
    }
    let op = state
        .auth
        .operation(&reference)
        .filter(|o| o.context_type == ctx.context_type && o.context_value == ctx.context_value)
        .ok_or_else(|| unknown_operation(&reference))?;
    revoke_refresh(&state, &op.reference);
    Ok(StatusCode::NO_CONTENT)
}
